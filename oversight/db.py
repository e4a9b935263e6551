"""Sessions on the configured database (the one place oversight/ turns settings into a connection)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlmodel import Session

from oversight.settings import get_settings
from storage import db


@contextmanager
def session_scope(*, write: bool = True) -> Iterator[Session]:
    with db.session_scope(get_settings().resolved_database_url, write=write) as session:
        yield session


def init_db() -> str:
    """Create or upgrade the schema to the newest migration; idempotent. Returns the revision."""
    from storage.migrate import upgrade

    return upgrade(get_settings().resolved_database_url)
