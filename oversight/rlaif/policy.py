"""Policy improvement runs and their evaluation against the base policy.

Each run takes conversations from preference pairs (a file or a study), produces a base response and an
improved response per conversation, and scores the improved policy by its win rate under an AI labeller
(both orders averaged; a tie counts half) with a 95 % Wilson interval. `write_comparison_file` writes the same
comparisons as HH-RLHF lines (improved response as `chosen`) so that people can judge them in a study: imported
with format `hh-rlhf`, the people's agreement with the file's label is the improved policy's win rate.

- best-of-N: base = one sample from the policy, improved = the reward model's best of N samples.
- DPO: base = the policy's greedy response, improved = the DPO-trained policy's greedy response.
- critique-revision: base = the policy's greedy response, improved = its revision against the constitution.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from oversight.models import Request, Sampling, create_backend
from oversight.models.config import HFConfig
from oversight.models.base import Backend
from oversight.results.report import wilson_interval
from oversight.rlaif.labeller import Labeller, label_pairs
from oversight.rlaif.pairs import Pair, conversation_messages

Progress = Callable[[int, int, str], None]


def greedy(policy: Backend, conversations: Sequence[str], max_new_tokens: int = 128) -> list[str]:
    requests = [Request(messages=conversation_messages(c), sampling=Sampling(max_new_tokens=max_new_tokens))
                for c in conversations]
    return [c.text.strip() for c in policy.complete(requests)]


def win_rate(labeller: Labeller, conversations: Sequence[str], improved: Sequence[str], base: Sequence[str]) -> dict:
    """How often the labeller prefers the improved response (both orders averaged, ties half), with interval."""
    pairs = [Pair(key=f"cmp/{i}", conversation=c, responses=(a, b))
             for i, (c, a, b) in enumerate(zip(conversations, improved, base))]
    labels = label_pairs(labeller, pairs)
    wins = sum(lab.choice == 0 for lab in labels)
    ties = sum(lab.choice is None for lab in labels)
    n = len(labels)
    low, high = wilson_interval(wins + ties / 2, n)  # the Wilson formula takes a half-count as it is
    return {"estimate": (wins + ties / 2) / n if n else None, "ci_low": low, "ci_high": high, "n": n,
            "wins": wins, "ties": ties, "losses": n - wins - ties,
            "position_flip_rate": sum(lab.flipped for lab in labels) / n if n else None}


def write_comparison_file(path: str | Path, conversations: Sequence[str], improved: Sequence[str],
                          base: Sequence[str]) -> int:
    """HH-RLHF lines with the improved response as `chosen`; identical pairs are left out. Returns lines written."""
    n = 0
    with open(path, "w", encoding="utf-8") as f:
        for c, a, b in zip(conversations, improved, base):
            if a.strip() and b.strip() and a.strip() != b.strip():
                prefix = "\n\n" + c.strip()
                f.write(json.dumps({"chosen": f"{prefix}\n\nAssistant: {a.strip()}",
                                    "rejected": f"{prefix}\n\nAssistant: {b.strip()}"}) + "\n")
                n += 1
    return n


def _examples(result: dict, conversations, improved, base, k: int = 5) -> dict:
    result["all"] = [{"conversation": c, "improved": a, "base": b} for c, a, b in zip(conversations, improved, base)]
    result["examples"] = result["all"][:k]
    return result


def run_best_of_n(*, policy: Backend, reward, conversations: Sequence[str], n: int, labeller: Labeller,
                  max_new_tokens: int = 128, seed: int = 0, progress: Progress | None = None) -> dict:
    from oversight.rlaif.best_of_n import best_of_n

    base, improved = [], []
    for k, c in enumerate(conversations):
        if progress:
            progress(k, len(conversations), "sampling")
        out = best_of_n(policy, reward, c, n, max_new_tokens=max_new_tokens, seed=seed + 1000 * k)
        base.append(out.candidates[0])  # one sample: what the policy gives without reranking
        improved.append(out.best)
    if progress:
        progress(len(conversations), len(conversations), "judging")
    result = {"method": "best-of-n", "n": n, "policy": policy.name,
              "win_rate": win_rate(labeller, conversations, improved, base)}
    return _examples(result, conversations, improved, base)


def run_critique(*, policy: Backend, conversations: Sequence[str], labeller: Labeller, rounds: int = 1,
                 max_new_tokens: int = 128, progress: Progress | None = None) -> dict:
    from oversight.rlaif.critique import CritiqueRevision, critique_and_revise

    strategy = CritiqueRevision(principles=tuple(labeller.spec.constitution), rounds=rounds,
                                max_new_tokens=max_new_tokens)
    base = greedy(policy, conversations, max_new_tokens)
    improved, steps = [], []
    for k, (c, r) in enumerate(zip(conversations, base)):
        if progress:
            progress(k, len(conversations), "critique and revision")
        rev = critique_and_revise(policy, strategy, c, r)
        improved.append(rev.final)
        steps.append(rev.steps)
    if progress:
        progress(len(conversations), len(conversations), "judging")
    result = {"method": "critique-revision", "rounds": rounds, "policy": policy.name,
              "win_rate": win_rate(labeller, conversations, improved, base), "first_steps": steps[:3]}
    return _examples(result, conversations, improved, base)


def run_dpo(*, policy_path: str, train: Sequence[Pair], targets: dict[str, float], conversations: Sequence[str],
            labeller: Labeller, output_dir: str | None = None, max_new_tokens: int = 128,
            progress: Progress | None = None, **settings) -> dict:
    from oversight.rlaif.dpo import DPOSettings, train_dpo

    output_dir = output_dir or tempfile.mkdtemp(prefix="dpo-")
    trained = train_dpo(DPOSettings(model=policy_path, output_dir=output_dir, **settings), train, targets, progress)
    base_model = create_backend(HFConfig(name="dpo-base", model=policy_path))
    tuned_model = create_backend(HFConfig(name="dpo-tuned", model=trained["model_path"]))
    try:
        base = greedy(base_model, conversations, max_new_tokens)
        improved = greedy(tuned_model, conversations, max_new_tokens)
    finally:
        base_model.close()
        tuned_model.close()
    result = {"method": "dpo", "policy": policy_path, "training": trained,
              "win_rate": win_rate(labeller, conversations, improved, base)}
    return _examples(result, conversations, improved, base)

