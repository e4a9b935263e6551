"""Judge scoring rules (NYU protocol: log score with a linear per-turn penalty; or quadratic)."""

from __future__ import annotations

import math

FLOOR = 0.01  # a judge's probability is clipped here so that one confident mistake is costly, not infinite


def judge_score(*, probabilities: list[float], correct_index: int, rule: str, turns: int, penalty: float) -> float:
    """Score of a final report: log2(p_correct) or 1 - Brier, minus `penalty` per round continued."""
    p = min(max(probabilities[correct_index], FLOOR), 1.0)
    if rule == "log":
        base = math.log2(p)
    elif rule == "quadratic":
        base = 1.0 - sum((q - (1.0 if i == correct_index else 0.0)) ** 2 for i, q in enumerate(probabilities))
    else:
        raise ValueError(f"unknown scoring rule {rule!r}")
    return base - penalty * turns
