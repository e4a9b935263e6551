"""Performance gap recovered (PGR) and its bootstrap interval.

PGR = (acc(strong on weak labels) - acc(weak)) / (acc(strong ceiling) - acc(weak)), computed as
openai/weak-to-strong does: the weak and the ceiling accuracies are the means over seeds of the ground-truth
runs, and PGR is reported only where the ceiling beats the weak supervisor (otherwise it is None and
`pgr_reason` says why). Accuracies are shares of test items answered correctly.

Intervals: the study's one interval engine (`oversight.results.intervals`), with each seed's answer on a test item
one observation whose item is the test item and whose "person" is the seed: a two-way cluster bootstrap over test
items and seeds (seeds, like people, are drawn together for the three trainings, so the figures are paired).
`gap` is ceiling − weak with the interval of the difference (`intervals.difference`); PGR is
`intervals.gap_closed` (alone = weak, assisted = w2s, expert = ceiling), unbounded where the ceiling fails to beat
the weak supervisor in more than 2.5 % of resamples (`unbounded`, `undefined_share`).
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


def _figure(e) -> dict[str, Any]:
    return {"estimate": e.estimate, "ci_low": e.ci_low, "ci_high": e.ci_high}


def figures(weak: np.ndarray, w2s: np.ndarray, ceiling: np.ndarray, *, n_boot: int = 2000,
            rng_seed: int = 0) -> dict[str, Any]:
    """The three accuracies, the gap (ceiling − weak) and PGR with 95 % intervals (`oversight.results.intervals`).

    Each argument is a (seeds x test items) array of 0/1: whether that seed's model answered that item correctly.
    """
    from oversight.results import intervals

    arrays = [np.asarray(a, dtype=float) for a in (weak, w2s, ceiling)]
    if any(a.ndim != 2 or a.shape != arrays[0].shape for a in arrays):
        raise ValueError("weak, w2s and ceiling must be (seeds x items) arrays of one shape")
    n_seeds, n_items = arrays[0].shape
    if n_seeds == 0 or n_items == 0:
        raise ValueError("no seeds or no test items")
    obs = [[intervals.Obs(item=i, person=seed, value=float(a[seed, i])) for seed in range(n_seeds)
            for i in range(n_items)] for a in arrays]
    o_weak, o_w2s, o_ceiling = obs
    kw = {"seed": rng_seed, "resamples": n_boot}
    out: dict[str, Any] = {}
    for name, o in zip(("weak", "w2s", "ceiling"), obs):
        out[name] = _figure(intervals.accuracy(o, key=f"w2s-{name}", **kw))
    out["gap"] = _figure(intervals.difference(o_weak, o_ceiling, key="w2s-gap", **kw))
    point = [float(a.mean()) for a in arrays]
    estimate = pgr(*point)
    if estimate is None:
        out["pgr"] = {"estimate": None, "ci_low": None, "ci_high": None, "undefined_share": 1.0, "unbounded": False}
    else:
        e = intervals.gap_closed(o_weak, o_w2s, o_ceiling, key="w2s-pgr", **kw)
        out["pgr"] = {**_figure(e), "estimate": estimate, "undefined_share": e.undefined_share,
                      "unbounded": e.unbounded}
    out["pgr_reason"] = None if estimate is not None else UNDEFINED
    out["n_test"] = int(n_items)
    out["n_seeds"] = int(n_seeds)
    out["interval_method"] = intervals.method(n_boot, rng_seed)
    return out
