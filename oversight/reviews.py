"""Expert reviews of transcripts: a verdict on the outcome, a score and written feedback for the outer loop."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import select

from oversight.audit import log_event
from oversight.db import session_scope
from storage.models import ExpertReview, Transcript, User

VERDICTS = ("judge right", "judge wrong", "item flawed", "unclear")


class ReviewError(Exception):
    """A review that cannot be saved; the message is safe to show."""


@dataclass(frozen=True)
class Review:
    id: int
    expert: str
    verdict: str
    score: float | None
    notes: str
    created_at: datetime


def add_review(*, transcript_id: int, expert_id: int, verdict: str, score: float | None, notes: str) -> int:
    if verdict not in VERDICTS:
        raise ReviewError(f"verdict must be one of {', '.join(VERDICTS)}")
    if score is not None and not 1 <= score <= 5:
        raise ReviewError("score must be from 1 to 5")
    with session_scope() as s:
        t = s.get(Transcript, transcript_id)
        user = s.get(User, expert_id)
        if t is None:
            raise ReviewError(f"no transcript with id {transcript_id}")
        if user is None or user.role not in ("expert", "admin"):
            raise ReviewError("only experts and admins review transcripts")
        row = ExpertReview(study_id=t.study_id, expert_id=expert_id, transcript_id=t.id,
                           assignment_id=t.assignment_id, verdict=verdict, score=score, notes=notes.strip())
        s.add(row)
        s.flush()
        log_event(s, "review.add", user_id=expert_id, study_id=t.study_id, transcript=t.id)
        return row.id


def reviews_for(*, transcript_id: int) -> list[Review]:
    with session_scope(write=False) as s:
        rows = s.exec(select(ExpertReview, User.name).join(User, User.id == ExpertReview.expert_id)
                      .where(ExpertReview.transcript_id == transcript_id).order_by(ExpertReview.created_at)).all()
        return [Review(r.id, name, r.verdict, r.score, r.notes, r.created_at) for r, name in rows]


@dataclass(frozen=True)
class FinalLabel:
    value: object  # None while the reviewers disagree and no one has adjudicated
    status: str  # single | unanimous | adjudicated | open


def final_labels(*, study_id: int) -> dict[int, dict[str, FinalLabel]]:
    """Per reviewed assignment of the study, each rubric field's settled label: an adjudication wins; otherwise
    one review stands alone, agreeing reviews are unanimous, and disagreeing ones stay open."""
    with session_scope(write=False) as s:
        rows = s.exec(select(ExpertReview).where(ExpertReview.study_id == study_id,
                                                 ExpertReview.assignment_id.is_not(None),
                                                 ExpertReview.kind.in_(("review", "adjudication")))
                      .order_by(ExpertReview.id)).all()
    by_assignment: dict[int, list[ExpertReview]] = {}
    for r in rows:
        by_assignment.setdefault(r.assignment_id, []).append(r)
    settled: dict[int, dict[str, FinalLabel]] = {}
    for aid, reviews in by_assignment.items():
        adjudication = next((r for r in reviews if r.kind == "adjudication"), None)
        plain = [r for r in reviews if r.kind == "review"]
        fields = {f for r in reviews for f in r.labels}
        out: dict[str, FinalLabel] = {}
        for f in sorted(fields):
            values = [r.labels[f] for r in plain if f in r.labels]
            if adjudication is not None and f in adjudication.labels:
                out[f] = FinalLabel(adjudication.labels[f], "adjudicated")
            elif len(values) == 1:
                out[f] = FinalLabel(values[0], "single")
            elif values and all(v == values[0] for v in values):
                out[f] = FinalLabel(values[0], "unanimous")
            else:
                out[f] = FinalLabel(None, "open")
        settled[aid] = out
    return settled
