"""Model turns (speeches, assistant replies) generated outside any page run.

Streamlit reruns a page on every click and drops it on refresh, so a model turn must never be generated inside a
page run. `SpeechRunner` is one process-wide object: `ensure(transcript_id)` starts whatever model turns the
protocol asks for (at most once per turn in this process), tokens accumulate in `partial()` where the page
polls them, and the finished turn is committed once (`live.add_speech`). After a server restart nothing
is in flight: the next `ensure` starts the missing speech again, and nothing half-written was ever stored.

The turns held at once (waiting for a thread or being written) are bounded (`Settings.model_queue_max`): past the
bound `ensure` starts nothing and marks the transcript `busy`; the page says so and asks again at its next poll.
Room goes to the waiting transcripts first come, first served (a finished turn hands its place to the first one).
The model runs only in this runner's threads: never in a page run, never inside a database transaction.
"""

from __future__ import annotations

import logging
import zlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from oversight import read_cache
from oversight.db import session_scope
from oversight.models import Request, Sampling, Task, get_model, model_for_role
from oversight.models.base import Backend
from oversight.models.errors import ModelError
from oversight.study.monitor import record_model_error
from oversight.protocols import live
from oversight.settings import get_settings
from oversight.vocab import role_label
from storage.models import Strategy

log = logging.getLogger(__name__)
# A turn's length in tokens: generous for the character limit, then the turn is cut to the rules.
CHARS_PER_TOKEN = 3


def model_for(state: live.State, model_role: str) -> Backend:
    """The model a strategy names for a model role, else the configured default for that role."""
    name = state.model_roles.get(model_role)
    return get_model(name) if name else model_for_role(model_role)


def turn_request(state: live.State, role: str, *, temperature: float = 0.0, seed: int | None = None) -> Request:
    """What the model writing `role`'s turn is asked now, as the protocol words it."""
    task = state.protocol.model_task(state, role)
    return Request(task=task, sampling=Sampling(temperature=temperature, seed=seed,
                                                max_new_tokens=max(64, (task.char_limit or 600) // CHARS_PER_TOKEN)))


def best_of(state: live.State, role: str, candidates: list[str]) -> str:
    """The candidate the judge finds most convincing for the speaker's own side (Khan et al. 2024): each candidate
    is read after what the speaker saw so far, as the judge would read it, and the one that gives the speaker's
    answer the highest probability is kept (the first of equals)."""
    judge = model_for(state, "judge")
    side = state.order.index(state.answer_of(role))
    options = tuple(state.options[i] for i in state.order)
    said = state.protocol.model_task(state, role).transcript
    label = f'{role_label(role)} (arguing for "{options[side]}")'

    def support(text: str) -> float:
        task = Task(role="judge", question=state.question, options=options, transcript=(*said, (label, text)))
        return judge.score_choices(Request(task=task), list(options))[side]

    return max(candidates, key=support)


def speaker_view(state: live.State, role: str) -> live.State:
    """The state as `role`'s speaker plays it: in a cross-play match a speaker plays with its own strategy
    version's speaker settings (best-of-N, the model and prompt of its model role); the match's rules (rounds,
    limits) and judge stay the transcript's."""
    version = next((sp.version for sp in state.speakers if sp.role == role), None)
    if version is None or version == state.strategy_id:
        return state
    with session_scope(write=False) as s:
        own = read_cache.row(s, Strategy, version)
    model_role = state.protocol.model_role(role)
    rules = state.protocol.parse_rules(own.rules)
    roles = {**state.model_roles, model_role: own.model_roles.get(model_role)}
    return replace(state, rules=replace(state.rules, best_of_n=getattr(rules, "best_of_n", 1)),
                   model_roles={k: v for k, v in roles.items() if v},
                   prompts={**state.prompts, model_role: own.prompts.get(model_role, {})})


def generate_turn(state: live.State, role: str, on_delta=None) -> tuple[str, str, int, float]:
    """Generate one model turn under the rules; returns (text, model name, tokens, seconds). Best-of-N samples its
    candidates with seeds of this transcript and turn, so a rerun writes the same speech."""
    state = speaker_view(state, role)
    model = model_for(state, state.protocol.model_role(role))
    started = time.perf_counter()
    n = getattr(state.rules, "best_of_n", 1)
    if n > 1:
        base = seed_of(state, role)
        requests = [turn_request(state, role, temperature=0.8, seed=base + i) for i in range(n)]
        done = model.complete(requests)
        text = best_of(state, role, [state.protocol.finish_text(state.rules, role, c.text) for c in done])
        tokens = sum(c.tokens for c in done)
        if on_delta:
            on_delta(text)
    else:
        parts: list[str] = []
        for delta in model.stream(turn_request(state, role)):
            parts.append(delta)
            if on_delta:
                on_delta(delta)
        text, tokens = "".join(parts), len(parts)
    rounds = getattr(state.rules, "critique_rounds", 0)
    if rounds:
        from oversight.rlaif.critique import CritiqueRevision, revise_after

        strategy = CritiqueRevision(principles=state.rules.principles, rounds=rounds, seed=seed_of(state, role))
        text = revise_after(model, strategy, turn_request(state, role).chat(), text).final
    text = state.protocol.finish_text(state.rules, role, text)
    return text, model.name, tokens, time.perf_counter() - started


def seed_of(state: live.State, role: str) -> int:
    """A seed per transcript and turn, so the principles a turn is critiqued against are reproducible."""
    return zlib.crc32(f"{state.transcript_id}:{state.step.round}:{role}".encode())


@dataclass
class Partial:
    text: str = ""
    error: str | None = None


# A transcript waiting for room that has not asked again for this long has left the line (its participant closed
# the page; pages ask every 0.5 s): it must not hold up the people behind it. It rejoins at the end when it asks.
LEFT_THE_LINE_S = 5.0


class SpeechRunner:
    def __init__(self, max_workers: int = 8, max_queued: int | None = None):
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="speech")
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # a speech was stored or failed
        self._partial: dict[tuple[int, int, str], Partial] = {}
        self._max_queued = get_settings().model_queue_max if max_queued is None else max_queued
        # Transcripts whose turns are owed but found no room, in the order they first asked (first come, first
        # served), with when each last asked.
        self._waiting: dict[int, float] = {}
        self._read_ahead: set[int] = set()  # studies whose sources this process's speakers have read ahead

    def ensure(self, transcript_id: int) -> list[str]:
        """Start the model turns the protocol is waiting for; returns the roles now being written (none while
        the queue is full or others wait ahead: then `busy(transcript_id)` is True until a later call gets in)."""
        return self.start(live.load_state(transcript_id))

    def start(self, state: live.State) -> list[str]:
        """`ensure` for a state the caller has just loaded (a page poll reads it anyway)."""
        step, transcript_id = state.step, state.transcript_id
        new: list[tuple[tuple[int, int, str], Partial]] = []
        with self._lock:
            if step.kind != "speeches":
                self._waiting.pop(transcript_id, None)
                return []
            # One run per speech: one in flight, or one that failed and waits for `retry` (a failure is shown to
            # the judge, not silently retried in a loop).
            owed = [(transcript_id, step.round, role) for role in step.roles
                    if (transcript_id, step.round, role) not in self._partial]
            if owed:
                now = time.monotonic()
                for tid in [t for t, asked in self._waiting.items() if now - asked > LEFT_THE_LINE_S]:
                    del self._waiting[tid]
                in_flight = sum(p.error is None for p in self._partial.values())
                first = next(iter(self._waiting), transcript_id)
                if in_flight >= self._max_queued or first != transcript_id:
                    self._waiting[transcript_id] = now  # keeps its place if it was already waiting
                    return [role for role in step.roles if (transcript_id, step.round, role) in self._partial]
                self._waiting.pop(transcript_id, None)
                for key in owed:
                    new.append((key, Partial()))
                    self._partial[key] = new[-1][1]
        for key, mine in new:
            self._pool.submit(self._run, key, mine)
        if new and step.round == 1 and state.study_id is not None:
            with self._lock:
                first_here = state.study_id not in self._read_ahead
                self._read_ahead.add(state.study_id)
            if first_here:
                self._pool.submit(self._read_study_ahead, state, step.roles[0])
        return list(step.roles)

    def _read_study_ahead(self, state: live.State, role: str) -> None:
        """When a study's first debate starts in this process, its speakers read the study's other sources in the
        background (the extractive model encodes them), so the next people's first speeches do not each wait for
        a story's first reading while everyone else's pages compete for the same CPU."""
        try:
            model = model_for(state, state.protocol.model_role(role))
            sources = live.study_sources(state.study_id)
        except Exception:  # noqa: BLE001 - reading ahead is an optimisation: a speech reads its source anyway
            log.exception("reading ahead for transcript %s failed", state.transcript_id)
            return
        # A thread of its own, not a speech worker: a long story list must never hold up a speech.
        threading.Thread(target=_read_ahead, args=(model, sources), name="read-ahead", daemon=True).start()

    def busy(self, transcript_id: int) -> bool:
        """True when this transcript's turns are owed but wait for room in the model queue: the page shows "the
        model is busy" and calls `start` again at its next poll."""
        with self._lock:
            return transcript_id in self._waiting

    def partial(self, transcript_id: int, round_: int | None = None) -> dict[str, Partial]:
        """Text so far (or the error) of the speeches being written for this transcript, by role; only those of
        `round_` when given."""
        with self._lock:
            return {role: Partial(p.text, p.error) for (tid, r, role), p in self._partial.items()
                    if tid == transcript_id and round_ in (None, r)}

    def wait(self, transcript_id: int, round_: int, timeout_s: float) -> bool:
        """Wait up to `timeout_s` for this round's speeches in flight to be stored; True when none is left in
        flight (stored, or failed: the page shows the error). A page that waits a moment for a fast model shows
        its speech at once instead of at its next poll."""
        def in_flight() -> bool:
            return any(tid == transcript_id and r == round_ and p.error is None
                       for (tid, r, _), p in self._partial.items())

        with self._changed:
            return self._changed.wait_for(lambda: not in_flight(), timeout=timeout_s)

    def retry(self, transcript_id: int) -> None:
        """Forget failed turns so that the next `ensure` tries them again."""
        with self._lock:
            for key in [k for k, p in self._partial.items() if k[0] == transcript_id and p.error]:
                del self._partial[key]
        self.ensure(transcript_id)

    def _run(self, key: tuple[int, int, str], mine: Partial) -> None:
        """Generate and store one speech; `mine` is this run's own record (text so far, error)."""
        transcript_id, round_, role = key
        try:
            state = live.load_state(transcript_id)

            def on_delta(delta: str) -> None:
                with self._lock:
                    mine.text += delta

            text, model, tokens, seconds = generate_turn(state, role, on_delta)
            live.add_speech(transcript_id=transcript_id, round_=round_, role=role, text=text, model=model,
                            tokens=tokens, latency_s=seconds, state=state)
        except Exception as exc:  # noqa: BLE001 - a failed turn must not kill the worker thread
            # The study goes on: the page shows the message and offers a retry; the Monitor lists the failure.
            error = str(exc) if isinstance(exc, ModelError) else f"the model failed: {exc}"
            if not isinstance(exc, ModelError):
                log.exception("speech generation failed for %s", key)
            record_model_error(transcript_id=transcript_id, role=role, error=error)
            with self._changed:
                mine.error = error
                self._changed.notify_all()
            return
        with self._changed:
            if self._partial.get(key) is mine:
                del self._partial[key]
            self._changed.notify_all()
        # Sequential rounds: the next speaker starts as soon as this one is stored, without waiting for a page;
        # and the first transcript waiting for room gets this one's place now rather than at its next poll.
        self.ensure(transcript_id)
        with self._lock:
            first = next(iter(self._waiting), None)
        if first is not None:
            self.ensure(first)

    def run_until_judge(self, transcript_id: int, timeout_s: float = 600) -> None:
        """Synchronously generate every model turn up to the next step of the judge (batch runs, CLI, tests)."""
        deadline = time.monotonic() + timeout_s
        while (state := live.load_state(transcript_id)).step.kind == "speeches":
            self.start(state)
            errors = [p.error for p in self.partial(transcript_id, state.step.round).values() if p.error]
            if errors:
                raise ModelError(errors[0])
            if time.monotonic() > deadline:
                raise ModelError("speech generation timed out")
            time.sleep(0.25 if self.busy(transcript_id) else 0.02)


def _read_ahead(model: Backend, sources: list[str]) -> None:
    try:
        model.read_ahead(sources)
    except Exception:  # noqa: BLE001 - as above: the speeches read what they need themselves
        log.exception("reading ahead with model %s failed", model.name)


_runner: SpeechRunner | None = None
_runner_lock = threading.Lock()


def get_runner() -> SpeechRunner:
    """The process-wide runner (pages, batch jobs and the CLI share it)."""
    global _runner
    with _runner_lock:
        if _runner is None:
            _runner = SpeechRunner()
        return _runner
