"""The audit log: one row per thing someone did that a researcher may later need to account for."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from storage.models import Event


def log_event(
    session: Session, kind: str, *, user_id: int | None = None, study_id: int | None = None, **detail: Any
) -> None:
    session.add(Event(kind=kind, user_id=user_id, study_id=study_id, detail=detail))
