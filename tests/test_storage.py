"""Storage on both engines: migrations, constraints, transactions, concurrent writers."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from oversight.db import init_db, session_scope
from storage.db import get_engine
from storage.migrate import current_revision, head_revision
from storage.models import Item, ItemGold, Study


def test_migrations_create_every_table_and_are_idempotent(any_db):
    assert current_revision(any_db) == head_revision()
    assert init_db() == head_revision()  # a second run changes nothing
    tables = set(inspect(get_engine(any_db)).get_table_names())
    assert {"user", "study", "item", "itemgold", "strategy", "assignment", "transcript", "turn",
            "judgment", "expertreview", "job", "event", "importbatch"} <= tables


def test_a_failed_transaction_lands_nothing(any_db):
    with pytest.raises(RuntimeError):
        with session_scope() as s:
            s.add(Study(name="half-made"))
            s.flush()
            raise RuntimeError("boom")
    with session_scope(write=False) as s:
        assert s.exec(select(Study)).all() == []


def test_foreign_keys_are_enforced(any_db):
    with pytest.raises(IntegrityError):
        with session_scope() as s:
            s.add(ItemGold(item_id=12345, gold_index=0))


def test_item_external_ids_are_unique_within_a_study(any_db):
    with session_scope() as s:
        study = Study(name="s")
        s.add(study)
        s.flush()
        s.add(Item(study_id=study.id, external_id="q1", question="?", options=["a", "b"]))
    with pytest.raises(IntegrityError):
        with session_scope() as s:
            s.add(Item(study_id=study.id, external_id="q1", question="again?", options=["a", "b"]))


def test_json_columns_round_trip(any_db):
    with session_scope() as s:
        study = Study(name="s")
        s.add(study)
        s.flush()
        s.add(Item(study_id=study.id, external_id="x", question="q", options=["α", "β"], meta={"k": [1, 2]}))
    with session_scope(write=False) as s:
        item = s.exec(select(Item)).one()
        assert item.options == ["α", "β"] and item.meta == {"k": [1, 2]}


def test_sqlite_runs_in_wal_mode_with_foreign_keys(db):
    with get_engine(db).connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_concurrent_writers_from_many_threads_all_land(any_db):
    """Streamlit serves each browser session on its own thread; their writes must queue, not fail."""
    with session_scope() as s:
        study = Study(name="busy")
        s.add(study)
        s.flush()
        study_id = study.id
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(10):
                with session_scope() as s:
                    # Read-then-write in one transaction: the pattern that breaks without BEGIN IMMEDIATE.
                    count = len(s.exec(select(Item.id).where(Item.study_id == study_id)).all())
                    s.add(Item(study_id=study_id, external_id=f"{n}-{i}", question=str(count), options=["a", "b"]))
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with session_scope(write=False) as s:
        assert len(s.exec(select(Item.id)).all()) == 80


def test_the_migrations_match_the_tables(any_db):
    """A table change without its migration would break every deployed study on upgrade."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlmodel import SQLModel

    with get_engine(any_db).connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), SQLModel.metadata)
    assert diff == []


def _refuse_writes(session, url: str) -> None:
    """Make this transaction's connection refuse writes, as a read-only database or a full disk does."""
    if url.startswith("sqlite"):
        session.connection().exec_driver_sql("PRAGMA query_only=1")
    else:
        session.connection().exec_driver_sql("SET TRANSACTION READ ONLY")


def test_a_read_only_database_raises_could_not_save_and_stores_nothing(any_db):
    from storage.db import StorageUnavailable, dispose_engines

    with pytest.raises(StorageUnavailable, match="Could not save") as caught:
        with session_scope() as s:
            _refuse_writes(s, any_db)
            s.add(Study(name="half-made"))
            s.flush()
    assert caught.value.reason
    dispose_engines()  # the pooled connection still has the pragma
    with session_scope(write=False) as s:
        assert s.exec(select(Study)).all() == []


def test_a_full_disk_raises_could_not_save_and_stores_nothing(db):
    from storage.db import StorageUnavailable, dispose_engines

    with pytest.raises(StorageUnavailable, match="Could not save") as caught:
        with session_scope() as s:
            s.add(Study(name="first"))
            s.flush()
            pages = s.connection().exec_driver_sql("PRAGMA page_count").scalar()
            s.connection().exec_driver_sql(f"PRAGMA max_page_count={pages}")
            s.add(Study(name="big", description="x" * 1_000_000))
            s.flush()
    assert "full" in caught.value.reason
    dispose_engines()
    with session_scope(write=False) as s:
        assert s.exec(select(Study)).all() == []
