"""The audit log: one row per thing someone did that a researcher may later need to account for."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session, select

from oversight.db import session_scope
from storage.db import column_values
from storage.models import Event, User

_INSERT_EVENT = insert(Event.__table__)


def log_event(
    session: Session, kind: str, *, user_id: int | None = None, study_id: int | None = None, **detail: Any
) -> None:
    # A Core insert: events are written by most writes, inside the one writer's turn (storage.db.column_values).
    session.connection().execute(_INSERT_EVENT, column_values(Event, kind=kind, user_id=user_id, study_id=study_id,
                                                              detail=detail))


# What an unset value means, where it is not "nothing".
_UNSET = {"items_per_participant": "all"}


def _shown(value: Any, field: str = "") -> str:
    """A setting's value as the history table shows it: text, never rendered (it may be a participant-facing
    text an admin wrote); a cleared value is empty, or what unset means for that setting."""
    if value is None:
        return _UNSET.get(field, "")
    return value if isinstance(value, str) else json.dumps(value)


def setting_changes(*, study_id: int, limit: int = 100) -> list[dict]:
    """The latest changes to a study's settings, newest first: when, by whom (the command line has no user),
    which setting, the old and the new value."""
    with session_scope(write=False) as s:
        rows = s.exec(select(Event, User.name).join(User, User.id == Event.user_id, isouter=True)
                      .where(Event.study_id == study_id, Event.kind == "study.setting")
                      .order_by(Event.id.desc()).limit(limit)).all()
        return [{"when": e.at, "by": name or "command line",
                 "setting": str(e.detail.get("field", "")).replace("_", " "),
                 "old": _shown(e.detail.get("old"), e.detail.get("field", "")),
                 "new": _shown(e.detail.get("new"), e.detail.get("field", ""))} for e, name in rows]
