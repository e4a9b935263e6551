"""The bots that play a person's part in a live transcript (oversight.protocols.driver drives them):

- `PersonBot`, a simulated person (oversight.sandwiching.simulate): one planted answer per task, chosen option and confidence,
  given through the one answer form people use (`vocab.CHOICE_CONFIDENCE`: choose one option, then how sure;
  `vocab.probabilities_from_confidence`), in every report as on the page; it asks the assistant once and answers
  finally as soon as the rules allow.
- `ModelBot`, the AI judge of a batch run (oversight.protocols.batch): its answers are the judge model's
  probabilities after the turns so far; it reads every round the rules allow, and in a chat asks the questions the
  protocol gives an AI participant (`Protocol.ai_wants_to_ask`), written by the questioner model.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from sqlmodel import select

from oversight.db import session_scope
from oversight.protocols.prompts import check_prompt
from oversight.protocols.ai_judge import judge_probabilities, transcript_lines
from oversight.protocols.driver import Answer
from oversight.protocols.runner import model_for, turn_request
from oversight.protocols.state import State
from oversight.vocab import CHOICE_CONFIDENCE, probabilities_from_confidence
from storage.models import Transcript, Turn


def planted_choice(rng: random.Random, n_options: int, gold: int, accuracy: float) -> int:
    """The option someone who is right with probability `accuracy` chooses (else a wrong one, uniformly)."""
    return gold if rng.random() < accuracy else rng.choice([i for i in range(n_options) if i != gold])


@dataclass(frozen=True)
class PersonBot:
    """A simulated person's part: `chosen` (item order) with `confidence`, in every report."""

    n_options: int
    chosen: int
    confidence: float
    user_id: int | None = None
    rationale: str = "Simulated participant."
    ends_early = True
    QUESTION = "What does the text say that decides this question?"

    @classmethod
    def planted(cls, rng: random.Random, *, n_options: int, gold: int, accuracy: float, sd: float,
                confidence: float | None = None, user_id: int | None = None) -> PersonBot:
        """Someone who chooses the gold option with probability `accuracy`, stating `confidence` on the chosen
        option, or (None) a confidence drawn around the accuracy (at least 0.55, at most 0.99: calibrated)."""
        chosen = planted_choice(rng, n_options, gold, accuracy)
        if confidence is None:
            confidence = min(0.99, max(0.55, rng.gauss(max(accuracy, 0.55), sd)))
        return cls(n_options, chosen, confidence, user_id)

    @property
    def probabilities(self) -> list[float]:
        return probabilities_from_confidence(self.n_options, self.chosen, self.confidence)

    @property
    def message_from(self) -> dict[str, Any]:
        return {"user_id": self.user_id}

    @property
    def report_from(self) -> dict[str, Any]:
        return {"judge_id": self.user_id}

    def wants_to_ask(self, state: State) -> bool:
        return not any(t.role == "participant" for t in state.turns)

    def question(self, state: State) -> str:
        return self.QUESTION

    def answer(self, state: State | None, final: bool) -> Answer:
        return Answer(self.probabilities, self.rationale if final else "", CHOICE_CONFIDENCE)


@dataclass(frozen=True)
class ModelBot:
    """The AI judge of a batch run. `sees_source` False: a model-alone run whose assisting model does not read the
    source answers without it too."""

    judge_name: str
    sees_source: bool = True
    ends_early = False  # the AI judge does not stop early: it reads every round the rules allow, then answers

    @property
    def message_from(self) -> dict[str, Any]:
        return {"speaker": self.judge_name}

    @property
    def report_from(self) -> dict[str, Any]:
        return {"judge_kind": "ai", "judge_name": self.judge_name}

    def wants_to_ask(self, state: State) -> bool:
        return state.protocol.ai_wants_to_ask(state.rules, state.turns)

    def question(self, state: State) -> str:
        """The AI participant's next question to the assistant, written by the questioner model."""
        model = model_for(state, "questioner")
        text = model.complete([turn_request(state, "questioner")])[0].text
        return state.protocol.finish_text(state.rules, "questioner", text) or "What does the text say about this?"

    def answer(self, state: State, final: bool) -> Answer:
        """The judge model's probabilities after the turns so far."""
        model = model_for(state, "judge")
        with session_scope(write=False) as s:
            turns = s.exec(select(Turn).where(Turn.transcript_id == state.transcript_id)
                           .order_by(Turn.position)).all()
            meta = s.get(Transcript, state.transcript_id).meta
        lines = transcript_lines(turns, meta.get("roles", {}), state.options)
        source = state.source if state.protocol.judge_sees_source and self.sees_source else None
        return Answer(judge_probabilities(model, question=state.question, options=state.options, transcript=lines,
                                          source=source, prompt=check_prompt("judge", state.prompts.get("judge", {}))))
