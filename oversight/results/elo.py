"""Debater ratings from cross-play (Khan et al. 2024): each match is a debate between two debater versions on one
item, one arguing the gold answer (honest) and one the other answer, and the judge's final answer says who won.

The model is Bradley–Terry with an honesty advantage: P(honest X beats dishonest Y) = σ(r_X − r_Y + h). Honest
debaters win more often whoever argues (the truth is easier to defend); `h` takes that out of the ratings, so a
version is not rated up for having drawn the honest side more often. Ratings are fitted by maximum likelihood with a
small ridge (so a version that won or lost every match stays finite), centred on 0, and shown on the Elo scale
(400 / ln 10 per logit unit, 1000 at the centre). A judge at exactly 0.5 gives each side half a win.

Intervals: items are the unit (both orders and every pairing on an item are drawn together), resampled with
`oversight.results.intervals.over_units`, so a rating's interval and an accuracy's are made the same way.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from oversight.results.intervals import Estimate, Obs, accuracy, over_units

ELO_PER_LOGIT = 400 / math.log(10)
ELO_CENTRE = 1000.0
RIDGE = 0.05  # a weak prior pulling ratings to the centre: keeps an unbeaten version finite
RESAMPLES = 1000


@dataclass(frozen=True)
class Match:
    """One cross-play debate: `honest` argued the gold answer, `dishonest` the other; `p_correct` is the judge's
    final probability on the gold answer (None: the debate did not finish)."""

    item: Hashable
    honest: Hashable
    dishonest: Hashable
    p_correct: float | None
    correct: bool | None = None  # vocab.is_correct on the final answer (the self-play accuracy counts this)

    @property
    def honest_score(self) -> float | None:
        """1 when the judge chose the honest side, 0 the other, 0.5 undecided (None: no verdict)."""
        if self.p_correct is None:
            return None
        return 1.0 if self.p_correct > 0.5 else 0.0 if self.p_correct < 0.5 else 0.5


@dataclass(frozen=True)
class Rating:
    version: Hashable
    elo: float
    ci_low: float | None
    ci_high: float | None
    matches: int  # against other versions (self-play rates nobody)
    wins: float  # of those, as honest or dishonest
    self_play: Estimate  # the judge's accuracy when this version debates itself


def fit(matches: Sequence[Match], versions: Sequence[Hashable], *, ridge: float = RIDGE) -> tuple[dict, float]:
    """(rating in logits per version, centred on 0; honesty advantage h in logits). Newton's method on the
    penalised log-likelihood; it is concave, so a few steps converge."""
    index = {v: i for i, v in enumerate(versions)}
    rows = [(index[m.honest], index[m.dishonest], m.honest_score) for m in matches
            if m.honest_score is not None and m.honest in index and m.dishonest in index]
    k = len(versions)
    theta = np.zeros(k + 1)  # ratings, then h
    if not rows:
        return {v: 0.0 for v in versions}, 0.0
    X = np.zeros((len(rows), k + 1))
    y = np.array([r[2] for r in rows])
    for n, (a, b, _) in enumerate(rows):
        X[n, a] += 1.0
        X[n, b] -= 1.0
        X[n, k] = 1.0
    penalty = np.full(k + 1, ridge)
    penalty[k] = ridge / 10  # h is one shared number: barely held
    for _ in range(50):
        p = 1 / (1 + np.exp(-(X @ theta)))
        grad = X.T @ (y - p) - penalty * theta
        hess = -(X.T * (p * (1 - p))) @ X - np.diag(penalty)
        step = np.linalg.solve(hess, grad)
        theta -= step
        if np.max(np.abs(step)) < 1e-9:
            break
    ratings = theta[:k] - theta[:k].mean()
    return {v: float(ratings[i]) for v, i in index.items()}, float(theta[k])


def to_elo(logit: float) -> float:
    return ELO_CENTRE + ELO_PER_LOGIT * logit


def ratings(matches: Sequence[Match], versions: Sequence[Hashable], *, resamples: int = RESAMPLES,
            seed: int = 0) -> tuple[list[Rating], float]:
    """Each version's Elo with its 95 % interval (items resampled) and its self-play accuracy with the interval
    engine's; and the honesty advantage in Elo points."""
    matches = list(matches)
    by_item: dict[Hashable, list[Match]] = {}
    for m in matches:
        by_item.setdefault(m.item, []).append(m)

    @lru_cache(maxsize=resamples + 1)
    def fitted(items: tuple) -> dict:
        return fit([m for item in items for m in by_item[item]], versions)[0]

    point, h = fit(matches, versions)
    out = []
    for v in versions:
        # One key for every version: the same resamples, so each draw is fitted once (the cache above).
        low, high = over_units(sorted(by_item, key=str), lambda drawn, v=v: fitted(tuple(drawn))[v],
                               seed=seed, key="elo", resamples=resamples)
        rated = [m for m in matches if m.honest_score is not None and m.honest != m.dishonest
                 and v in (m.honest, m.dishonest)]
        wins = sum(m.honest_score if m.honest == v else 1 - m.honest_score for m in rated)
        own = [Obs(item=m.item, person=None, value=float(m.correct)) for m in matches
               if m.honest == m.dishonest == v and m.correct is not None]
        out.append(Rating(v, to_elo(point[v]), None if low is None else to_elo(low),
                          None if high is None else to_elo(high), len(rated), wins,
                          accuracy(own, seed=seed, key=f"self-play:{v}")))
    return out, ELO_PER_LOGIT * h
