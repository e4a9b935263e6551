"""The interval engine: every accuracy, success rate, difference and gap closed a researcher sees (Results tabs,
report, sandwich, outer loop, per version, the Plan tab) gets its 95 % interval here, and nowhere else.

Answers in a study are crossed: one person answers many items and one item is answered by many people, so answers
are correlated within items (an item is hard for everyone) and within people (a person is skilled or careless).
Treating them as independent (a Wilson interval) is too narrow; clustering on items alone still ignores the
people. We use the two-way *pigeonhole* bootstrap (Owen 2007, "The pigeonhole bootstrap"; McCullagh 2000): each
resample draws the items with replacement and, independently, the people with replacement, and an answer's
weight is (times its item was drawn) × (times its person was drawn). Owen shows its variance estimate is
mildly conservative for crossed random effects (it counts the interaction term twice), which is the right side to
err on for a paper; `tests/test_intervals.py` measures its coverage on simulated studies with item-difficulty and
person-skill variance. Answers without a person (a model's) are resampled over items only.

Every estimate carries n (answers), n_items and n_people. No estimate, no interval. A ratio (gap closed) whose
denominator is not positive in more than 2.5 % of resamples is reported as unbounded with that share; below that,
the undefined resamples are counted at the unfavourable end of each bound (as -inf for the lower bound, +inf for
the upper), so the interval is never conditional on the denominator being positive.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

RESAMPLES = 2000
SEED = 0
LEVEL = 0.95
MAX_UNDEFINED = 0.025  # share of resamples a ratio may be undefined in before its interval is unbounded
_CHUNK = 250  # resamples drawn at a time, so a large study stays small in memory
METHOD = (f"95% percentile two-way cluster bootstrap over items and people (pigeonhole, {RESAMPLES} resamples)")


@dataclass(frozen=True)
class Obs:
    """One answer: its item, its person (None for a model), its value (1 correct, 0 not) and a weight (1, or an
    inverse allocation probability)."""

    item: Hashable
    person: Hashable | None
    value: float
    weight: float = 1.0


@dataclass(frozen=True)
class Estimate:
    estimate: float | None
    ci_low: float | None
    ci_high: float | None
    n: int = 0  # answers
    n_items: int = 0
    n_people: int = 0
    unbounded: bool = False  # a ratio undefined in more than MAX_UNDEFINED of resamples
    undefined_share: float = 0.0  # share of resamples where the quantity was undefined

    @property
    def has_interval(self) -> bool:
        return self.ci_low is not None and self.ci_high is not None

    def as_dict(self, prefix: str = "") -> dict:
        return {f"{prefix}estimate": self.estimate, f"{prefix}ci_low": self.ci_low, f"{prefix}ci_high": self.ci_high,
                f"{prefix}n": self.n, f"{prefix}n_items": self.n_items, f"{prefix}n_people": self.n_people,
                f"{prefix}unbounded": self.unbounded, f"{prefix}undefined_share": self.undefined_share}


EMPTY = Estimate(None, None, None)


def rng_for(seed: int, key: str) -> np.random.Generator:
    """A generator per quantity: reproducible, and adding a row does not move the others' intervals."""
    return np.random.default_rng([seed, zlib.crc32(key.encode())])


def mean(obs: Sequence[Obs]) -> float | None:
    total = sum(o.weight for o in obs)
    return sum(o.weight * o.value for o in obs) / total if total > 0 else None


class _Design:
    """The answers of several groups over one shared set of items and people, as per-group cell arrays."""

    def __init__(self, groups: Sequence[Sequence[Obs]]):
        items: dict[Hashable, int] = {}
        people: dict[Hashable, int] = {}
        for g in groups:
            for o in g:
                items.setdefault(o.item, len(items))
                if o.person is not None:
                    people.setdefault(o.person, len(people))
        self.n_items, self.n_people = len(items), len(people)
        self.cells = []
        for g in groups:
            item = np.array([items[o.item] for o in g], dtype=np.int64)
            # A model's answers (no person) point at an extra person slot whose weight is always 1.
            person = np.array([people[o.person] if o.person is not None else self.n_people for o in g],
                              dtype=np.int64)
            weight = np.array([o.weight for o in g], dtype=float)
            value = np.array([o.value for o in g], dtype=float)
            self.cells.append((item, person, weight, weight * value))

    def means(self, rng: np.random.Generator, resamples: int) -> Iterable[tuple[np.ndarray, np.ndarray]]:
        """Chunks of (numerators, denominators), each (resamples × groups)."""
        done = 0
        pi = np.full(self.n_items, 1.0 / self.n_items) if self.n_items else None
        pp = np.full(self.n_people, 1.0 / self.n_people) if self.n_people else None
        while done < resamples:
            size = min(_CHUNK, resamples - done)
            wi = rng.multinomial(self.n_items, pi, size=size).astype(float) if self.n_items else np.ones((size, 0))
            wp = rng.multinomial(self.n_people, pp, size=size).astype(float) if self.n_people else np.ones((size, 0))
            wp = np.concatenate([wp, np.ones((size, 1))], axis=1)
            num = np.zeros((size, len(self.cells)))
            den = np.zeros((size, len(self.cells)))
            for g, (item, person, weight, weighted) in enumerate(self.cells):
                if item.size:
                    w = wi[:, item] * wp[:, person]
                    num[:, g] = w @ weighted
                    den[:, g] = w @ weight
            yield num, den
            done += size


def _counts(obs: Sequence[Obs]) -> tuple[int, int, int]:
    return len(obs), len({o.item for o in obs}), len({o.person for o in obs if o.person is not None})


def _bounds(values: np.ndarray, undefined: int, total: int, level: float = LEVEL) -> tuple[float | None, float | None]:
    """Percentile bounds over `total` resamples of which `undefined` are not in `values`: those count as -inf for
    the lower bound and +inf for the upper one (never dropped, which would make the interval conditional)."""
    if total == 0 or values.size + undefined < total or values.size == 0:
        return None, None
    alpha = (1 - level) / 2
    ordered = np.sort(values)
    lo_rank = alpha * (total - 1) - undefined  # position among the defined values, undefined ones below
    hi_rank = (1 - alpha) * (total - 1)
    if lo_rank < 0 or hi_rank > ordered.size - 1:
        return None, None
    return float(np.interp(lo_rank, np.arange(ordered.size), ordered)), \
        float(np.interp(hi_rank, np.arange(ordered.size), ordered))


def statistic_interval(groups: Sequence[Sequence[Obs]], statistic: Callable[[np.ndarray], np.ndarray], *,
                       point: float | None, seed: int = SEED, key: str = "", resamples: int = RESAMPLES) -> Estimate:
    """The interval of `statistic` over several groups' means on the same resamples. `statistic` maps a
    (resamples × groups) array of means to one value per resample, NaN where undefined. Unbounded when more than
    MAX_UNDEFINED of the resamples are undefined."""
    all_obs = [o for g in groups for o in g]
    n, n_items, n_people = _counts(all_obs)
    if point is None or not all_obs:
        return Estimate(None, None, None, n, n_items, n_people)
    design = _Design(groups)
    kept, undefined = [], 0
    for num, den in design.means(rng_for(seed, key), resamples):
        with np.errstate(divide="ignore", invalid="ignore"):
            means = np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)
            values = statistic(means)
        ok = np.isfinite(values)
        undefined += int((~ok).sum())
        kept.append(values[ok])
    share = undefined / resamples
    if share > MAX_UNDEFINED:
        return Estimate(point, None, None, n, n_items, n_people, unbounded=True, undefined_share=share)
    low, high = _bounds(np.concatenate(kept), undefined, resamples)
    return Estimate(point, low, high, n, n_items, n_people, undefined_share=share)


def accuracy(obs: Sequence[Obs], *, seed: int = SEED, key: str = "", resamples: int = RESAMPLES) -> Estimate:
    """A share of correct answers (or any mean of values) with its two-way cluster bootstrap interval."""
    return statistic_interval([obs], lambda m: m[:, 0], point=mean(obs), seed=seed, key=f"acc:{key}",
                              resamples=resamples)


def difference(a: Sequence[Obs], b: Sequence[Obs], *, seed: int = SEED, key: str = "",
               resamples: int = RESAMPLES) -> Estimate:
    """mean(b) − mean(a) on the same resamples (shared items and people are drawn together)."""
    ma, mb = mean(a), mean(b)
    point = None if ma is None or mb is None else mb - ma
    return statistic_interval([a, b], lambda m: m[:, 1] - m[:, 0], point=point, seed=seed, key=f"diff:{key}",
                              resamples=resamples)


def gap_closed_value(assisted: float, alone: float, expert: float) -> float | None:
    """(assisted − alone) / (expert − alone); None where experts do no better than non-experts alone."""
    return (assisted - alone) / (expert - alone) if expert - alone > 0 else None


def gap_closed(alone: Sequence[Obs], assisted: Sequence[Obs], expert: Sequence[Obs] | None, *, seed: int = SEED,
               key: str = "", resamples: int = RESAMPLES) -> Estimate:
    """The gap closed with its interval. `expert` None: the gold stands in (expert accuracy 1 on every resample).
    No estimate (experts no better than alone, or a condition unanswered): no interval."""
    a, b = mean(alone), mean(assisted)
    e = mean(expert) if expert is not None else 1.0
    point = None if a is None or b is None or e is None else gap_closed_value(b, a, e)
    groups = [alone, assisted] + ([expert] if expert is not None else [])

    def ratio(m: np.ndarray) -> np.ndarray:
        exp = m[:, 2] if expert is not None else np.ones(len(m))
        denom = exp - m[:, 0]
        return np.where(denom > 0, (m[:, 1] - m[:, 0]) / np.where(denom > 0, denom, 1), np.nan)

    return statistic_interval(groups, ratio, point=point, seed=seed, key=f"gap:{key}", resamples=resamples)


def over_units(units: Sequence[Hashable], statistic: Callable[[Sequence[Hashable]], float | None], *,
               seed: int = SEED, key: str = "", resamples: int = 1000) -> tuple[float | None, float | None]:
    """A percentile interval of any statistic of a set of units (e.g. Krippendorff's alpha over the reviewed
    assignments), resampling the units with replacement; resamples where it is undefined count as in `_bounds`.
    For statistics that are not means of answers (agreement); accuracies use `accuracy`."""
    units = list(units)
    if not units:
        return None, None
    rng = rng_for(seed, f"units:{key}")
    values, undefined = [], 0
    for _ in range(resamples):
        drawn = [units[i] for i in rng.integers(0, len(units), len(units))]
        v = statistic(drawn)
        if v is None or not np.isfinite(v):
            undefined += 1
        else:
            values.append(v)
    if undefined / resamples > MAX_UNDEFINED:
        return None, None
    return _bounds(np.array(values), undefined, resamples)


def describe(e: Estimate, pct: bool = True) -> str:
    """An estimate in words for tables: '62.5 % [48.1, 75.0] · 120 answers, 40 items, 12 people'."""
    if e.estimate is None:
        return "—"
    f = (lambda v: f"{100 * v:.1f}") if pct else (lambda v: f"{v:.2f}")
    if e.unbounded:
        ci = f"[unbounded: undefined in {100 * e.undefined_share:.0f}% of resamples]"
    elif e.has_interval:
        ci = f"[{f(e.ci_low)}, {f(e.ci_high)}]"
    else:
        ci = ""
    people = f", {e.n_people} people" if e.n_people else ""
    return f"{f(e.estimate)}{' %' if pct else ''} {ci} · {e.n} answers, {e.n_items} items{people}".replace("  ", " ")


def group_by(obs: Iterable[tuple[Hashable, Obs]]) -> Mapping[Hashable, list[Obs]]:
    out: dict[Hashable, list[Obs]] = {}
    for key, o in obs:
        out.setdefault(key, []).append(o)
    return out
