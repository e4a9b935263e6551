"""The one transcript driver: steps any live transcript to its end with a bot in the person's part. Batch runs
(an AI judge), simulations (planted people), power checks and the tests all drive transcripts through `drive`.

The contract. The protocol says what happens next (`next_step`) and, in its `bot_moves`, which move answers each
step kind: MODELS (the runner writes the model turns), REPORT (the judge reports; final where the rules require it,
or allow it and the bot ends early) or CHAT (the participant asks the model while the bot wants to, then gives the
final answer). The bot (`Bot`, `oversight.protocols.bots`) says who acts and with what skill: its answers, its
questions, whether it ends as soon as the rules allow. Everything goes in through the functions a person's clicks
go through (`live.send_message`, `live.submit_report`), so a driven transcript is stored as a person's is.

Adding a step kind: name its move in the protocol's `bot_moves`; only a new kind of move needs a branch here.
A step kind a protocol gives no move fails loudly (`NoMove`), and tests/test_driver.py drives every registered
protocol, so a protocol cannot add one unnoticed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol as Interface

from oversight.protocols import live
from oversight.protocols.base import CHAT, MODELS, REPORT, RuleViolation, Step
from oversight.protocols.runner import SpeechRunner, get_runner
from oversight.protocols.state import State

ENDS = ("done", "expired")
MAX_MOVES = 1000  # a protocol always ends within its rounds and messages; this only guards against a bug looping


class NoMove(RuleViolation):
    """The protocol gives no bot move for a step kind, or a transcript did not end within MAX_MOVES."""


@dataclass(frozen=True)
class Answer:
    """A bot's report: probabilities in the item's option order, and what a person's form would send with them."""

    probabilities: list[float]
    rationale: str = ""
    answer_form: str | None = None  # vocab.ANSWER_FORMS for a person's answer; None for a model's


class Bot(Interface):
    """Who plays the person's part, and with what skill (oversight.protocols.bots has the two the app uses)."""

    ends_early: bool  # gives the final answer as soon as the rules allow (else reads every round they allow)
    message_from: dict[str, Any]  # live.send_message's who-sent-it fields
    report_from: dict[str, Any]  # live.submit_report's who-judged fields

    def wants_to_ask(self, state: State) -> bool:
        """In a chat, whether the bot asks the model (another) question now."""

    def question(self, state: State) -> str:
        """The bot's next message to the model."""

    def answer(self, state: State, final: bool) -> Answer:
        """The bot's report now; `final`: the answer that ends the task."""


@dataclass
class Drive:
    """What a drive did: the transcript's state at its end and the moves made."""

    state: State
    moves: list[tuple[str, Step]] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        """Ended by a final answer (not expired)."""
        return bool(self.state.reports) and self.state.reports[-1].end


def drive(transcript_id: int, bot: Bot, *, runner: SpeechRunner | None = None) -> Drive:
    """Step a live transcript to its end ("done" or "expired"): each step, the protocol's move for its kind, played
    by `bot`. Raises NoMove where the protocol names no move for a step kind."""
    runner = runner or get_runner()
    moves: list[tuple[str, Step]] = []
    for _ in range(MAX_MOVES):
        state = live.load_state(transcript_id)
        step = state.step
        if step.kind in ENDS:
            return Drive(state, moves)
        move = state.protocol.bot_moves.get(step.kind)
        moves.append((move or "", step))
        if move == MODELS:
            runner.run_until_judge(transcript_id)
        elif move == CHAT and bot.wants_to_ask(state):
            live.send_message(transcript_id=transcript_id, text=bot.question(state), **bot.message_from)
        elif move in (REPORT, CHAT):
            # In a chat the participant has asked what they wanted: the answer now is final.
            final = step.must_end or (step.may_end and (bot.ends_early or move == CHAT))
            answer = bot.answer(state, final)
            live.submit_report(transcript_id=transcript_id, round_=step.round, end=final,
                               display_probabilities=state.to_display_order(answer.probabilities),
                               rationale=answer.rationale, answer_form=answer.answer_form, **bot.report_from)
        else:
            raise NoMove(f"{state.protocol.label} names no bot move for step kind {step.kind!r} "
                         "(add it to the protocol's bot_moves)")
    raise NoMove(f"transcript {transcript_id} did not end within {MAX_MOVES} moves")
