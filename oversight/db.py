"""Sessions on the configured database (the one place oversight/ turns settings into a connection)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlmodel import Session

from oversight.settings import get_settings
from storage import db
from storage.db import memo

__all__ = ["carry", "init_db", "memo", "run_reads", "session_scope"]


@contextmanager
def session_scope(*, write: bool = True, fresh: bool = False) -> Iterator[Session]:
    with db.session_scope(get_settings().resolved_database_url, write=write, fresh=fresh) as session:
        yield session


@contextmanager
def run_reads() -> Iterator[None]:
    """One page run's reads in one read transaction (storage.db.run_reads)."""
    with db.run_reads(get_settings().resolved_database_url):
        yield


def carry(*, values: dict | None = None, rows=()) -> None:
    """After a write in a page run: what the run's next read starts with instead of reading it back
    (storage.db.carry)."""
    db.carry(get_settings().resolved_database_url, values=values, rows=rows)


def init_db() -> str:
    """Create or upgrade the schema to the newest migration; idempotent. Returns the revision."""
    from storage.migrate import upgrade

    return upgrade(get_settings().resolved_database_url)
