"""Fixtures for the importer tests. The database comes from the shared `db` fixture (tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import select

from storage.models import ImportBatch, Item, ItemGold, Judgment, Study, Transcript, Turn

DATA = Path(__file__).parent / "data"
TABLES = {"items": Item, "gold": ItemGold, "batches": ImportBatch, "transcripts": Transcript, "turns": Turn,
          "judgments": Judgment}


def make_study(name: str = "Import study") -> int:
    from oversight.db import session_scope

    with session_scope() as s:
        study = Study(name=name)
        s.add(study)
        s.flush()
        return study.id


def row_counts() -> dict[str, int]:
    from oversight.db import session_scope

    with session_scope(write=False) as s:
        return {name: s.exec(select(func.count()).select_from(table)).one() for name, table in TABLES.items()}


@pytest.fixture
def data() -> Path:
    return DATA


@pytest.fixture
def study_id(db: str) -> int:
    return make_study()


@pytest.fixture
def counts():
    """Row counts of every table an import writes to."""
    return row_counts
