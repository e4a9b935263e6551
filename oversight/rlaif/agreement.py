"""Agreement between label sources on the same pairs: percent agreement with a 95 % Wilson interval, Cohen's
kappa, Krippendorff's alpha among several raters (the `krippendorff` package, nominal level).

A label is the index (0/1) of the preferred response. A source maps a pair key (or item id) to its label; a
source with several raters per pair (people) is reduced to its majority label per pair (`majority`), a tie
leaving the pair out, before it is compared with another source.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence

from oversight.results.report import wilson_interval

Labels = Mapping[Hashable, int]


def proportion(k: int, n: int) -> dict:
    """k of n with the 95 % Wilson interval: estimate, ci_low, ci_high, n (estimate None when n is 0)."""
    low, high = wilson_interval(k, n)
    return {"estimate": k / n if n else None, "ci_low": low, "ci_high": high, "k": k, "n": n}


def percent_agreement(a: Labels, b: Labels) -> dict:
    """Share of the pairs labelled by both on which they agree, with its interval."""
    common = [key for key in a if key in b]
    return proportion(sum(a[key] == b[key] for key in common), len(common))


def cohen_kappa(a: Labels, b: Labels) -> float | None:
    """Cohen's kappa on the pairs both labelled; None with no pairs or when chance agreement is total."""
    common = [key for key in a if key in b]
    n = len(common)
    if n == 0:
        return None
    observed = sum(a[key] == b[key] for key in common) / n
    ca, cb = Counter(a[key] for key in common), Counter(b[key] for key in common)
    expected = sum(ca[c] * cb[c] for c in set(ca) | set(cb)) / (n * n)
    if expected == 1.0:
        return None
    return (observed - expected) / (1 - expected)


def krippendorff_alpha(ratings: Mapping[Hashable, Mapping[Hashable, int]]) -> float | None:
    """Nominal Krippendorff's alpha; `ratings` maps rater -> {pair: label}. None when fewer than two raters or
    no pair has two ratings, or when every rating is the same value (alpha is undefined then)."""
    import numpy as np
    import krippendorff

    raters = list(ratings)
    keys = sorted({k for r in raters for k in ratings[r]}, key=str)
    if len(raters) < 2 or not keys:
        return None
    data = np.full((len(raters), len(keys)), np.nan)
    for i, r in enumerate(raters):
        for j, key in enumerate(keys):
            if key in ratings[r]:
                data[i, j] = ratings[r][key]
    pairable = (~np.isnan(data)).sum(axis=0) >= 2
    values = data[:, pairable]
    values = values[~np.isnan(values)]
    if values.size == 0 or len(set(values.tolist())) < 2:
        return None
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))


def majority(ratings: Mapping[Hashable, Mapping[Hashable, int]]) -> dict[Hashable, int]:
    """Per pair, the label most raters gave; ties are left out."""
    votes: dict[Hashable, Counter] = {}
    for per_rater in ratings.values():
        for key, label in per_rater.items():
            votes.setdefault(key, Counter())[label] += 1
    out = {}
    for key, counter in votes.items():
        (top, n_top), *rest = counter.most_common()
        if not rest or rest[0][1] < n_top:
            out[key] = top
    return out


def agreement_table(sources: Mapping[str, Labels], order: Sequence[str] | None = None) -> list[dict]:
    """One row per pair of sources: n pairs in common, percent agreement with its interval, Cohen's kappa."""
    names = list(order or sources)
    rows = []
    for x, y in itertools.combinations(names, 2):
        agree = percent_agreement(sources[x], sources[y])
        rows.append({"a": x, "b": y, "n": agree["n"], "agreement": agree["estimate"], "ci_low": agree["ci_low"],
                     "ci_high": agree["ci_high"], "kappa": cohen_kappa(sources[x], sources[y])})
    return rows
