"""A strategy's rules, parsed and validated from the JSON a Strategy row stores."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

# Assisted QA (the sandwiching inner loop) joins when its assistant turns exist; until then it is not offered.
PROTOCOLS = ("debate", "consultancy", "direct-qa", "model-alone")
SCORING = ("log", "quadratic")


class RulesError(ValueError):
    """Rules that cannot run; the message names the field."""


@dataclass(frozen=True)
class Rules:
    protocol: str = "debate"
    rounds: int = 3  # the judge must end by this round
    speeches: str = "simultaneous"  # simultaneous | sequential (after the first round, which is always simultaneous)
    char_limit: int = 750  # per speech
    quote_limit: int = 250  # quoted characters per speech
    judge_questions: bool = False  # judge may write a question or note to the debaters between rounds
    judge_may_end_early: bool = True
    turn_time_limit_s: int | None = None  # judge's time per report (shown as a countdown; enforced on submit)
    total_time_limit_s: int | None = None
    scoring: str = "log"  # log | quadratic
    turn_penalty: float = 0.05  # subtracted from the score per round the judge continued
    randomise_answer_order: bool = True
    consultant_honest_p: float = 0.5
    feedback_after_judging: bool = True
    best_of_n: int = 1  # AI debaters: N candidates per speech, the preference judge picks one

    @property
    def has_speakers(self) -> bool:
        return self.protocol in ("debate", "consultancy")

    @classmethod
    def from_dict(cls, protocol: str, data: dict[str, Any] | None) -> Rules:
        data = dict(data or {})
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise RulesError(f"unknown rule(s): {', '.join(sorted(unknown))}")
        data["protocol"] = protocol
        try:
            rules = cls(**data)
        except TypeError as exc:
            raise RulesError(str(exc)) from None
        rules.validate()
        return rules

    def validate(self) -> None:
        def fail(field: str, why: str) -> None:
            raise RulesError(f"rule {field!r}: {why}")

        if self.protocol not in PROTOCOLS:
            fail("protocol", f"must be one of {', '.join(PROTOCOLS)}")
        if not isinstance(self.rounds, int) or not 1 <= self.rounds <= 20:
            fail("rounds", "must be a whole number from 1 to 20")
        if self.speeches not in ("simultaneous", "sequential"):
            fail("speeches", "must be simultaneous or sequential")
        if not 50 <= self.char_limit <= 20_000:
            fail("char_limit", "must be between 50 and 20000")
        if not 0 <= self.quote_limit <= self.char_limit:
            fail("quote_limit", "must be between 0 and char_limit")
        if self.scoring not in SCORING:
            fail("scoring", f"must be one of {', '.join(SCORING)}")
        if not 0 <= self.turn_penalty <= 1:
            fail("turn_penalty", "must be between 0 and 1")
        if not 0 <= self.consultant_honest_p <= 1:
            fail("consultant_honest_p", "must be a probability")
        if not 1 <= self.best_of_n <= 16:
            fail("best_of_n", "must be between 1 and 16")
        for name in ("turn_time_limit_s", "total_time_limit_s"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                fail(name, "must be positive when set")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("protocol")
        return data
