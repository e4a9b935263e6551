"""Model alone: the AI judge answers with the source in front of it (the model-alone arm of sandwiching).
No person is dealt it."""

from __future__ import annotations

from oversight.protocols.base import REPORT, Protocol, Report, Speaker, Step, TurnRecord
from oversight.protocols.direct_qa import AnswerRules, one_answer_step


class ModelAlone(Protocol):
    name = "model-alone"
    label = "Model alone"
    summary = "The model answers on its own, reading the source."
    rules_class = AnswerRules
    model_roles = ("judge",)
    human = False
    judge_sees_source = True
    bot_moves = {"judge": REPORT}

    def next_step(self, rules: AnswerRules, speakers: tuple[Speaker, ...], turns: list[TurnRecord],
                  reports: list[Report], *, time_up: bool) -> Step:
        return one_answer_step(reports)


PROTOCOL = ModelAlone()
