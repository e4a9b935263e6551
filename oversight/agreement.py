"""How far experts agree, per rubric field, over the assignments two (or more) experts reviewed.

- Krippendorff's alpha (the `krippendorff` package) at the field's level (nominal or ordinal), with the field's
  whole value domain (its choices), over every plain review: rows are experts, columns assignments.
- Cohen's kappa for two reviewers: the first and second review of each assignment (whoever wrote them), so it is
  defined with any number of experts. Ordinal fields get linearly weighted kappa (a near miss counts half-way).
- The share of those assignments whose label is unanimous, adjudicated or still open (see reviews.final_labels).

Where every review gives the same value there is no variation to agree beyond chance: alpha and kappa are
undefined (None) and `note` says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlmodel import select

from oversight.results_filter import people_left_out, result_assignment
from oversight.db import session_scope
from oversight.reviews import final_labels
from oversight.rubrics import current_rubric
from oversight.vocab import SIMULATED
from storage.models import Assignment, ExpertReview, User

NOT_ENOUGH = "Not enough double reviews: agreement needs assignments that two experts reviewed."


@dataclass(frozen=True)
class FieldAgreement:
    name: str
    label: str
    level: str
    n: int  # double-reviewed assignments with this field in at least two reviews
    alpha: float | None
    kappa: float | None
    kappa_weighted: bool  # linear weights (ordinal fields)
    unanimous: float | None  # shares of the n assignments
    adjudicated: float | None
    open: float | None
    note: str = ""


@dataclass(frozen=True)
class Agreement:
    study_id: int
    n_double: int  # assignments with two or more plain reviews
    fields: list[FieldAgreement] = field(default_factory=list)
    message: str = ""  # why there are no figures, when there are none
    includes_simulated: bool = False


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


def krippendorff_alpha(matrix: list[list[float]], k: int, level: str) -> float | None:
    """Alpha over a raters × units matrix of category indices 0..k-1 (NaN: not rated)."""
    import krippendorff

    data = np.array(matrix, dtype=float)
    values = set(data[~np.isnan(data)].tolist())
    if len(values) < 2:
        return None
    value = krippendorff.alpha(reliability_data=data, level_of_measurement=level, value_domain=list(range(k)))
    return None if value is None or math.isnan(value) else float(value)


def _index(domain: list[Any], value: Any) -> int:
    for n, choice in enumerate(domain):
        if choice == value and type(choice) is type(value):
            return n
    domain.append(value)  # a value of an older rubric version: still a category of its own
    return len(domain) - 1


def agreement(*, study_id: int) -> Agreement:
    rubric = current_rubric(study_id)
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
    if not double:
        return Agreement(study_id, 0, [], NOT_ENOUGH)
    settled = final_labels(study_id=study_id)
    experts = sorted({r.expert_id for rs in double.values() for r in rs})
    out = []
    for f in rubric.fields:
        name, domain = f["name"], list(f["choices"])
        units = {aid: [r for r in rs if name in r.labels] for aid, rs in double.items()}
        units = {aid: rs for aid, rs in units.items() if len(rs) >= 2}
        n = len(units)
        if not n:
            out.append(FieldAgreement(name, f["label"], f["level"], 0, None, None, False, None, None, None,
                                      "no assignment has two reviews of this field"))
            continue
        matrix = [[math.nan] * n for _ in experts]
        pairs = []
        for col, rs in enumerate(units.values()):
            for r in rs:
                matrix[experts.index(r.expert_id)][col] = _index(domain, r.labels[name])
            pairs.append((_index(domain, rs[0].labels[name]), _index(domain, rs[1].labels[name])))
        ordinal = f["level"] == "ordinal"
        alpha = krippendorff_alpha(matrix, len(domain), f["level"])
        kappa = cohen_kappa(pairs, len(domain), weighted=ordinal)
        statuses = [settled.get(aid, {}).get(name) for aid in units]
        share = {st: sum(1 for x in statuses if x is not None and x.status == st) / n
                 for st in ("unanimous", "adjudicated", "open")}
        note = "" if alpha is not None else "every review gave the same value: agreement beyond chance is undefined"
        out.append(FieldAgreement(name, f["label"], f["level"], n, alpha, kappa, ordinal, share["unanimous"],
                                  share["adjudicated"], share["open"], note))
    return Agreement(study_id, len(double), out, "", simulated)


def alpha_interval(*, study_id: int, field_name: str = "outcome", resamples: int = 1000,
                   seed: int = 0) -> dict[str, Any]:
    """Krippendorff's alpha of one rubric field with a 95% percentile bootstrap interval over the doubly reviewed
    assignments (units), for checking recovered agreement against a planted one. `estimate` None: undefined."""
    rubric = current_rubric(study_id)
    spec = next((f for f in rubric.fields if f["name"] == field_name), None)
    if spec is None:
        return {"field": field_name, "estimate": None, "ci_low": None, "ci_high": None, "n": 0}
    with session_scope(write=False) as s:
        rows = s.exec(select(ExpertReview).join(Assignment, Assignment.id == ExpertReview.assignment_id)
                      .where(ExpertReview.study_id == study_id, ExpertReview.kind == "review",
                             result_assignment(people_left_out(s, study_id)))
                      .order_by(ExpertReview.id)).all()
    units: dict[int, dict[int, Any]] = {}
    for r in rows:
        if field_name in r.labels and r.labels[field_name] is not None:
            units.setdefault(r.assignment_id, {})[r.expert_id] = r.labels[field_name]
    units = {aid: by for aid, by in units.items() if len(by) >= 2}
    domain = list(spec["choices"])
    experts = sorted({e for by in units.values() for e in by})
    columns = [[_index(domain, by[e]) if e in by else math.nan for e in experts] for by in units.values()]

    def alpha_of(cols: list[list[float]]) -> float | None:
        return krippendorff_alpha([list(row) for row in zip(*cols)], len(domain), spec["level"]) if cols else None

    estimate = alpha_of(columns)
    rng = np.random.default_rng(seed)
    draws = [a for a in (alpha_of([columns[i] for i in rng.integers(0, len(columns), len(columns))])
                         for _ in range(resamples if estimate is not None else 0)) if a is not None]
    low, high = (float(np.percentile(draws, 2.5)), float(np.percentile(draws, 97.5))) if draws else (None, None)
    return {"field": field_name, "estimate": estimate, "ci_low": low, "ci_high": high, "n": len(columns)}
