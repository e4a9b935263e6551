"""The interval engine: every accuracy, success rate, difference and gap closed a researcher sees (Results tabs,
report, sandwich, outer loop, per version, the Plan tab) gets its 95 % interval here, and nowhere else.

Answers in a study are crossed: one person answers many items and one item is answered by many people, so answers
are correlated within items (an item is hard for everyone) and within people (a person is skilled or careless).
Treating them as independent (a Wilson interval) is too narrow; clustering on items alone ignores the people.

The variance is the two-way cluster-robust one of Cameron, Gelbach and Miller (2011, "Robust inference with
multiway clustering"), computed by bootstrap: V = V_items + V_people − V_answers, where V_items is the variance of
the statistic when the items are resampled with replacement (people kept), V_people when the people are, and
V_answers when single answers are (the answer-level noise, which each one-way resample counts once, so the sum
counts it twice). Where that difference is below the larger one-way variance (a small-sample artefact), the larger
one is used, as they recommend. The interval is estimate ± 1.96 √V (clipped to [0, 1] for a share).

Why not the pigeonhole bootstrap (resample items and people at once, weight = product)? We measured it first: in a
sparse crossed design (each person sees a third of the items, binary answers) it counts the answer-level noise
about three times and its intervals were ~30 % too wide (coverage 1.000 on 200 simulated studies, a power
analysis's false-positive rate 0.000 instead of 0.05). `tests/test_intervals.py` measures this engine's coverage on
simulated studies with item-difficulty and person-skill variance; `bench/results/intervals-coverage.md` has the
figures.

Resampling is stratified: items and people are resampled within the set of groups they appear in (participants
and experts separately; in a between design each condition's people separately), so no resample loses a whole
group. Answers without a person (a model's) are their own clusters in the people resample, which makes them count
by items only. Every estimate carries n (answers), n_items and n_people. No estimate, no interval. A ratio (gap
closed) undefined (denominator not positive) in more than 2.5 % of any bootstrap's resamples is reported as
unbounded with that share, never as an interval conditional on the denominator being positive.
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


def method(resamples: int = RESAMPLES, seed: int = SEED) -> str:
    """The method in words, named once on every page, CLI text and JSON that shows these intervals."""
    return (f"95% two-way cluster bootstrap over items and people (cluster-robust variance V_items + V_people − "
            f"V_answers; a model's answers over items; {resamples} resamples each, seed {seed})")


METHOD = method()


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


EMPTY = Estimate(None, None, None)


def rng_for(seed: int, key: str) -> np.random.Generator:
    """A generator per quantity: reproducible, and adding a row does not move the others' intervals."""
    return np.random.default_rng([seed, zlib.crc32(key.encode())])


def mean(obs: Sequence[Obs]) -> float | None:
    total = sum(o.weight for o in obs)
    return sum(o.weight * o.value for o in obs) / total if total > 0 else None


class _Design:
    """The answers of several groups over one shared set of items and people, with the strata to resample in."""

    def __init__(self, groups: Sequence[Sequence[Obs]]):
        items: dict[Hashable, int] = {}
        people: dict[Hashable, int] = {}
        item_groups: dict[int, set[int]] = {}
        person_groups: dict[int, set[int]] = {}
        self.cells = []
        for g, answers in enumerate(groups):
            item_idx, person_idx = [], []
            for o in answers:
                i = items.setdefault(o.item, len(items))
                item_groups.setdefault(i, set()).add(g)
                item_idx.append(i)
                if o.person is None:
                    person_idx.append(-1)  # a model's answer: clustered by its item only
                else:
                    p = people.setdefault(o.person, len(people))
                    person_groups.setdefault(p, set()).add(g)
                    person_idx.append(p)
            weight = np.array([o.weight for o in answers], dtype=float)
            value = np.array([o.value for o in answers], dtype=float)
            person = np.array(person_idx, dtype=np.int64)
            self.cells.append((np.array(item_idx, dtype=np.int64), np.where(person < 0, len(people), person) if
                               person.size else person, weight, weight * value, np.flatnonzero(person >= 0)))
        self.n_items, self.n_people = len(items), len(people)
        self.item_strata = _strata(item_groups)
        self.person_strata = _strata(person_groups)

    def means(self, rng: np.random.Generator, resamples: int, over: str) -> Iterable[np.ndarray]:
        """Chunks of group means (resamples × groups; NaN where a group has no weight), resampling `over` one
        of "items", "people", "answers"."""
        done = 0
        while done < resamples:
            size = min(_CHUNK, resamples - done)
            wi = _stratified(rng, self.item_strata, self.n_items, size) if over == "items" else None
            wp = None
            if over == "people":  # a last column, always 1, for the answers without a person
                wp = np.concatenate([_stratified(rng, self.person_strata, self.n_people, size), np.ones((size, 1))], 1)
            num = np.zeros((size, len(self.cells)))
            den = np.zeros((size, len(self.cells)))
            for g, (item, person, weight, weighted, with_person) in enumerate(self.cells):
                if not item.size:
                    continue
                if over == "answers":  # the answers people gave, resampled; a model's keep their weight
                    w = np.ones((size, item.size))
                    k = with_person.size
                    if k:
                        w[:, with_person] = rng.multinomial(k, np.full(k, 1.0 / k), size=size)
                else:
                    w = wi[:, item] if wi is not None else wp[:, person]
                num[:, g] = w @ weighted
                den[:, g] = w @ weight
            with np.errstate(divide="ignore", invalid="ignore"):
                yield np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)
            done += size


def _strata(membership: dict[int, set[int]]) -> list[np.ndarray]:
    by_set: dict[frozenset, list[int]] = {}
    for unit, groups in membership.items():
        by_set.setdefault(frozenset(groups), []).append(unit)
    return [np.array(units, dtype=np.int64) for units in by_set.values()]


def _stratified(rng: np.random.Generator, strata: list[np.ndarray], n: int, size: int) -> np.ndarray:
    """How often each unit is drawn in `size` resamples that draw each stratum's units with replacement."""
    w = np.zeros((size, n))
    for units in strata:
        w[:, units] = rng.multinomial(units.size, np.full(units.size, 1.0 / units.size), size=size)
    return w


def _counts(obs: Sequence[Obs]) -> tuple[int, int, int]:
    return len(obs), len({o.item for o in obs}), len({o.person for o in obs if o.person is not None})


Z = 1.959963984540054  # the standard normal's 97.5 % point


def statistic_interval(groups: Sequence[Sequence[Obs]], statistic: Callable[[np.ndarray], np.ndarray], *,
                       point: float | None, seed: int = SEED, key: str = "", resamples: int = RESAMPLES,
                       bounds: tuple[float, float] | None = None) -> Estimate:
    """The interval of `statistic` over several groups' means. `statistic` maps a (resamples × groups) array of
    means to one value per resample, NaN where undefined. Unbounded when more than MAX_UNDEFINED of a bootstrap's
    resamples are undefined; `bounds` clips the interval (a share lies in [0, 1])."""
    all_obs = [o for g in groups for o in g]
    n, n_items, n_people = _counts(all_obs)
    if point is None or not all_obs:
        return Estimate(None, None, None, n, n_items, n_people)
    design = _Design(groups)
    variances, worst = {}, 0.0
    for over in ("items", "people", "answers"):
        rng = rng_for(seed, f"{key}:{over}")
        values = np.concatenate([statistic(m) for m in design.means(rng, resamples, over)])
        ok = np.isfinite(values)
        worst = max(worst, 1 - ok.mean())
        variances[over] = float(np.var(values[ok], ddof=1)) if ok.sum() > 1 else 0.0
    if worst > MAX_UNDEFINED:
        return Estimate(point, None, None, n, n_items, n_people, unbounded=True, undefined_share=worst)
    one_way = max(variances["items"], variances["people"])
    variance = max(variances["items"] + variances["people"] - variances["answers"], one_way)
    half = Z * variance ** 0.5
    low, high = point - half, point + half
    if bounds is not None:
        low, high = max(bounds[0], low), min(bounds[1], high)
    return Estimate(point, low, high, n, n_items, n_people, undefined_share=worst)


def _shares(obs: Sequence[Obs]) -> bool:
    """The values are shares (0..1), so their mean is one too and its interval is clipped to [0, 1]."""
    return all(0.0 <= o.value <= 1.0 for o in obs)


def accuracy(obs: Sequence[Obs], *, seed: int = SEED, key: str = "", resamples: int = RESAMPLES) -> Estimate:
    """A share of correct answers (or any mean of values) with its two-way cluster bootstrap interval."""
    return statistic_interval([obs], lambda m: m[:, 0], point=mean(obs), seed=seed, key=f"acc:{key}",
                              resamples=resamples, bounds=(0.0, 1.0) if _shares(obs) else None)


def difference(a: Sequence[Obs], b: Sequence[Obs], *, seed: int = SEED, key: str = "",
               resamples: int = RESAMPLES) -> Estimate:
    """mean(b) − mean(a) on the same resamples (shared items and people are drawn together)."""
    ma, mb = mean(a), mean(b)
    point = None if ma is None or mb is None else mb - ma
    return statistic_interval([a, b], lambda m: m[:, 1] - m[:, 0], point=point, seed=seed, key=f"diff:{key}",
                              resamples=resamples, bounds=(-1.0, 1.0) if _shares(a) and _shares(b) else None)


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


def _bounds(values: np.ndarray, undefined: int, total: int) -> tuple[float | None, float | None]:
    """Percentile bounds over `total` resamples of which `undefined` are not in `values`: those count as -inf for
    the lower bound and +inf for the upper one (never dropped, which would make the interval conditional)."""
    if total == 0 or values.size == 0:
        return None, None
    alpha = (1 - LEVEL) / 2
    ordered = np.sort(values)
    lo_rank = alpha * (total - 1) - undefined  # position among the defined values, undefined ones below
    hi_rank = (1 - alpha) * (total - 1)
    if lo_rank < 0 or hi_rank > ordered.size - 1:
        return None, None
    positions = np.arange(ordered.size)
    return float(np.interp(lo_rank, positions, ordered)), float(np.interp(hi_rank, positions, ordered))


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
