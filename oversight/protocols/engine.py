"""The round engine that debate, consultancy, direct QA and model alone share: pure functions over a
transcript's history. No I/O, no models, no clock.

Rounds are numbered from 1. Each round is a speech phase (none when the protocol has no speakers) and a judge
phase. The first round's speeches are simultaneous; later rounds follow `rules.speeches`. The judge sees a
round's speeches only when all of them are in (they are revealed together). `check_report` refuses a report
the step does not allow; `enforce_limits` cuts a model's speech to the rules.
"""

from __future__ import annotations

from dataclasses import dataclass

from oversight.models.types import Task
from oversight.protocols.prompts import check_prompt

from oversight.protocols.base import (
    MODELS, REPORT, ItemFacts, ModelTurnRules, Protocol, Report, RuleViolation, Speaker, Step, TurnRecord, rule,
)
from oversight.protocols.state import State
from oversight.protocols.quotes import QUOTE_RE
from oversight.vocab import role_label


@dataclass(frozen=True)
class RoundRules(ModelTurnRules):
    rounds: int = rule(3, "Rounds (the judge must end by this one)", min=1, max=20)
    judge_may_end_early: bool = rule(True, "Judge may end early")


@dataclass(frozen=True)
class SpeechRules(RoundRules):
    """Rules of protocols whose models speak in rounds (debate, consultancy)."""

    speeches: str = rule("simultaneous", "Speeches after round 1", "The first round is always simultaneous.",
                         choices=("simultaneous", "sequential"))
    char_limit: int = rule(750, "Characters per speech", min=50, max=20_000)
    quote_limit: int = rule(250, "Quoted characters per speech", min=0, max=20_000)
    judge_questions: bool = rule(False, "Judge may write questions between rounds")
    best_of_n: int = rule(1, "Best-of-N speeches (AI speakers)",
                          "N candidates per speech; the judge model picks the most convincing.", min=1, max=16)

    def validate(self) -> None:
        super().validate()
        if self.quote_limit > self.char_limit:
            self.fail("quote_limit", "must be between 0 and char_limit")


def round_step(rules: RoundRules, speakers: tuple[Speaker, ...], turns: list[TurnRecord], reports: list[Report],
               *, time_up: bool = False, sequential: bool = False) -> Step:
    """What must happen now in a round-based protocol. `time_up`: the total time limit has passed, so the judge
    must decide now. `sequential`: speeches after round 1 are given one speaker at a time."""
    if reports and reports[-1].end:
        return Step("done", reports[-1].round)
    rnd = len(reports) + 1
    if rnd > rules.rounds:  # cannot happen through check_report; guards hand-edited histories
        return Step("done", rules.rounds)
    if time_up:
        return Step("judge", rnd, may_end=True, must_end=True)
    if speakers:
        spoken = {t.role for t in turns if t.round == rnd}
        waiting = [sp.role for sp in speakers if sp.role not in spoken]
        if waiting:
            if rnd > 1 and sequential:
                return Step("speeches", rnd, (waiting[0],))
            return Step("speeches", rnd, tuple(waiting))
    last = rnd == rules.rounds
    return Step("judge", rnd, may_end=last or rules.judge_may_end_early, must_end=last)


class SpeechProtocol(Protocol):
    """A protocol whose models (who read the source) speak in rounds before each judgment."""

    rules_class = SpeechRules
    bot_moves = {"speeches": MODELS, "judge": REPORT}

    def cannot_run(self, item: ItemFacts, rules: SpeechRules) -> str | None:
        if not item.has_source:
            return "needs the item's source text (the speakers quote it)"
        return super().cannot_run(item, rules)

    def next_step(self, rules: SpeechRules, speakers: tuple[Speaker, ...], turns: list[TurnRecord],
                  reports: list[Report], *, time_up: bool) -> Step:
        return round_step(rules, speakers, turns, reports, time_up=time_up,
                          sequential=rules.speeches == "sequential")

    def model_task(self, state: State, role: str) -> Task:
        """What a speaker is asked: the source, the question, the side it argues, and what was said so far."""
        now = state.step.round
        rules: SpeechRules = state.rules
        said = []
        for turn in state.turns:  # stored in round order, A before B
            # Others' speeches of the current round are visible only in sequential rounds.
            sequential_now = turn.round == now > 1 and rules.speeches == "sequential"
            if turn.round < now or (sequential_now and turn.role != role):
                said.append((role_label(turn.role), turn.text))
            last_of_round = turn.role == state.speakers[-1].role
            if last_of_round and turn.round < now and state.notes.get(turn.round):
                said.append(("Judge", state.notes[turn.round]))
        model_role = self.model_role(role)
        return Task(role=model_role, question=state.question, options=tuple(state.options[i] for i in state.order),
                    source=state.source, answer_index=state.order.index(state.answer_of(role)),
                    char_limit=rules.char_limit, quote_limit=rules.quote_limit, transcript=tuple(said),
                    prompt=check_prompt(model_role, state.prompts.get(model_role, {})))

    def finish_text(self, rules: SpeechRules, role: str, text: str) -> str:
        return enforce_limits(text, char_limit=rules.char_limit, quote_limit=rules.quote_limit)

    def visible_turns(self, step: Step, turns: list[TurnRecord]) -> list[TurnRecord]:
        # A round's speeches are revealed only once all of them are in, so writing time leaks nothing.
        hidden = step.round if step.kind == "speeches" else None
        return [t for t in turns if t.round != hidden]


def check_report(step: Step, report: Report, n_options: int) -> Report:
    """Validate a judge report against the step; returns it normalised (probabilities sum to 1)."""
    if step.kind == "speeches":
        raise RuleViolation("the judge cannot report now: the models have not all spoken")
    if step.kind not in ("judge", "chat"):
        raise RuleViolation("this task has already been decided")
    if report.round != step.round:
        raise RuleViolation(f"this report is for round {report.round}, but the task is at round {step.round}")
    probs = report.probabilities
    if len(probs) != n_options or any(p < 0 for p in probs) or sum(probs) <= 0:
        raise RuleViolation("give a probability for every answer")
    if report.end and not step.may_end:
        raise RuleViolation("the rules do not allow ending before the last round")
    total = sum(probs)
    return Report(report.round, tuple(p / total for p in probs), report.note, report.end or step.must_end)


def enforce_limits(text: str, *, char_limit: int, quote_limit: int) -> str:
    """Cut a model's speech to the rules: quotes past the quote budget lose their tags (they no longer count
    as evidence), then the speech is cut to `char_limit` characters without leaving a quote open."""
    budget = quote_limit
    pieces: list[str] = []
    pos = 0
    for m in QUOTE_RE.finditer(text):
        pieces.append(text[pos:m.start()])
        inner = m.group(1)
        if len(inner) <= budget:
            pieces.append(m.group(0))
            budget -= len(inner)
        else:
            pieces.append(f'"{inner}"')
        pos = m.end()
    pieces.append(text[pos:])
    out = "".join(pieces).strip()
    if len(out) <= char_limit:
        return out
    cut = out[:char_limit]
    opened, closed = cut.count("<quote>"), cut.count("</quote>")
    if opened > closed:  # never leave half a quote tagged: drop the unfinished quote
        cut = cut[: cut.rfind("<quote>")]
    return cut.rstrip()
