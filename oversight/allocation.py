"""Thompson sampling over strategy versions (`Study.allocation == "thompson"`): participants go to the promising
versions of an assisted condition's strategy. Beta–Bernoulli on expert-judged success: each candidate version
has Beta(1 + successes, 1 + failures), where a success is an assignment whose settled rubric outcome is
"correct" and a failure one settled "incorrect" or "unclear" ("item flawed" says nothing about the strategy;
open disagreements count for neither). The draw and the chosen version go to the audit log."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import select

from oversight.results_filter import people_left_out, result_assignment
from oversight.audit import log_event
from oversight.reviews import final_labels
from storage.models import Assignment, Condition, Strategy, VersionDecision

ALLOCATIONS = ("balanced", "thompson")
FAILURES = ("incorrect", "unclear")


@dataclass(frozen=True)
class Draw:
    chosen: int
    samples: dict[int, float]  # version id -> its Beta sample
    counts: dict[int, tuple[int, int]]  # version id -> (successes, failures)


def thompson_pick(candidates: Sequence[int], counts: dict[int, tuple[int, int]], rng: random.Random) -> Draw:
    """Pure: sample Beta(1 + s, 1 + f) per candidate and pick the highest."""
    if not candidates:
        raise ValueError("no candidate versions")
    counts = {c: counts.get(c, (0, 0)) for c in candidates}
    samples = {c: rng.betavariate(1 + counts[c][0], 1 + counts[c][1]) for c in candidates}
    return Draw(max(candidates, key=samples.__getitem__), samples, counts)


def candidate_versions(s, condition: Condition) -> list[int]:
    """The condition's current version plus every version of its strategy's lineage (same study and name) whose
    latest decision is "candidate" or "promoted"."""
    current = s.get(Strategy, condition.strategy_id)
    if current is None:
        return []
    lineage = s.exec(select(Strategy.id).where(Strategy.study_id == current.study_id,
                                               Strategy.name == current.name)).all()
    latest: dict[int, str] = {}
    for sid, decision in s.exec(select(VersionDecision.strategy_id, VersionDecision.decision)
                                .where(VersionDecision.strategy_id.in_(lineage))
                                .order_by(VersionDecision.id)).all():
        latest[sid] = decision
    picked = {sid for sid, d in latest.items() if d in ("candidate", "promoted")} | {current.id}
    return sorted(picked)


def success_counts(s, study_id: int, versions: Sequence[int]) -> dict[int, tuple[int, int]]:
    """(successes, failures) per version from the settled expert outcomes of its real assignments."""
    labels = final_labels(study_id=study_id)
    rows = s.exec(select(Assignment.id, Assignment.strategy_id).where(
        Assignment.study_id == study_id, Assignment.strategy_id.in_(list(versions)),
        result_assignment(people_left_out(s, study_id)))).all()
    counts = {v: [0, 0] for v in versions}
    for aid, sid in rows:
        outcome = labels.get(aid, {}).get("outcome")
        if outcome is None or outcome.value is None:
            continue
        if outcome.value == "correct":
            counts[sid][0] += 1
        elif outcome.value in FAILURES:
            counts[sid][1] += 1
    return {v: (a, b) for v, (a, b) in counts.items()}


def choose_version(s, condition: Condition, *, user_id: int, rng: random.Random) -> int:
    """The version a participant is dealt under an assisted condition, by Thompson sampling; audited."""
    candidates = candidate_versions(s, condition)
    if len(candidates) <= 1:
        return condition.strategy_id
    draw = thompson_pick(candidates, success_counts(s, condition.study_id, candidates), rng)
    log_event(s, "allocation.thompson", user_id=user_id, study_id=condition.study_id, condition=condition.id,
              chosen=draw.chosen, samples={str(k): round(v, 4) for k, v in draw.samples.items()},
              counts={str(k): list(v) for k, v in draw.counts.items()})
    return draw.chosen
