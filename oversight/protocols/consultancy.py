"""Consultancy (Michael et al. 2023): one consultant who read the source argues for one answer, honestly (the
gold answer) with the strategy's probability, otherwise for a wrong one; the judge decides."""

from __future__ import annotations

import random
from dataclasses import dataclass

from oversight.protocols.base import ItemFacts, RuleViolation, Speaker, rule
from oversight.protocols.engine import SpeechProtocol, SpeechRules


@dataclass(frozen=True)
class ConsultancyRules(SpeechRules):
    consultant_honest_p: float = rule(0.5, "Consultant honest with probability", min=0.0, max=1.0, step=0.05)


class Consultancy(SpeechProtocol):
    name = "consultancy"
    label = "Consultancy"
    summary = ("A consultant has read a text you cannot see and argues for one answer, which may or may not be the "
               "correct one. Green quotes were checked against the text; red ones were not found in it.")
    rules_class = ConsultancyRules
    model_roles = ("consultant", "judge")

    def cannot_run(self, item: ItemFacts, rules: ConsultancyRules) -> str | None:
        if not item.has_gold:
            return "needs the item's gold answer (to make the consultant honest or not)"
        return super().cannot_run(item, rules)

    def speakers(self, rules: ConsultancyRules, *, order: list[int], correct_index: int | None,
                 rng: random.Random) -> tuple[Speaker, ...]:
        if correct_index is None:
            raise RuleViolation("consultancy needs the item's gold answer (to make the consultant honest or not)")
        honest = rng.random() < rules.consultant_honest_p
        wrong = [i for i in order if i != correct_index]
        return (Speaker("consultant", correct_index if honest else rng.choice(wrong)),)

    def model_role(self, role: str) -> str:
        return "consultant"


PROTOCOL = Consultancy()
