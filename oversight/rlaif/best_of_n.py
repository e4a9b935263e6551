"""Best-of-N: sample N responses from a policy model and keep the one a reward model scores highest.

TRL no longer ships a best-of-N sampler, and the app's backends already batch sampling, so this is a few lines
over the backend interface: the N requests go to `complete` together (one batch on the `hf` backend), each with
its own seed so that the samples differ.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from oversight.models import Request, Sampling
from oversight.models.base import Backend
from oversight.rlaif.pairs import conversation_messages

# reward(conversations, responses) -> one score per response (EncoderRewardModel.score, HFRewardModel.score, ...)
Reward = Callable[[Sequence[str], Sequence[str]], list[float]]


@dataclass(frozen=True)
class BestOfN:
    best: str
    candidates: tuple[str, ...]
    rewards: tuple[float, ...]

    @property
    def best_index(self) -> int:
        return self.candidates.index(self.best)


def sample(policy: Backend, conversation: str, n: int, *, temperature: float = 1.0, max_new_tokens: int = 128,
           seed: int = 0) -> list[str]:
    msgs = conversation_messages(conversation)
    requests = [Request(messages=msgs, sampling=Sampling(temperature=temperature, max_new_tokens=max_new_tokens,
                                                         seed=seed + i)) for i in range(n)]
    return [c.text.strip() for c in policy.complete(requests)]


def best_of_n(policy: Backend, reward: Reward, conversation: str, n: int, **sampling) -> BestOfN:
    """N samples and the highest-reward one (the first on a tie)."""
    if n < 1:
        raise ValueError("best-of-N needs N >= 1")
    candidates = sample(policy, conversation, n, **sampling)
    scores = reward([conversation] * len(candidates), candidates)
    best = max(range(len(candidates)), key=lambda i: (scores[i], -i))
    return BestOfN(best=candidates[best], candidates=tuple(candidates), rewards=tuple(float(s) for s in scores))
