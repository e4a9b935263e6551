"""Debate (Irving et al. 2018; Michael et al. 2023): two debaters who read the source argue for two answers;
a judge who cannot see the source decides, round by round."""

from __future__ import annotations

import random
from dataclasses import dataclass

from oversight.protocols.base import ItemFacts, RuleViolation, Speaker
from oversight.protocols.engine import SpeechProtocol, SpeechRules


@dataclass(frozen=True)
class DebateRules(SpeechRules):
    pass


class Debate(SpeechProtocol):
    name = "debate"
    label = "Debate"
    summary = ("Two debaters have read a text you cannot see. Each argues for one answer; one of them is right. "
               "Green quotes were checked against the text; red ones were not found in it.")
    rules_class = DebateRules
    model_roles = ("debater", "judge")

    def cannot_run(self, item: ItemFacts, rules: DebateRules) -> str | None:
        if item.n_options != 2:
            return "needs items with exactly two answer options"
        return super().cannot_run(item, rules)

    def speakers(self, rules: DebateRules, *, order: list[int], correct_index: int | None,
                 rng: random.Random) -> tuple[Speaker, ...]:
        """Debater A argues the first answer shown, B the second."""
        if len(order) != 2:
            raise RuleViolation("debate needs items with exactly two answer options")
        return (Speaker("debater_a", order[0]), Speaker("debater_b", order[1]))

    def model_role(self, role: str) -> str:
        return "debater"


PROTOCOL = Debate()
