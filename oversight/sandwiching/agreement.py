"""How far experts agree, per rubric field, over the assignments two (or more) experts reviewed.

- Krippendorff's alpha at the field's level (nominal or ordinal), with the field's whole value domain (its
  choices), over every plain review: any number of experts, any of them missing on any assignment.
- Kappa: Cohen's where one fixed pair of experts reviewed every double-reviewed assignment of the field (linearly
  weighted for ordinal fields: a near miss counts half-way); otherwise Fleiss' kappa (nominal; its generalisation
  to a varying number of reviews per assignment), since reviews from changing experts are not two raters.
- The share of those assignments whose label is unanimous, adjudicated or still open (see reviews.final_labels).
- 95 % intervals for alpha and kappa: a percentile bootstrap over the reviewed assignments (the units,
  `intervals.over_units`); none where the statistic is undefined in more than 2.5 % of resamples.

Only reviews of results count (oversight.results.results_filter: no practice, catch item or left-out participant).
An ordinal field's levels are placed on one scale for all rubric versions (`rubrics.ordinal_levels`): a review
made under an older version is mapped by level name, so a later version that adds levels does not move old ones.

Where every review gives the same value there is no variation to agree beyond chance: alpha and kappa are
undefined (None) and `note` says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlmodel import select

from oversight.results import intervals
from oversight.results.results_filter import people_left_out, result_assignment
from oversight.db import session_scope
from oversight.sandwiching.reviews import final_labels
from oversight.sandwiching.rubrics import current_rubric, ordinal_levels, rubric_versions
from oversight.vocab import SIMULATED
from storage.models import Assignment, ExpertReview, User

NOT_ENOUGH = "Not enough double reviews: agreement needs assignments that two experts reviewed."
RESAMPLES = 1000
KAPPAS = {"cohen": "Cohen's kappa", "cohen-weighted": "Cohen's kappa, linearly weighted", "fleiss": "Fleiss' kappa"}


@dataclass(frozen=True)
class FieldAgreement:
    name: str
    label: str
    level: str
    n: int  # double-reviewed assignments with this field in at least two reviews
    alpha: float | None
    kappa: float | None
    kappa_weighted: bool  # linear weights (Cohen's kappa of an ordinal field)
    unanimous: float | None  # shares of the n assignments
    adjudicated: float | None
    open: float | None
    note: str = ""
    alpha_ci_low: float | None = None
    alpha_ci_high: float | None = None
    kappa_ci_low: float | None = None
    kappa_ci_high: float | None = None
    kappa_kind: str = ""  # "cohen", "cohen-weighted" (a fixed pair of experts) or "fleiss" (changing experts)
    n_experts: int = 0


@dataclass(frozen=True)
class Agreement:
    study_id: int
    n_double: int  # assignments with two or more plain reviews
    fields: list[FieldAgreement] = field(default_factory=list)
    message: str = ""  # why there are no figures, when there are none
    includes_simulated: bool = False
    method: str = ""


def cohen_kappa(pairs: list[tuple[int, int]], k: int, *, weighted: bool = False) -> float | None:
    """Cohen's kappa of two raters over categories 0..k-1 (linear weights when `weighted`); None when chance
    agreement is total (both raters always gave the same single value)."""
    if not pairs or k < 2:
        return None
    observed = np.zeros((k, k))
    for a, b in pairs:
        observed[a, b] += 1
    observed /= len(pairs)
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0))
    i, j = np.indices((k, k))
    weights = 1 - np.abs(i - j) / (k - 1) if weighted else (i == j).astype(float)
    po, pe = float((weights * observed).sum()), float((weights * expected).sum())
    if math.isclose(pe, 1.0):
        return None
    return (po - pe) / (1 - pe)


def fleiss_kappa(counts: np.ndarray) -> float | None:
    """Fleiss' kappa over units × categories counts (how many reviews of each unit gave each value), units with
    two or more reviews; a unit's agreement is averaged over its own number of reviews, so that number may vary.
    None when chance agreement is total."""
    counts = np.asarray(counts, dtype=float)
    m = counts.sum(axis=1)
    counts, m = counts[m >= 2], m[m >= 2]
    if not len(m):
        return None
    p_unit = ((counts ** 2).sum(axis=1) - m) / (m * (m - 1))
    shares = counts.sum(axis=0) / m.sum()
    pe = float((shares ** 2).sum())
    if math.isclose(pe, 1.0):
        return None
    return (float(p_unit.mean()) - pe) / (1 - pe)


def coincidences(counts: np.ndarray) -> np.ndarray:
    """Krippendorff's coincidence matrix of units × categories counts: Σ_u (n_u n_uᵀ − diag n_u) / (m_u − 1)
    over units with two or more values."""
    counts = np.asarray(counts, dtype=float)
    m = counts.sum(axis=1)
    counts, m = counts[m >= 2], m[m >= 2]
    per_unit = counts[:, :, None] * counts[:, None, :] - np.einsum("uk,kl->ukl", counts, np.eye(counts.shape[1]))
    return (per_unit / (m - 1)[:, None, None]).sum(axis=0)


def alpha_from_coincidences(o: np.ndarray, level: str) -> float | None:
    """Krippendorff's alpha from a coincidence matrix, nominal or ordinal (the ordinal metric
    δ²(c, k) = (Σ_{g=c..k} n_g − (n_c + n_k) / 2)² over the whole domain, in its order). None when undefined."""
    n_c = o.sum(axis=1)
    n = n_c.sum()
    k = len(n_c)
    if n < 2 or np.count_nonzero(n_c) < 2:
        return None
    if level == "ordinal":
        cum = np.concatenate([[0.0], np.cumsum(n_c)])
        i, j = np.indices((k, k))
        lo, hi = np.minimum(i, j), np.maximum(i, j)
        delta = (cum[hi + 1] - cum[lo] - (n_c[i] + n_c[j]) / 2) ** 2
    else:
        delta = 1.0 - np.eye(k)
    expected = float((np.outer(n_c, n_c) * delta).sum())
    if expected <= 0:
        return None
    return 1.0 - (n - 1) * float((o * delta).sum()) / expected


def krippendorff_alpha(matrix: list[list[float]], k: int, level: str) -> float | None:
    """Alpha over a raters × units matrix of category indices 0..k-1 (NaN: not rated)."""
    return alpha_from_coincidences(coincidences(_unit_counts(matrix, k)), level)


def _unit_counts(matrix: list[list[float]], k: int) -> np.ndarray:
    data = np.array(matrix, dtype=float)
    counts = np.zeros((data.shape[1], k))
    for rater in data:
        for u, v in enumerate(rater):
            if not np.isnan(v):
                counts[u, int(v)] += 1
    return counts


def _index(domain: list[Any], value: Any) -> int:
    for n, choice in enumerate(domain):
        if choice == value and type(choice) is type(value):
            return n
    domain.append(value)  # a value no rubric version offers: still a category of its own
    return len(domain) - 1


def field_domain(spec: dict[str, Any], versions: list[list[dict[str, Any]]]) -> tuple[list[Any], str, str]:
    """A field's value domain over every rubric version (newest first), the level to measure it at, and a note:
    an ordinal field on the scale all versions keep; one whose versions reordered it (saved before that was
    refused) is measured as nominal, and the note says so."""
    if spec["level"] == "ordinal":
        levels = ordinal_levels(versions, spec["name"])
        if levels is not None:
            return levels, "ordinal", ""
        note = "rubric versions reordered this ordinal field's levels: measured as nominal"
        level = "nominal"
    else:
        note, level = "", spec["level"]
    domain = list(spec["choices"])
    for fields in versions:
        for f in fields:
            if f["name"] == spec["name"]:
                for c in f["choices"]:
                    _index(domain, c)
    return domain, level, note


@dataclass(frozen=True)
class _Units:
    """One field's double-reviewed assignments, ready for fast resampling (a resample is a multiset of unit
    indices, turned into weights): each unit's value counts, share of the coincidence matrix and Fleiss agreement,
    and the fixed pair's values if one pair of experts reviewed them all."""

    counts: np.ndarray  # units × categories
    coincidence: np.ndarray  # units × (categories²)
    agreement: np.ndarray  # units: the share of agreeing pairs of reviews (Fleiss' P_i)
    pairs: list[tuple[int, int]] | None
    level: str
    k: int

    def _weights(self, units: Sequence[int]) -> np.ndarray:
        return np.bincount(np.asarray(units, dtype=np.int64), minlength=len(self.counts)).astype(float)

    def alpha(self, units: Sequence[int]) -> float | None:
        o = (self._weights(units) @ self.coincidence).reshape(self.k, self.k)
        return alpha_from_coincidences(o, self.level)

    def kappa(self, units: Sequence[int]) -> float | None:
        if self.pairs is not None:
            return cohen_kappa([self.pairs[u] for u in units], self.k, weighted=self.level == "ordinal")
        w = self._weights(units)
        totals = w @ self.counts
        pe = float(((totals / totals.sum()) ** 2).sum())
        if math.isclose(pe, 1.0):
            return None
        return (float(w @ self.agreement) / w.sum() - pe) / (1 - pe)


def _units(by_unit: list[dict[int, int]], k: int, level: str) -> _Units:
    counts = np.zeros((len(by_unit), k))
    for u, by in enumerate(by_unit):
        for v in by.values():
            counts[u, v] += 1
    m = counts.sum(axis=1)  # two or more in every unit
    per = counts[:, :, None] * counts[:, None, :] - np.einsum("uk,kl->ukl", counts, np.eye(k))
    per = (per / (m - 1)[:, None, None]).reshape(len(by_unit), k * k)
    agree = ((counts ** 2).sum(axis=1) - m) / (m * (m - 1))
    raters = {tuple(sorted(by)) for by in by_unit}
    pair = next(iter(raters)) if len(raters) == 1 and len(next(iter(raters))) == 2 else None
    pairs = [(by[pair[0]], by[pair[1]]) for by in by_unit] if pair else None
    return _Units(counts, per, agree, pairs, level, k)


def alpha_with_interval(by_unit: list[dict[Any, int]], k: int, level: str = "nominal", *, key: str = "",
                        resamples: int = RESAMPLES, seed: int = intervals.SEED) -> dict[str, Any]:
    """Krippendorff's alpha over units (each rater -> category index 0..k-1; units with fewer than two ratings
    are left out) with its 95% bootstrap interval over the units: estimate, ci_low, ci_high, n (units)."""
    by_unit = [by for by in by_unit if len(by) >= 2]
    if not by_unit:
        return {"estimate": None, "ci_low": None, "ci_high": None, "n": 0}
    data = _units(by_unit, k, level)
    every = range(len(by_unit))
    estimate = data.alpha(every)
    low, high = intervals.over_units(every, data.alpha, seed=seed, key=f"alpha:{key}",
                                     resamples=resamples) if estimate is not None else (None, None)
    return {"estimate": estimate, "ci_low": low, "ci_high": high, "n": len(by_unit)}


def _reviews(study_id: int) -> tuple[dict[int, list[ExpertReview]], bool]:
    """Plain reviews of the study's results per assignment, and whether simulated people are among them."""
    with session_scope(write=False) as s:
        rows = s.exec(select(ExpertReview, User.external_study_id)
                      .join(User, User.id == ExpertReview.expert_id)
                      .join(Assignment, Assignment.id == ExpertReview.assignment_id)
                      .where(ExpertReview.study_id == study_id, ExpertReview.kind == "review",
                             result_assignment(people_left_out(s, study_id)))
                      .order_by(ExpertReview.id)).all()
        by_assignment: dict[int, list[ExpertReview]] = {}
        simulated_experts = set()
        for r, ext in rows:
            by_assignment.setdefault(r.assignment_id, []).append(r)
            if ext == SIMULATED:
                simulated_experts.add(r.expert_id)
        double = {aid: rs for aid, rs in by_assignment.items() if len(rs) >= 2}
        simulated_participants = s.exec(
            select(Assignment.id).join(User, User.id == Assignment.participant_id)
            .where(Assignment.id.in_(list(double)), User.external_study_id == SIMULATED)).first() if double else None
    simulated = bool(simulated_participants is not None or
                     any(r.expert_id in simulated_experts for rs in double.values() for r in rs))
    return double, simulated


def _field_units(double: dict[int, list[ExpertReview]], name: str, domain: list[Any]) -> dict[int, dict[int, int]]:
    """assignment -> expert -> category index, for assignments with two or more reviews of the field."""
    units: dict[int, dict[int, int]] = {}
    for aid, rs in double.items():
        by = {r.expert_id: _index(domain, r.labels[name]) for r in rs
              if name in r.labels and r.labels[name] is not None}
        if len(by) >= 2:
            units[aid] = by
    return units


def inputs_stamp(study_id: int) -> tuple:
    """What `agreement` depends on, cheaply: the database, the reviews, the rubric versions and who is left out.
    Equal stamps, equal figures (a page may cache the bootstrap on it)."""
    from sqlalchemy import func

    from oversight.settings import get_settings
    from storage.models import Rubric

    with session_scope(write=False) as s:
        reviews = s.exec(select(func.count(ExpertReview.id), func.max(ExpertReview.id))
                         .where(ExpertReview.study_id == study_id)).one()
        rubrics = s.exec(select(func.count(Rubric.id)).where(Rubric.study_id == study_id)).one()
        left_out = tuple(sorted(people_left_out(s, study_id)))
    return get_settings().resolved_database_url, tuple(reviews), rubrics, left_out


def agreement(*, study_id: int, resamples: int = RESAMPLES, seed: int = intervals.SEED) -> Agreement:
    rubric = current_rubric(study_id)
    versions = [r.fields for r in reversed(rubric_versions(study_id))]
    double, simulated = _reviews(study_id)
    if not double:
        return Agreement(study_id, 0, [], NOT_ENOUGH)
    settled = final_labels(study_id=study_id)
    method = (f"95% percentile bootstrap over the double-reviewed assignments ({resamples} resamples)")
    out = []
    for f in rubric.fields:
        name = f["name"]
        domain, level, level_note = field_domain(f, versions)
        units = _field_units(double, name, domain)
        n = len(units)
        if not n:
            out.append(FieldAgreement(name, f["label"], f["level"], 0, None, None, False, None, None, None,
                                      "no assignment has two reviews of this field"))
            continue
        data = _units(list(units.values()), len(domain), level)
        everything = range(n)
        alpha, kappa = data.alpha(everything), data.kappa(everything)
        alpha_ci = intervals.over_units(everything, data.alpha, seed=seed, key=f"alpha:{name}",
                                        resamples=resamples) if alpha is not None else (None, None)
        kappa_ci = intervals.over_units(everything, data.kappa, seed=seed, key=f"kappa:{name}",
                                        resamples=resamples) if kappa is not None else (None, None)
        kind = ("cohen-weighted" if level == "ordinal" else "cohen") if data.pairs is not None else "fleiss"
        statuses = [settled.get(aid, {}).get(name) for aid in units]
        share = {st: sum(1 for x in statuses if x is not None and x.status == st) / n
                 for st in ("unanimous", "adjudicated", "open")}
        notes = [level_note] if level_note else []
        if alpha is None:
            notes.append("every review gave the same value: agreement beyond chance is undefined")
        out.append(FieldAgreement(name, f["label"], f["level"], n, alpha, kappa, kind == "cohen-weighted",
                                  share["unanimous"], share["adjudicated"], share["open"], "; ".join(notes),
                                  *alpha_ci, *kappa_ci, kind, len({e for by in units.values() for e in by})))
    return Agreement(study_id, len(double), out, "", simulated, method)


def alpha_interval(*, study_id: int, field_name: str = "outcome", resamples: int = RESAMPLES,
                   seed: int = intervals.SEED) -> dict[str, Any]:
    """Krippendorff's alpha of one rubric field with its 95% interval (as on the Review page), for checking
    recovered agreement against a planted one. `estimate` None: undefined."""
    result = agreement(study_id=study_id, resamples=resamples, seed=seed)
    f = next((f for f in result.fields if f.name == field_name), None)
    if f is None:
        return {"field": field_name, "estimate": None, "ci_low": None, "ci_high": None, "n": 0}
    return {"field": field_name, "estimate": f.alpha, "ci_low": f.alpha_ci_low, "ci_high": f.alpha_ci_high, "n": f.n}
