"""Thompson sampling over strategy versions (`Study.allocation == "thompson"`): participants go to the promising
versions of an assisted condition's strategy. Beta–Bernoulli on expert-judged success: each candidate version
has Beta(1 + successes, 1 + failures), where a success is an assignment whose settled rubric outcome is
"correct" and a failure one settled "incorrect" or "unclear" ("item flawed" says nothing about the strategy;
open disagreements count for neither). The draw and the chosen version go to the audit log.

Who sees which version then depends on earlier outcomes, so per-version figures are adaptively sampled: each
assignment stores the probability its version had of being drawn (`Assignment.allocation_probability`), the
probability that its Beta sample is the highest, by Monte Carlo over the posteriors (DRAWS draws, seeded so the
same posterior always gives the same probability). The Loops page weights answers by its inverse."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlmodel import select

from oversight.results.results_filter import NON_EXPERT, people_left_out, result_assignment
from oversight.audit import log_event
from oversight.sandwiching.reviews import final_labels
from storage.models import Assignment, Condition, Strategy, User, VersionDecision
FAILURES = ("incorrect", "unclear")
DRAWS = 4000  # Monte Carlo draws for a version's probability of being drawn: its standard error is below 0.008
SEED = 0


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
    """(successes, failures) per version from the settled expert outcomes of its non-experts' results."""
    labels = final_labels(study_id=study_id)
    rows = s.exec(select(Assignment.id, Assignment.strategy_id).join(User, User.id == Assignment.participant_id)
                  .where(Assignment.study_id == study_id, Assignment.strategy_id.in_(list(versions)),
                         User.role == NON_EXPERT, result_assignment(people_left_out(s, study_id)))).all()
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


def draw_probabilities(candidates: Sequence[int], counts: dict[int, tuple[int, int]], *, draws: int = DRAWS,
                       seed: int = SEED) -> dict[int, float]:
    """Pure: each candidate's probability of having the highest Beta(1 + s, 1 + f) sample, i.e. of being the one
    `thompson_pick` deals, by Monte Carlo. Never below 1 / draws: a dealt version had some chance, and its inverse
    is a weight."""
    rng = np.random.default_rng(seed)
    samples = np.stack([rng.beta(1 + counts.get(c, (0, 0))[0], 1 + counts.get(c, (0, 0))[1], draws)
                        for c in candidates])
    wins = np.bincount(samples.argmax(axis=0), minlength=len(candidates))
    return {c: max(int(w), 1) / draws for c, w in zip(candidates, wins)}


def choose_version(s, condition: Condition, *, user_id: int, rng: random.Random) -> tuple[int, float]:
    """The version a participant is dealt under an assisted condition, by Thompson sampling, and the probability
    it had of being drawn (1 when there was nothing to choose from); audited."""
    candidates = candidate_versions(s, condition)
    if len(candidates) <= 1:
        return condition.strategy_id, 1.0
    counts = success_counts(s, condition.study_id, candidates)
    draw = thompson_pick(candidates, counts, rng)
    probability = draw_probabilities(candidates, counts)[draw.chosen]
    log_event(s, "allocation.thompson", user_id=user_id, study_id=condition.study_id, condition=condition.id,
              chosen=draw.chosen, probability=round(probability, 4),
              samples={str(k): round(v, 4) for k, v in draw.samples.items()},
              counts={str(k): list(v) for k, v in draw.counts.items()})
    return draw.chosen, probability
