"""What every protocol module provides, and the pieces they share.

A protocol (`oversight/protocols/<name>.py`) is one `Protocol` object: its rules dataclass (only the fields that
apply to it), which items it can run on, who speaks, a pure step function over the history, how the judge
reads its turns, which model roles it uses, whether people can be dealt it, and how a bot plays the person's part
at each step kind (`bot_moves`, oversight.protocols.driver). `registry.PROTOCOLS` maps names
to these objects; nothing else tests a protocol's name.

Rules are frozen dataclasses. Each field's `metadata` carries what the Strategies form needs (`label`, `help`,
and `min`/`max`/`step`/`choices`/`unit` where they apply; `unit` "s" for seconds), so the form shows exactly the rules of the chosen protocol.
"""

from __future__ import annotations

import random
from dataclasses import MISSING, asdict, dataclass, field, fields
from collections.abc import Mapping
from typing import Any, ClassVar

from oversight.models.types import Task

SCORING = ("log", "quadratic")


class RulesError(ValueError):
    """Rules that cannot run; the message names the field."""


class RuleViolation(ValueError):
    """An action the rules do not allow at this point; the message is safe to show."""


def rule(default: Any, label: str, help: str = "", **meta: Any) -> Any:
    """A rules field with what the form shows for it."""
    return field(default=default, metadata={"label": label, "help": help, **meta})


@dataclass(frozen=True)
class Rules:
    """Rules every protocol has."""

    randomise_answer_order: bool = rule(True, "Randomise answer order",
                                        "Show the options in a random order per transcript (stored with it).")
    feedback_after_judging: bool = rule(True, "Show the correct answer and score after judging")
    require_rationale: bool = rule(True, "A final answer needs a reason",
                                   "People must say why when they give their final answer (AI judges give none).")
    scoring: str = rule("log", "Scoring rule", choices=SCORING)
    turn_penalty: float = rule(0.05, "Penalty per round continued", min=0.0, max=1.0, step=0.01)
    turn_time_limit_s: int | None = rule(None, "Guide time per judgment",
                                         "Shown as guidance; the seconds each judgment took are recorded.",
                                         min=0, max=3600, unit="s")
    total_time_limit_s: int | None = rule(None, "Total time",
                                          "Enforced by the server: when it has passed the judge must answer now.",
                                          min=0, max=36000, unit="s")
    # Where the inner loop's "tips for questioning the model" land (oversight.sandwiching.inner_loop): participants read them.
    participant_tips: str = rule("", "Tips shown to participants",
                                 "Shown to participants with each task of this version (e.g. how to question the "
                                 "model).", max_chars=3000)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Rules:
        data = dict(data or {})
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise RulesError(f"rule(s) that do not apply to this protocol: {', '.join(sorted(unknown))}")
        try:
            rules = cls(**data)
        except TypeError as exc:
            raise RulesError(str(exc)) from None
        rules.validate()
        return rules

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def fail(self, name: str, why: str) -> None:
        raise RulesError(f"rule {name!r}: {why}")

    def validate(self) -> None:
        """Check each field against its metadata (type, range, choices); subclasses add cross-field checks."""
        for f in fields(self):
            value, meta = getattr(self, f.name), f.metadata
            default = f.default if f.default is not MISSING else None
            if value is None:
                if default is not None:
                    self.fail(f.name, "must be set")
                continue
            if isinstance(default, bool) or (default is None and "choices" not in meta and "min" not in meta):
                if isinstance(default, bool) and not isinstance(value, bool):
                    self.fail(f.name, "must be true or false")
                continue
            if isinstance(default, str) and "choices" not in meta:
                if not isinstance(value, str) or len(value) > meta.get("max_chars", 5000):
                    self.fail(f.name, f"must be text of at most {meta.get('max_chars', 5000)} characters")
                continue
            if "choices" in meta:
                if value not in meta["choices"]:
                    self.fail(f.name, f"must be one of {', '.join(meta['choices'])}")
                continue
            whole = isinstance(default, int) or default is None
            if isinstance(value, bool) or not isinstance(value, (int, float)) or (whole and not isinstance(value, int)):
                self.fail(f.name, "must be a whole number" if whole else "must be a number")
            low, high = meta.get("min"), meta.get("max")
            if default is None and value <= 0:
                self.fail(f.name, "must be positive when set")
            if (low is not None and value < low) or (high is not None and value > high):
                self.fail(f.name, f"must be between {low} and {high}")


@dataclass(frozen=True)
class ModelTurnRules(Rules):
    """Rules of protocols whose models write turns (speakers, the assistant). Critique-revision is Constitutional
    AI's loop (Bai et al. 2022): each turn is critiqued against a principle and rewritten before it is stored; it
    needs a generative model (`hf`, `openai`)."""

    critique_rounds: int = rule(0, "Critique-revision rounds per model turn",
                                "0: off. Each round the model critiques its turn against one principle and revises it.",
                                min=0, max=3)
    critique_principles: str = rule("", "Principles for critique-revision (one per line)", max_chars=5000)

    @property
    def principles(self) -> tuple[str, ...]:
        return tuple(line.strip() for line in self.critique_principles.splitlines() if line.strip())

    def validate(self) -> None:
        super().validate()
        if self.critique_rounds and not self.principles:
            self.fail("critique_principles", "give at least one principle when critique-revision is on")


@dataclass(frozen=True)
class Speaker:
    role: str  # debater_a | debater_b | consultant
    answer_index: int  # the option (in the item's order) this speaker argues for
    # Cross-play (oversight.protocols.crossplay): the strategy version whose speaker settings (best-of-N, model,
    # prompt) this speaker plays with; None: the transcript's own version.
    version: int | None = None


@dataclass(frozen=True)
class TurnRecord:
    """One stored turn as the step functions see it."""

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
    """What must happen now.

    kind: `speeches` (models write the turns of `roles`), `judge` (the judge reports probabilities; `may_end`/
    `must_end` say whether this report may or must be final), `chat` (the participant may write a message or give
    the final answer), `expired` (time ran out before a final answer), `done`.
    """

    kind: str
    round: int
    roles: tuple[str, ...] = ()
    may_end: bool = False
    must_end: bool = False
    messages_left: int | None = None


# What a bot playing the person's part does at a step (oversight.protocols.driver). Each protocol names, in its
# `bot_moves`, the move for every step kind its `next_step` returns besides "done" and "expired" (nothing to do).
MODELS = "models"  # the models write their turns (the runner); nobody else acts
REPORT = "report"  # the judge reports: final where the rules require it, or allow it and the bot ends early
CHAT = "chat"  # the participant asks the model while the bot wants to, then gives the final answer


@dataclass(frozen=True)
class ItemFacts:
    """What a protocol needs to know to decide whether it can run on an item (never the gold answer itself)."""

    n_options: int
    has_source: bool
    has_gold: bool


class Protocol:
    """The interface; each protocol module defines one subclass and one instance of it."""

    name: ClassVar[str]
    label: ClassVar[str]
    summary: ClassVar[str]  # what a participant is told the task is
    rules_class: ClassVar[type[Rules]] = Rules
    model_roles: ClassVar[tuple[str, ...]] = ()  # model roles it uses (their prompts are part of the strategy)
    human: ClassVar[bool] = True  # people can be dealt it
    layout: ClassVar[str] = "rounds"  # how the participant page shows it: rounds | chat
    source_label: ClassVar[str] = "The text"  # what the source is called where the participant may read it
    judge_sees_source: ClassVar[bool] = False  # the (AI) judge reads the source (model alone)
    bot_moves: ClassVar[Mapping[str, str]] = {}  # step kind -> MODELS | REPORT | CHAT: how a bot plays the person

    def parse_rules(self, data: dict[str, Any] | None) -> Rules:
        return self.rules_class.from_dict(data)

    def cannot_run(self, item: ItemFacts, rules: Rules) -> str | None:
        """Why this protocol cannot run on the item, or None when it can. Every protocol needs options."""
        return None if item.n_options >= 2 else "needs at least two answer options"

    def speakers(self, rules: Rules, *, order: list[int], correct_index: int | None,
                 rng: random.Random) -> tuple[Speaker, ...]:
        return ()

    def next_step(self, rules: Rules, speakers: tuple[Speaker, ...], turns: list[TurnRecord],
                  reports: list[Report], *, time_up: bool) -> Step:
        raise NotImplementedError

    def model_role(self, role: str) -> str:
        """The model role that writes turns of transcript role `role` (debater_a -> debater)."""
        return role

    def visible_turns(self, step: Step, turns: list[TurnRecord]) -> list[TurnRecord]:
        """The turns the judge may see now (all by default)."""
        return turns

    def model_task(self, state: Any, role: str) -> Task:
        """What the model writing transcript role `role` is asked now (`state` is a `state.State`)."""
        raise RuleViolation(f"{self.label} has no model turns")

    def finish_text(self, rules: Rules, role: str, text: str) -> str:
        """A model's turn cut to the rules before it is stored."""
        return text

    def expires_after(self, rules: Rules) -> float | None:
        """Seconds after the start past which no final answer is taken (None: never)."""
        return None

    def penalised_turns(self, turns: list[TurnRecord], reports: list[Report]) -> int:
        """How many times the score's per-turn penalty applies: by default each round the judge continued."""
        return max(0, len(reports) - 1)

    def source_visible(self, rules: Rules, elapsed_s: float) -> bool:
        """Whether the participant may read the source now."""
        return False

    def check_message(self, rules: Rules, step: Step, text: str) -> str:
        raise RuleViolation(f"{self.label} has no chat")

    def check_restart(self, rules: Rules, step: Step) -> None:
        raise RuleViolation(f"{self.label} has no chat")

    def ai_wants_to_ask(self, rules: Rules, turns: list[TurnRecord]) -> bool:
        """In a batch run, whether the AI standing in for the participant asks another question now."""
        return False
