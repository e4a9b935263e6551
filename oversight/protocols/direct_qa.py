"""Direct QA: the judge answers alone, without the source and without a model (the non-expert-alone arm of a
sandwiching study)."""

from __future__ import annotations

from dataclasses import dataclass

from oversight.protocols.base import REPORT, Protocol, Report, Rules, Speaker, Step, TurnRecord, rule


@dataclass(frozen=True)
class AnswerRules(Rules):
    require_rationale: bool = rule(False, "A final answer needs a reason",
                                   "People must say why when they give their final answer (AI judges give none).")


def one_answer_step(reports: list[Report]) -> Step:
    """A protocol with a single judgment: the judge answers once, finally."""
    if reports and reports[-1].end:
        return Step("done", reports[-1].round)
    return Step("judge", 1, may_end=True, must_end=True)


class DirectQA(Protocol):
    name = "direct-qa"
    label = "Direct QA"
    summary = "Answer the question on your own."
    rules_class = AnswerRules
    model_roles = ("judge",)
    bot_moves = {"judge": REPORT}

    def next_step(self, rules: AnswerRules, speakers: tuple[Speaker, ...], turns: list[TurnRecord],
                  reports: list[Report], *, time_up: bool) -> Step:
        return one_answer_step(reports)


PROTOCOL = DirectQA()
