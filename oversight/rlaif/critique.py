"""Critique and revision (Constitutional AI, Bai et al. 2022): the model critiques its own response against a
principle of the constitution, then rewrites the response to address the critique; repeated for `rounds`
principles. A strategy over the backend interface only, so any protocol (or a data pipeline producing revised
responses for DPO) can apply it to any model.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from oversight.models import Message, Request, Sampling
from oversight.models.base import Backend
from oversight.rlaif.pairs import conversation_messages

CRITIQUE = ("Critique the assistant's last response against this principle: \"{principle}\". "
            "Name the specific ways it falls short, briefly.")
REVISION = ("Rewrite the assistant's last response so that it follows the principle and answers the critique. "
            "Reply with the revised response only.")


@dataclass(frozen=True)
class CritiqueRevision:
    """The strategy: which principles, how many rounds, how much the model may write per step."""

    principles: tuple[str, ...]
    rounds: int = 1
    max_new_tokens: int = 256
    seed: int = 0  # principles are drawn per round with this seed, as Bai et al. sample one per revision


@dataclass
class Revision:
    original: str
    final: str
    steps: list[dict] = field(default_factory=list)  # principle, critique, revision per round


def critique_and_revise(model: Backend, strategy: CritiqueRevision, conversation: str, response: str) -> Revision:
    return revise_after(model, strategy, conversation_messages(conversation), response)


def revise_after(model: Backend, strategy: CritiqueRevision, history: Sequence[Message], response: str) -> Revision:
    """Critique and revise `response`, the model's reply to the chat `history` (a protocol's turn, for instance)."""
    if not strategy.principles:
        raise ValueError("critique-revision needs at least one principle")
    rng = random.Random(strategy.seed)
    sampling = Sampling(max_new_tokens=strategy.max_new_tokens)
    current, steps = response, []
    for _ in range(strategy.rounds):
        principle = rng.choice(strategy.principles)
        base = [*history, Message("assistant", current)]
        critique = model.complete([Request(messages=[*base, Message("user", CRITIQUE.format(principle=principle))],
                                           sampling=sampling)])[0].text.strip()
        revised = model.complete([Request(messages=[*base, Message("user", CRITIQUE.format(principle=principle)),
                                                    Message("assistant", critique), Message("user", REVISION)],
                                          sampling=sampling)])[0].text.strip()
        steps.append({"principle": principle, "critique": critique, "revision": revised})
        current = revised or current  # an empty rewrite keeps the previous response
    return Revision(original=response, final=current, steps=steps)
