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
