"""AI labellers: which of two responses is better under a constitution, judged in both orders (Lee et al. 2023).

A labeller answers one question, `prefer(conversation, first, second)`: the probability that the response
shown first is the better one. `label_pair` asks it twice, with the responses in the pair's order and
swapped, averages the two (which cancels a pure position preference) and records whether the verdict flipped
with the order (position bias; Lee et al. saw 18-56 % by model size). `bias_summary` adds how often the
labeller prefers the longer response (length bias) and its agreement with the data set's labels.

Two kinds, chosen by the model's backend (`make_labeller`):
- `ExtractiveLabeller` (the offline default, backend `extractive`): scores each response by its mean cosine
  similarity to the principles with the shipped sentence encoder and turns the difference into odds. It never
  reads the conversation or the order, so it cannot flip; it sees only the first ~64 tokens of a response.
  It is weak on purpose: a floor that runs anywhere, not a stand-in for an LLM labeller.
- `ChoiceLabeller` (backends `hf`, `openai`, `scripted`): renders the constitution, optional few-shot examples,
  the conversation and "Response A"/"Response B" as chat messages and scores the choice tokens "A" and "B"
  with the backend's `score_choices`, as the AI judge does; with chain of thought the model first writes its
  reasoning, which is kept in the prompt before the verdict is scored.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

from oversight.models import Message, Request, Sampling, get_model
from oversight.models.base import Backend
from oversight.rlaif.config import LabellerSpec
from oversight.rlaif.pairs import Pair

Progress = Callable[[int, int, str], None]
EXTRACTIVE_TEMPERATURE = 0.05  # as the extractive judge: cosine differences are small
COT_MAX_TOKENS = 256


class Labeller:
    """P(the response shown first is better)."""

    spec: LabellerSpec

    def prefer(self, conversation: str, first: str, second: str) -> float:
        raise NotImplementedError

    def prepare(self, pairs: Sequence[Pair]) -> None:
        """Optional batch work before a run (the extractive labeller encodes all responses at once)."""


class ExtractiveLabeller(Labeller):
    def __init__(self, spec: LabellerSpec, backend: Backend):
        self.spec, self.backend = spec, backend
        self._principles = None
        self._cache: dict[str, float] = {}

    def prepare(self, pairs: Sequence[Pair]) -> None:
        texts = list(dict.fromkeys(r for p in pairs for r in p.responses if r not in self._cache))
        if texts:
            self._scores(texts)

    def _scores(self, texts: list[str]) -> None:
        if self._principles is None:
            self._principles = self.backend.encode(list(self.spec.constitution))
        if len(self._cache) > 100_000:
            self._cache.clear()
        emb = self.backend.encode(texts)
        for text, sims in zip(texts, emb @ self._principles.T):
            self._cache[text] = float(sims.mean())

    def score(self, response: str) -> float:
        """Mean cosine similarity of the response to the principles."""
        if response not in self._cache:
            self._scores([response])
        return self._cache[response]

    def prefer(self, conversation: str, first: str, second: str) -> float:
        diff = (self.score(first) - self.score(second)) / EXTRACTIVE_TEMPERATURE
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, diff))))


def _comparison(conversation: str, first: str, second: str) -> str:
    return f"Conversation:\n{conversation}\n\nResponse A:\n{first}\n\nResponse B:\n{second}"


class ChoiceLabeller(Labeller):
    def __init__(self, spec: LabellerSpec, backend: Backend):
        self.spec, self.backend = spec, backend

    def messages(self, conversation: str, first: str, second: str) -> list[Message]:
        principles = "\n".join(f"{i}. {p}" for i, p in enumerate(self.spec.constitution, 1))
        msgs = [Message("system", self.spec.prompt.replace("{principles}", principles))]
        for shot in self.spec.few_shot:
            msgs.append(Message("user", _comparison(shot["conversation"], shot["response_a"], shot["response_b"])
                                + "\n\nWhich response is better? Answer A or B."))
            msgs.append(Message("assistant", shot["answer"].strip().upper()))
        ask = "Think step by step about the principles, then say which response is better." \
            if self.spec.chain_of_thought else "Which response is better? Answer A or B."
        msgs.append(Message("user", _comparison(conversation, first, second) + "\n\n" + ask))
        return msgs

    def prefer(self, conversation: str, first: str, second: str) -> float:
        msgs = self.messages(conversation, first, second)
        if self.spec.chain_of_thought:
            reasoning = self.backend.complete([Request(messages=msgs, sampling=Sampling(max_new_tokens=COT_MAX_TOKENS))])[0]
            msgs += [Message("assistant", reasoning.text), Message("user", "So which response is better? Answer A or B.")]
        probs = self.backend.score_choices(Request(messages=msgs), ["A", "B"])
        return float(probs[0])


def make_labeller(spec: LabellerSpec) -> Labeller:
    """The labeller for this version's model: extractive scoring or choice-token scoring."""
    backend = get_model(spec.model)
    if backend.config.backend == "extractive":
        return ExtractiveLabeller(spec, backend)
    backend.load()  # idempotent; the hf backend's scoring path does not load by itself
    return ChoiceLabeller(spec, backend)


@dataclass(frozen=True)
class PairLabel:
    """Both orders of one pair. Probabilities are of the pair's response 0 being the better one."""

    key: str
    p_forward: float  # response 0 shown first
    p_backward: float  # response 0 shown second
    item_id: int | None = None

    @property
    def p_first(self) -> float:
        return (self.p_forward + self.p_backward) / 2

    @property
    def flipped(self) -> bool:
        """The verdict changed with the order (a tie in either order counts as changed when the other is not)."""
        return _verdict(self.p_forward) != _verdict(self.p_backward)

    @property
    def choice(self) -> int | None:
        """The preferred response (0/1) after averaging; None on an exact tie."""
        return _verdict(self.p_first)

    def to_dict(self) -> dict:
        return asdict(self) | {"p_first": self.p_first, "flipped": self.flipped, "choice": self.choice}


def _verdict(p: float) -> int | None:
    return None if p == 0.5 else (0 if p > 0.5 else 1)


def label_pair(labeller: Labeller, pair: Pair) -> PairLabel:
    a, b = pair.responses
    forward = labeller.prefer(pair.conversation, a, b)
    backward = 1.0 - labeller.prefer(pair.conversation, b, a)
    return PairLabel(key=pair.key, p_forward=forward, p_backward=backward, item_id=pair.item_id)


def label_pairs(labeller: Labeller, pairs: Sequence[Pair], progress: Progress | None = None) -> list[PairLabel]:
    labeller.prepare(pairs)
    out = []
    for k, pair in enumerate(pairs):
        if progress:
            progress(k, len(pairs), pair.key)
        out.append(label_pair(labeller, pair))
    if progress:
        progress(len(pairs), len(pairs), "done")
    return out


def longer_index(pair: Pair) -> int | None:
    a, b = (len(r) for r in pair.responses)
    return None if a == b else (0 if a > b else 1)


def bias_summary(pairs: Sequence[Pair], labels: Sequence[PairLabel]) -> dict:
    """Agreement with the data set's labels, position-flip rate and longer-preferred rate, each with a 95 %
    Wilson interval, and n. A tie counts as disagreement; pairs with equal lengths are left out of the length
    figure. `dataset_longer_preferred_rate` is the same figure for the data set's own labels, for reference."""
    from oversight.rlaif.agreement import proportion

    by_key = {p.key: p for p in pairs}
    agree = [lab.choice == by_key[lab.key].preferred for lab in labels if by_key[lab.key].preferred is not None]
    flips = [lab.flipped for lab in labels]
    longer = [(lab.choice == longer_index(by_key[lab.key])) for lab in labels
              if lab.choice is not None and longer_index(by_key[lab.key]) is not None]
    data_longer = [p.preferred == longer_index(p) for p in pairs
                   if p.preferred is not None and longer_index(p) is not None]
    return {
        "n": len(labels),
        "agreement": proportion(sum(agree), len(agree)),
        "position_flip_rate": proportion(sum(flips), len(flips)),
        "longer_preferred_rate": proportion(sum(longer), len(longer)),
        "dataset_longer_preferred_rate": proportion(sum(data_longer), len(data_longer)),
    }
