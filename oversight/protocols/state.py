"""A transcript's history as its protocol sees it (`State`), with what is needed to act on it. Pure: `live` loads
it from the database, protocols read it to word their model tasks (`model_task`), bots read it to answer
(`oversight.protocols.bots`). It imports only `base`, so every protocol module may import it without a cycle."""

from __future__ import annotations

from dataclasses import dataclass, field

from oversight.protocols.base import Protocol, Report, Rules, Speaker, Step, TurnRecord


@dataclass
class State:
    """A transcript's history, as its protocol sees it, plus what is needed to act on it."""

    transcript_id: int
    strategy_id: int | None
    protocol: Protocol
    rules: Rules
    model_roles: dict
    prompts: dict
    question: str
    options: list[str]  # item order
    order: list[int]  # display position -> item option index
    source: str | None
    speakers: tuple[Speaker, ...]
    turns: list[TurnRecord]  # every turn but the judge's notes, in position order
    reports: list[Report]
    notes: dict[int, str] = field(default_factory=dict)  # round -> judge's note to the speakers
    elapsed_s: float = 0.0  # since the transcript started, when it was loaded
    status: str = "open"
    study_id: int | None = None

    @property
    def time_up(self) -> bool:
        limit = self.rules.total_time_limit_s
        return bool(limit) and self.elapsed_s > limit

    @property
    def expired(self) -> bool:
        after = self.protocol.expires_after(self.rules)
        return self.status == "timed-out" or (after is not None and self.elapsed_s > after)

    @property
    def step(self) -> Step:
        step = self.protocol.next_step(self.rules, self.speakers, self.turns, self.reports, time_up=self.time_up)
        if step.kind != "done" and self.expired:
            return Step("expired", step.round)
        return step

    def answer_of(self, role: str) -> int:
        return next(sp.answer_index for sp in self.speakers if sp.role == role)

    def to_item_order(self, display_probs: list[float]) -> list[float]:
        probs = [0.0] * len(self.options)
        for pos, item_index in enumerate(self.order):
            probs[item_index] = float(display_probs[pos])
        return probs

    def to_display_order(self, item_probs: list[float] | tuple[float, ...]) -> list[float]:
        return [item_probs[i] for i in self.order]
