"""The turn engine: a pure state machine over a debate's history. No I/O, no models, no clock.

Given the rules, the speakers and what has happened (speeches and judge reports), `next_step` says what
must happen now; `check_speech` and `check_report` refuse what the rules do not allow. Live sessions,
batch runs and the tests all drive the same engine, so the rules live in one place.

Rounds are numbered from 1. Each round is a speech phase (skipped for protocols without speakers) and a
judge phase. The first round's speeches are simultaneous; later rounds follow `rules.speeches`. The judge
sees a round's speeches only when all of them are in (they are revealed together).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from oversight.protocols.rules import Rules
from oversight.quotes import QUOTE_RE

DEBATER_ROLES = ("debater_a", "debater_b")


class RuleViolation(ValueError):
    """An action the rules do not allow at this point; the message is safe to show."""


@dataclass(frozen=True)
class Speaker:
    role: str  # debater_a | debater_b | consultant
    answer_index: int  # the option (in the item's order) this speaker argues for


@dataclass(frozen=True)
class Speech:
    round: int
    role: str
    text: str


@dataclass(frozen=True)
class Report:
    round: int
    probabilities: tuple[float, ...]
    note: str = ""
    end: bool = False


@dataclass(frozen=True)
class Step:
    kind: str  # speeches | judge | done
    round: int
    roles: tuple[str, ...] = ()  # speeches: who speaks now (these are generated together)
    may_end: bool = False  # judge: may end the debate after this report
    must_end: bool = False  # judge: this report is final


def speakers_for(rules: Rules, *, order: list[int], correct_index: int | None,
                 rng: random.Random) -> tuple[Speaker, ...]:
    """Who argues what. `order` is the display order (position -> item option): debater A argues the first
    answer shown, B the second. A consultant is honest (argues the gold answer) with `consultant_honest_p`,
    otherwise argues a wrong answer drawn from `rng`."""
    if rules.protocol == "debate":
        if len(order) != 2:
            raise RuleViolation("debate needs items with exactly two answer options")
        return (Speaker("debater_a", order[0]), Speaker("debater_b", order[1]))
    if rules.protocol == "consultancy":
        if correct_index is None:
            raise RuleViolation("consultancy needs the item's gold answer (to make the consultant honest or not)")
        honest = rng.random() < rules.consultant_honest_p
        wrong = [i for i in order if i != correct_index]
        return (Speaker("consultant", correct_index if honest else rng.choice(wrong)),)
    return ()


def next_step(rules: Rules, speakers: tuple[Speaker, ...], speeches: list[Speech], reports: list[Report],
              *, time_up: bool = False) -> Step:
    """What must happen now. `time_up`: the total time limit has passed, so the judge must decide now."""
    if reports and reports[-1].end:
        return Step("done", reports[-1].round)
    rnd = len(reports) + 1
    if rnd > rules.rounds:  # cannot happen through check_report; guards hand-edited histories
        return Step("done", rules.rounds)
    if time_up:
        return Step("judge", rnd, may_end=True, must_end=True)
    if rules.has_speakers:
        spoken = {s.role for s in speeches if s.round == rnd}
        waiting = [sp.role for sp in speakers if sp.role not in spoken]
        if waiting:
            if rnd > 1 and rules.speeches == "sequential":
                return Step("speeches", rnd, (waiting[0],))
            return Step("speeches", rnd, tuple(waiting))
    last = rnd == rules.rounds or not rules.has_speakers
    return Step("judge", rnd, may_end=last or rules.judge_may_end_early, must_end=last)


def check_speech(step: Step, role: str) -> None:
    if step.kind != "speeches" or role not in step.roles:
        raise RuleViolation(f"it is not {role}'s turn to speak")


def check_report(step: Step, report: Report, n_options: int) -> Report:
    """Validate a judge report against the step; returns it normalised (probabilities sum to 1)."""
    if step.kind != "judge":
        raise RuleViolation("the judge cannot report now: the debaters have not all spoken")
    if report.round != step.round:
        raise RuleViolation(f"this report is for round {report.round}, but the debate is at round {step.round}")
    probs = report.probabilities
    if len(probs) != n_options or any(p < 0 for p in probs) or sum(probs) <= 0:
        raise RuleViolation("give a probability for every answer")
    if report.end and not step.may_end:
        raise RuleViolation("the rules do not allow ending the debate before the last round")
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
