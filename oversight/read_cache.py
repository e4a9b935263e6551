"""Rows that do not change while people work (a study's settings, items, strategy versions), kept per process.

A page run reads the one-row content version (storage.models.ContentVersion) once; while it is the version this
process last saw, a row asked for by id comes from memory as a frozen snapshot: the same fields as the table,
never an ORM instance (those belong to one session and one thread). Every change to a study, item or strategy
raises the version in its own transaction (storage.db), whatever process makes it (a page, the CLI, a worker),
so the next page run of every process reads afresh. Nothing person-specific is kept: users, assignments,
transcripts and judgments are read every run; gold answers (ItemGold) are a table of their own and never cached.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import make_dataclass
from typing import Any, TypeVar

from sqlalchemy import bindparam, select

from oversight.db import memo
from storage.db import CACHED_TABLES
from storage.models import ContentVersion, landed

M = TypeVar("M")

# One frozen dataclass per cached table, with the table's column names as fields.
_SNAPSHOT = {model: make_dataclass(f"{model.__name__}Snapshot", [c.name for c in model.__table__.columns],
                                   frozen=True) for model in CACHED_TABLES}
# An item of an unfinished import is no row of its study yet (storage.models.landed): it is never read or kept;
# completing the import raises the content version, like any change to a kept table.
_SELECT = {model: select(*model.__table__.columns).where(
    model.__table__.c.id == bindparam("row_id"),
    *([landed(model.import_id)] if "import_id" in model.__table__.columns else [])) for model in CACHED_TABLES}
_lock = threading.Lock()
_rows: dict[tuple[type, int], Any] = {}
_version: tuple[object, int] | None = None


VERSION_KEY = ("content_version",)  # its memo key: a writer that changes no kept table may carry it (db.carry)


VERSION_SELECT = select(ContentVersion.__table__.c.version).where(ContentVersion.__table__.c.id == 1)


def content_version(s) -> tuple[object, int]:
    """The database (its URL) and its content version, read once per page run (or per session outside one)."""
    return memo(s, VERSION_KEY, lambda: (s.get_bind().url, s.connection().execute(VERSION_SELECT).scalar_one()))


def assume_version(s, version: tuple[object, int]) -> None:
    """Session `s` (a write that changes no study, item or strategy) takes the version its page run read, instead
    of reading it again."""
    s.info[VERSION_KEY] = version


def row(s, model: type[M], row_id: int) -> M | None:
    """Row `row_id` of a cached table as a frozen snapshot (attribute access as on the model), or None."""
    global _version
    version = content_version(s)
    key = (model, row_id)
    with _lock:
        if version != _version:
            _rows.clear()
            _version = version
        if key in _rows:
            return _rows[key]
    found = s.connection().execute(_SELECT[model], {"row_id": row_id}).first()
    if found is None:
        return None
    # A deep copy: the JSON fields (options, rules) of a kept row are never shared with the session's.
    snapshot = _SNAPSHOT[model](**{k: copy.deepcopy(v) for k, v in found._mapping.items()})
    with _lock:
        if version == _version:  # a newer version seen meanwhile: keep nothing read under the old one
            _rows[key] = snapshot
    return snapshot


def clear() -> None:
    """Forget every kept row (tests that swap databases)."""
    global _version
    with _lock:
        _rows.clear()
        _version = None
