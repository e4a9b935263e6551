"""Performance gap recovered (PGR) and its bootstrap interval.

PGR = (acc(strong on weak labels) - acc(weak)) / (acc(strong ceiling) - acc(weak)), computed as
openai/weak-to-strong does: the weak and the ceiling accuracies are the means over seeds of the ground-truth
runs, and PGR is reported only where the ceiling beats the weak supervisor (otherwise it is None and
`pgr_reason` says why). Accuracies are shares of test items answered correctly.

Intervals: 95 % percentile bootstrap that resamples seeds and test items together (each replicate draws
seeds with replacement and test items with replacement and recomputes the three seed-mean accuracies and
PGR); replicates whose ceiling does not beat the weak supervisor have no PGR and are left out of its
interval (`pgr_undefined_share` says how many).
"""

from __future__ import annotations

from typing import Any

import numpy as np

UNDEFINED = "the strong ceiling does not beat the weak supervisor, so there is no gap to recover"


def pgr(weak: float, w2s: float, ceiling: float) -> float | None:
    """PGR from three accuracies; None where the ceiling does not beat the weak supervisor."""
    gap = ceiling - weak
    if gap <= 0:
        return None
    return (w2s - weak) / gap


def _interval(values: np.ndarray) -> tuple[float | None, float | None]:
    if values.size == 0:
        return None, None
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def figures(weak: np.ndarray, w2s: np.ndarray, ceiling: np.ndarray, *, n_boot: int = 2000,
            rng_seed: int = 0) -> dict[str, Any]:
    """The three accuracies and PGR with 95 % bootstrap intervals.

    Each argument is a (seeds x test items) array of 0/1: whether that seed's model answered that item correctly.
    """
    arrays = [np.asarray(a, dtype=float) for a in (weak, w2s, ceiling)]
    if any(a.ndim != 2 or a.shape != arrays[0].shape for a in arrays):
        raise ValueError("weak, w2s and ceiling must be (seeds x items) arrays of one shape")
    n_seeds, n_items = arrays[0].shape
    if n_seeds == 0 or n_items == 0:
        raise ValueError("no seeds or no test items")
    point = [float(a.mean()) for a in arrays]
    rng = np.random.default_rng(rng_seed)
    seeds = rng.integers(0, n_seeds, size=(n_boot, n_seeds))
    items = rng.integers(0, n_items, size=(n_boot, n_items))
    boots = []
    for a in arrays:
        # per replicate: mean over drawn seeds of the mean over drawn items
        per_seed_items = a[seeds[:, :, None], items[:, None, :]]  # n_boot x n_seeds x n_items
        boots.append(per_seed_items.mean(axis=(1, 2)))
    b_weak, b_w2s, b_ceiling = boots
    gap = b_ceiling - b_weak
    defined = gap > 0
    b_pgr = (b_w2s[defined] - b_weak[defined]) / gap[defined]
    out: dict[str, Any] = {}
    for name, est, b in zip(("weak", "w2s", "ceiling"), point, boots):
        low, high = _interval(b)
        out[name] = {"estimate": est, "ci_low": low, "ci_high": high}
    estimate = pgr(*point)
    low, high = _interval(b_pgr) if estimate is not None else (None, None)
    out["pgr"] = {"estimate": estimate, "ci_low": low, "ci_high": high,
                  "undefined_share": float(1 - defined.mean())}
    out["pgr_reason"] = None if estimate is not None else UNDEFINED
    out["n_test"] = int(n_items)
    out["n_seeds"] = int(n_seeds)
    return out
