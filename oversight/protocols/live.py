"""Live transcripts of every protocol, backed by the database.

The protocol decides what may happen (its `next_step` over the history); this module loads a transcript's
history, stores what happened, and builds the judge's view. Every turn and every judge report is committed the
moment it exists.

Turns are a sequence: `Turn.position` orders a transcript's turns (0, 1, 2 …) and `Turn.slot` ("round:role")
names the place a live turn fills. Both are unique per transcript in the database, so a turn generated twice
(two tabs, two processes, a restart mid-generation) or a report sent from two tabs is stored once: the second
insert fails on the slot and is told so. Appending takes a row lock on the transcript (PostgreSQL; SQLite
writers are serialised by BEGIN IMMEDIATE), so positions never collide.

Display order: when the rules randomise answer order, the transcript records a permutation `order`; the judge
sees option `order[i]` in position i, and debater A always argues the first displayed answer. Judge
probabilities are stored in the item's own option order.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import bindparam, func, insert, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from oversight.audit import log_event
from oversight import read_cache
from oversight.db import memo, session_scope
from storage.db import column_values
from oversight.protocols.base import (
    ItemFacts, Protocol, Report, RuleViolation, Rules, Speaker, Step, TurnRecord,
)
from oversight.protocols.state import State
from oversight.protocols.engine import check_report
from oversight.protocols.registry import get_protocol
from oversight.protocols.scoring import judge_score
from oversight.protocols.quotes import check_quotes
from oversight.vocab import OWN_JUDGE_KINDS, chosen_option, refuse_person_answer, role_label
from storage.models import Assignment, Item, ItemGold, Judgment, Strategy, Transcript, Turn, utcnow


def speakers_from_meta(meta: dict) -> tuple[Speaker, ...]:
    """Who argues what, from a transcript's meta. meta["roles"] has the same shape in live and imported
    transcripts: role -> {"argues": item option index, ...}; a cross-play speaker also names its "version"."""
    roles = meta.get("roles", {})
    return tuple(Speaker(r, roles[r]["argues"], roles[r].get("version")) for r in roles
                 if isinstance(roles[r], dict) and "argues" in roles[r])


def item_facts(s, item: Item, gold: ItemGold | None = None) -> ItemFacts:
    """`gold`: the item's gold row when the caller has read it already (None: asked here)."""
    return facts_of(item, (gold or s.get(ItemGold, item.id)) is not None)


def facts_of(item, has_gold: bool) -> ItemFacts:
    return ItemFacts(len(item.options), bool(item.source_text), has_gold)


def start_transcript(*, item_id: int, strategy_id: int, assignment_id: int | None = None,
                     tags: list[str] | None = None, seed: int | None = None) -> int:
    """Create the transcript for an item under a strategy; one per assignment (a unique column), so two tabs
    opening the same task at once get the same transcript."""
    if assignment_id is not None and (existing := _transcript_of(assignment_id)) is not None:
        return existing
    try:
        with session_scope() as s:
            return create_transcript(s, item=s.get(Item, item_id), strategy=s.get(Strategy, strategy_id),
                                     assignment_id=assignment_id, tags=tags, seed=seed).id
    except IntegrityError:
        if assignment_id is not None and (existing := _transcript_of(assignment_id)) is not None:
            return existing  # another request created it first
        raise


class NewTranscript(NamedTuple):
    """A live transcript as created (the columns a page run reads), without reading it back."""
    id: int
    study_id: int
    item_id: int
    strategy_id: int
    assignment_id: int | None
    status: str
    meta: dict
    created_at: datetime


def plan_transcript(*, item, strategy, gold: ItemGold | None, assignment_id: int | None = None,
                    tags: list[str] | None = None, seed: int | None = None) -> dict:
    """The row of `item`'s live transcript under `strategy` (rows or read_cache snapshots), `gold` its gold row
    or None: the display order and who argues what, drawn from `seed`. No database work, so a caller can plan it
    before its write transaction. Refused (RuleViolation) where the protocol cannot run on the item."""
    protocol = get_protocol(strategy.protocol)
    rules = protocol.parse_rules(strategy.rules)
    why_not = protocol.cannot_run(facts_of(item, gold is not None), rules)
    if why_not:
        raise RuleViolation(f"{protocol.label} {why_not}")
    rng = random.Random(seed)
    order = list(range(len(item.options)))
    if rules.randomise_answer_order:
        rng.shuffle(order)
    correct = gold.gold_index if gold else None
    roles = {sp.role: {"argues": sp.answer_index, "honest": sp.answer_index == correct}
             for sp in protocol.speakers(rules, order=order, correct_index=correct, rng=rng)}
    return column_values(Transcript, study_id=item.study_id, item_id=item.id, strategy_id=strategy.id,
                         assignment_id=assignment_id, protocol=protocol.name, origin="live", status="open",
                         tags=tags or [], meta={"order": order, "roles": roles})


_INSERT_TRANSCRIPT = insert(Transcript.__table__)


def insert_transcript(s, planned: dict) -> NewTranscript:
    """Store a planned transcript (plan_transcript) in the caller's write session `s`, one Core insert: a caller
    that stores more in the same transaction (the task's start time) writes once. A second transcript for the
    same assignment fails on its unique column (IntegrityError)."""
    new_id = s.connection().execute(_INSERT_TRANSCRIPT, planned).inserted_primary_key[0]
    return NewTranscript(new_id, planned["study_id"], planned["item_id"], planned["strategy_id"],
                         planned["assignment_id"], planned["status"], planned["meta"], planned["created_at"])


def create_transcript(s, *, item, strategy, assignment_id: int | None = None, tags: list[str] | None = None,
                      seed: int | None = None) -> NewTranscript:
    """plan_transcript and insert_transcript in write session `s`, reading the item's gold there."""
    return insert_transcript(s, plan_transcript(item=item, strategy=strategy, gold=s.get(ItemGold, item.id),
                                                assignment_id=assignment_id, tags=tags, seed=seed))


def _transcript_of(assignment_id: int) -> int | None:
    with session_scope(write=False) as s:
        return s.exec(select(Transcript.id).where(Transcript.assignment_id == assignment_id)).first()


def in_round_order(turns: list, speakers) -> list:
    """Turns by round, and within a round in speaking order: a round's simultaneous speeches are stored in the
    order they finished, but everyone reads debater A before debater B. The judge's note closes its round; other
    roles that are not speakers (a participant's message in a chat) open it. The sort is stable."""
    rank = {sp.role: i for i, sp in enumerate(speakers)} | {"judge": len(speakers)}
    return sorted(turns, key=lambda t: (t.round, rank.get(t.role, -1)))


# The reads of every page run and speech, built once: constructing a select (coercing its columns) cost more
# than running it. They return plain rows (attribute access, no ORM instance to build): pages only read them.
_TRANSCRIPT = select(*(Transcript.__table__.c[name] for name in (
    "id", "study_id", "item_id", "strategy_id", "assignment_id", "status", "meta", "created_at"))
).where(Transcript.__table__.c.id == bindparam("tid"))
_TURNS = select(*(Turn.__table__.c[name] for name in ("round", "role", "text", "quotes", "position", "created_at"))
                ).where(Turn.__table__.c.transcript_id == bindparam("tid")).order_by(Turn.__table__.c.position)
_JUDGMENTS = select(*(Judgment.__table__.c[name] for name in ("round", "probabilities", "rationale", "is_final"))
                    ).where(Judgment.__table__.c.transcript_id == bindparam("tid"),
                            Judgment.__table__.c.judge_kind.in_(OWN_JUDGE_KINDS)
                            ).order_by(Judgment.__table__.c.round, Judgment.__table__.c.id)


def _transcript(s, transcript_id: int):
    """A transcript's row (the columns a live page needs) or None; read once per page run."""
    return memo(s, ("transcript", transcript_id),
                lambda: s.connection().execute(_TRANSCRIPT, {"tid": transcript_id}).first())


def _turns(s, transcript_id: int) -> list:
    """A transcript's turns in order (rows: round, role, text, quotes, position, created_at); read once per page
    run (load_state and judge_view both need them)."""
    return memo(s, ("turns", transcript_id),
                lambda: s.connection().execute(_TURNS, {"tid": transcript_id}).all())


def _judgments(s, transcript_id: int) -> list:
    """The judge's reports on a transcript (its own judge kinds), in order; read once per page run."""
    return memo(s, ("judgments", transcript_id),
                lambda: s.connection().execute(_JUDGMENTS, {"tid": transcript_id}).all())


def new_transcript_reads(transcript: NewTranscript) -> dict:
    """The memo values of a transcript just created (its row, no turns, no reports), for `oversight.db.carry`."""
    return {("transcript", transcript.id): transcript, ("turns", transcript.id): [],
            ("judgments", transcript.id): []}


def load_state(transcript_id: int, *, fresh: bool = False) -> State:
    """`fresh`: see turns stored by other threads during this page run (oversight.db.run_reads)."""
    with session_scope(write=False, fresh=fresh) as s:
        t = _transcript(s, transcript_id)
        if t is None or t.strategy_id is None:
            raise RuleViolation(f"no live transcript with id {transcript_id}")
        strategy = read_cache.row(s, Strategy, t.strategy_id)
        item = read_cache.row(s, Item, t.item_id)
        turns = _turns(s, t.id)
        judgments = _judgments(s, t.id)
        protocol = get_protocol(strategy.protocol)
        order = t.meta.get("order") or list(range(len(item.options)))
        speakers = speakers_from_meta(t.meta)
        return State(
            t.id, strategy.id, protocol, protocol.parse_rules(strategy.rules), dict(strategy.model_roles),
            dict(strategy.prompts), item.question, list(item.options), order, item.source_text,
            speakers, [TurnRecord(x.round, x.role, x.text) for x in in_round_order(turns, speakers) if x.role != "judge"],
            [Report(j.round, tuple(j.probabilities), j.rationale, j.is_final) for j in judgments],
            {x.round: x.text for x in turns if x.role == "judge" and x.text}, (utcnow() - t.created_at).total_seconds(),
            t.status, t.study_id)


def _locked(s, transcript_id: int) -> Transcript:
    """The transcript, its row locked: the lock serialises appends to one transcript on PostgreSQL (SQLite
    writers are serialised already)."""
    return s.exec(select(Transcript).where(Transcript.id == transcript_id).with_for_update()).one()


_MAX_POSITION = select(func.coalesce(func.max(Turn.__table__.c.position), -1)).where(
    Turn.__table__.c.transcript_id == bindparam("tid"))


_LOCK_STATUS = select(Transcript.__table__.c.status).where(Transcript.__table__.c.id == bindparam("tid")
                                                           ).with_for_update()


# The statements of a judge's report (submit_report), built once: they run inside the one writer's turn.
_TRANSCRIPT_COLUMNS = Transcript.__table__.c
_LOCK_TRANSCRIPT = select(_TRANSCRIPT_COLUMNS.id, _TRANSCRIPT_COLUMNS.item_id, _TRANSCRIPT_COLUMNS.assignment_id,
                          _TRANSCRIPT_COLUMNS.study_id, _TRANSCRIPT_COLUMNS.meta, _TRANSCRIPT_COLUMNS.created_at
                          ).where(_TRANSCRIPT_COLUMNS.id == bindparam("tid")).with_for_update()
_LAST_TURN = select(Turn.__table__.c.created_at, Turn.__table__.c.position).where(
    Turn.__table__.c.transcript_id == bindparam("tid")).order_by(Turn.__table__.c.position.desc()).limit(1)
_INSERT_JUDGMENT = insert(Judgment.__table__)
_CLOSE_TRANSCRIPT = update(Transcript.__table__).where(_TRANSCRIPT_COLUMNS.id == bindparam("tid")).values(
    status="complete", meta=bindparam("meta"))
_FINISH_ASSIGNMENT = update(Assignment.__table__).where(Assignment.__table__.c.id == bindparam("aid")).values(
    state="done", completed_at=bindparam("now"))


def _next_position(s, transcript_id: int) -> int:
    """The position after a transcript's last turn; in a write session holding the transcript's row lock."""
    return s.connection().execute(_MAX_POSITION, {"tid": transcript_id}).scalar_one() + 1


_INSERT_TURN = insert(Turn.__table__)


def _append(s, transcript_id: int, *, round_: int, role: str, label: str, text: str = "",
            position: int | None = None, quotes: list[dict] | None = None, model: str | None = None,
            tokens: int | None = None, latency_ms: float | None = None) -> None:
    """Add a turn at the end of the transcript in session `s`; its slot ("round:role") is unique, so a second
    insert of the same turn fails with IntegrityError. `position`: the next position, from a caller that holds
    the transcript's row lock (`_locked`) and has read it. A Core insert with every column given: it runs inside
    the one writer's turn, where building and flushing an ORM object cost more than the insert itself."""
    if position is None:
        _locked(s, transcript_id)
        position = _next_position(s, transcript_id)
    s.connection().execute(_INSERT_TURN, {
        "transcript_id": transcript_id, "position": position, "slot": f"{round_}:{role}", "round": round_,
        "role": role, "speaker": label, "text": text, "quotes": quotes or [], "model": model, "tokens": tokens,
        "latency_ms": latency_ms, "created_at": utcnow()})


def add_speech(*, transcript_id: int, round_: int, role: str, text: str, model: str | None = None,
               tokens: int | None = None, latency_s: float | None = None, state: State | None = None) -> bool:
    """Store a model's turn if the protocol expects it now; False when it was stored already (or its transcript
    closed meanwhile). `state`: the transcript as the speaker read it before writing (the speech runner), so it
    is not read again; a turn stored since then fails on its slot, a transcript closed since then is checked
    under the row lock."""
    if state is None:
        state = load_state(transcript_id)
    if any(t.round == round_ and t.role == role for t in state.turns):
        return False
    step = state.step
    if step.kind != "speeches" or role not in step.roles or step.round != round_:
        raise RuleViolation(f"it is not {role_label(role)}'s turn in round {round_}")
    quotes = [q.__dict__ for q in check_quotes(text, state.source or "")]
    try:
        with session_scope() as s:
            if s.connection().execute(_LOCK_STATUS, {"tid": transcript_id}).scalar_one() != "open":
                return False  # timed out while the model wrote
            _append(s, transcript_id, round_=round_, role=role, label=role_label(role), text=text, quotes=quotes,
                    model=model, tokens=tokens, latency_ms=None if latency_s is None else latency_s * 1000,
                    position=_next_position(s, transcript_id))
    except IntegrityError:
        return False  # another run stored this turn first; the first one stands
    return True


def send_message(*, transcript_id: int, text: str, user_id: int | None = None, speaker: str = "") -> int:
    """Store the participant's chat message (the assistant's reply is then written by the runner); returns its
    round. Refused, with the reason, where the rules do not allow a message now."""
    state = load_state(transcript_id)
    step = state.step
    if step.kind == "expired":
        raise RuleViolation("Time ran out for this question.")
    text = state.protocol.check_message(state.rules, step, text)
    try:
        with session_scope() as s:
            _append(s, transcript_id, round_=step.round, role="participant", label=speaker or "Participant",
                    text=text)
            log_event(s, "chat.message", user_id=user_id, transcript=transcript_id, round=step.round)
    except IntegrityError:
        raise RuleViolation("That message was already sent from another tab.") from None
    return step.round


def restart_chat(*, transcript_id: int, user_id: int | None = None) -> None:
    """Start the chat over: the assistant forgets earlier messages, which stay in the transcript."""
    state = load_state(transcript_id)
    step = state.step
    state.protocol.check_restart(state.rules, step)
    if not state.protocol.chat_since_restart(state.turns):
        return  # nothing to forget
    try:
        with session_scope() as s:
            _append(s, transcript_id, round_=step.round, role="restart", label=role_label("restart"))
            log_event(s, "chat.restart", user_id=user_id, transcript=transcript_id, round=step.round)
    except IntegrityError:
        pass  # started over from another tab already


def submit_report(*, transcript_id: int, round_: int, display_probabilities: list[float], note: str = "",
                  end: bool = False, judge_id: int | None = None, judge_name: str = "", judge_kind: str = "human",
                  rationale: str = "", answer_form: str | None = None) -> Report:
    """Store a judge's report for `round_` at once; the last one (or one that ends) is final. A person's final
    answer must choose one option (no tie at the top). `answer_form`: the form a person's report came from
    (vocab.ANSWER_FORMS; None for a model's)."""
    state = load_state(transcript_id)
    step = state.step
    if step.kind == "expired":
        expire(transcript_id=transcript_id)
        raise RuleViolation("Time ran out for this question, so this answer could not be recorded.")
    if step.kind == "done":
        raise RuleViolation("this task has already been decided")
    report = check_report(step, Report(round_, tuple(state.to_item_order(display_probabilities)), note, end),
                          len(state.options))
    note, rationale = note.strip(), rationale.strip()
    if judge_kind == "human" and (report.end or answer_form is not None) and \
            (why := refuse_person_answer(report.probabilities, answer_form)):
        raise RuleViolation(why)
    if report.end and judge_kind == "human" and state.rules.require_rationale and not rationale:
        raise RuleViolation("Please say briefly why, before you give your final answer.")
    try:
        with session_scope() as s:
            t = s.connection().execute(_LOCK_TRANSCRIPT, {"tid": transcript_id}).one()
            # The judge's time on this report: since the last thing they were shown (a turn or their last report).
            last = s.connection().execute(_LAST_TURN, {"tid": transcript_id}).first()
            shown = last.created_at if last else t.created_at
            # The judge turn's slot is unique: a second submission of the same round (another tab) fails here.
            _append(s, transcript_id, round_=round_, role="judge", label=judge_name or "Judge", text=note,
                    position=last.position + 1 if last else 0)
            s.connection().execute(_INSERT_JUDGMENT, column_values(
                Judgment, item_id=t.item_id, transcript_id=t.id, assignment_id=t.assignment_id, judge_id=judge_id,
                judge_kind=judge_kind, judge_name=judge_name, round=round_, probabilities=list(report.probabilities),
                answer_index=chosen_option(report.probabilities),
                rationale=(rationale or note) if report.end else note,
                seconds=(utcnow() - shown).total_seconds(), is_final=report.end,
                answer_form=answer_form if judge_kind == "human" else None))
            if report.end:
                s.connection().execute(_CLOSE_TRANSCRIPT, {"tid": t.id, "meta": {**t.meta, "rounds": round_}})
                if t.assignment_id is not None:
                    s.connection().execute(_FINISH_ASSIGNMENT, {"aid": t.assignment_id, "now": utcnow()})
            log_event(s, "judge.report", user_id=judge_id, study_id=t.study_id, transcript=t.id, round=round_,
                      final=report.end)
    except IntegrityError:
        # Another tab (or a double click) stored this round's report first; the first one stands.
        raise RuleViolation(f"Your answer for round {round_} was already submitted (in another tab?).") from None
    return report


def expire(*, transcript_id: int) -> None:
    """Close a transcript whose time ran out without a final answer: it is kept as `timed-out` and its task is
    skipped, so the participant moves on. Idempotent."""
    with session_scope() as s:
        t = s.get(Transcript, transcript_id)
        if t.status != "open":
            return
        t.status = "timed-out"
        if t.assignment_id is not None:
            a = s.get(Assignment, t.assignment_id)
            if a.state != "done":
                a.state, a.completed_at = "skipped", utcnow()
        log_event(s, "transcript.timed_out", study_id=t.study_id, transcript=t.id)


@dataclass(frozen=True)
class TurnView:
    round: int
    role: str
    label: str
    answer_position: int | None  # the displayed answer this speaker argues for (None: it argues none)
    text: str
    quotes: list[dict]


@dataclass(frozen=True)
class Outcome:
    correct_position: int
    probability_correct: float
    score: float


@dataclass(frozen=True)
class JudgeView:
    """Everything the judge may see: never the gold answer before the end, the source only where the rules
    show it to the judge."""

    transcript_id: int
    protocol: Protocol
    question: str
    options: list[str]  # display order
    rules: Rules
    step: Step
    turns: list[TurnView]  # only those the protocol reveals now
    reports: list[tuple[int, list[float], str]]  # round, display-order probabilities, note
    outcome: Outcome | None  # after the end, when the rules give feedback
    seconds_left: float | None = None  # under a total time limit
    source: str | None = None  # where the rules show it to the participant now

    @property
    def first_answer(self) -> list[float] | None:
        """The answer given before the model helped (assisted QA, answer-first rules)."""
        return next((probs for rnd, probs, _ in self.reports if rnd == 0), None)


def is_attention_check(s, transcript) -> bool:
    """Whether this transcript answers a catch item. Its gold is never shown, whatever the strategy's
    `feedback_after_judging` says: a catch item runs under the alone condition's direct-QA strategy so that it looks
    like the real tasks, and an answer shown after it would teach the participant the check (and tell it apart)."""
    if transcript.assignment_id is not None:
        assignment = s.get(Assignment, transcript.assignment_id)
        if assignment is not None and assignment.catch:
            return True
    return read_cache.row(s, Item, transcript.item_id).split == "catch"


def judge_view(transcript_id: int) -> JudgeView:
    state = load_state(transcript_id)
    step = state.step
    with session_scope(write=False) as s:
        stored = [x for x in _turns(s, transcript_id) if x.role != "judge"]
        gold = None
        if step.kind == "done" and state.rules.feedback_after_judging:
            transcript = _transcript(s, transcript_id)
            if not is_attention_check(s, transcript):
                gold = s.get(ItemGold, transcript.item_id)
    visible = state.protocol.visible_turns(step, state.turns)
    shown = {(t.round, t.role) for t in visible}
    argues = {sp.role: state.order.index(sp.answer_index) for sp in state.speakers}
    views = [TurnView(x.round, x.role, role_label(x.role), argues.get(x.role), x.text, x.quotes)
             for x in in_round_order(stored, state.speakers) if (x.round, x.role) in shown]
    reports = [(r.round, state.to_display_order(r.probabilities), state.notes.get(r.round, "")) for r in state.reports]
    outcome = None
    if gold is not None and state.reports:
        final = state.reports[-1]
        outcome = Outcome(state.order.index(gold.gold_index), final.probabilities[gold.gold_index],
                          judge_score(probabilities=list(final.probabilities), correct_index=gold.gold_index,
                                      rule=state.rules.scoring,
                                      turns=state.protocol.penalised_turns(state.turns, state.reports),
                                      penalty=state.rules.turn_penalty))
    limit = state.rules.total_time_limit_s
    source = state.source if state.protocol.source_visible(state.rules, state.elapsed_s) else None
    return JudgeView(transcript_id, state.protocol, state.question, [state.options[i] for i in state.order],
                     state.rules, step, views, reports, outcome,
                     max(0.0, limit - state.elapsed_s) if limit else None, source)


# Fewer than the extractive model's 64 cached sources: reading ahead never pushes out a story being argued.
READ_AHEAD_SOURCES = 48


def study_sources(study_id: int, limit: int = READ_AHEAD_SOURCES) -> list[str]:
    """The distinct source texts of a study's items, first imported first: what its speakers will read."""
    with session_scope(write=False) as s:
        texts = s.exec(select(Item.source_text).where(Item.of_study(study_id), Item.source_text != None)  # noqa: E711
                       .order_by(Item.id).limit(limit * 4)).all()
    return list(dict.fromkeys(texts))[:limit]
