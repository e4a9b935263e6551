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


def explain_rule(rule: str, penalty: float = 0.0) -> str:
    """`judge_score` in plain words, for the participant who is shown a score (once; oversight/study/feedback.py).
    Worded from the same formulas above, so the number shown is the one explained (and the one the results and the
    `score` bonus use)."""
    if rule == "log":
        text = ("How the score works: it is the logarithm (base 2) of the chance you gave the right answer. Sure and "
                "right scores 0 (the best); 80% on the right answer scores -0.32, 50% scores -1, and the surer you "
                f"were of a wrong answer, the lower it goes (at worst {math.log2(FLOOR):.1f}).")
    elif rule == "quadratic":
        text = ("How the score works: it is 1 minus the squared differences between your percentages and the right "
                "answer (100% on it, 0% on the others). Sure and right scores 1 (the best); 80% on the right answer "
                "of two scores 0.92, 50% scores 0.5, and a sure wrong answer scores -1.")
    else:
        raise ValueError(f"unknown scoring rule {rule!r}")
    if penalty:
        text += f" Each extra round you asked for costs {penalty:g}."
    return text
