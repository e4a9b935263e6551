"""Shared fixtures: every test that touches the database gets its own fresh one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from oversight import settings as settings_mod
from storage import db as storage_db

# Tests must never reach a hub: models load from local paths or ship inside packages.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _configure(monkeypatch: pytest.MonkeyPatch, url: str, data_dir: Path) -> None:
    monkeypatch.setenv("OVERSIGHT_DATABASE_URL", url)
    monkeypatch.setenv("OVERSIGHT_DATA_DIR", str(data_dir))
    # Sign-in throttling sleeps; tests check the counting, not the waiting.
    monkeypatch.setenv("OVERSIGHT_LOGIN_MAX_DELAY_S", "0")
    settings_mod.reset_settings()
    storage_db.dispose_engines()


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A migrated, empty SQLite database for this test; returns its URL."""
    from oversight.db import init_db

    url = f"sqlite:///{tmp_path / 'test.db'}"
    _configure(monkeypatch, url, tmp_path)
    init_db()
    yield url
    storage_db.dispose_engines()
    settings_mod.reset_settings()


@pytest.fixture
def study(db: str):
    """A study to import into or invite to."""
    from oversight.studies import create_study

    return create_study(name="Test study", user_id=None, status="open")


@pytest.fixture
def datasets_dir() -> Path:
    """The shared licensed data sets; tests that need them skip cleanly where they are absent."""
    path = settings_mod.get_settings().datasets_dir
    if not path.is_dir():
        pytest.skip(f"shared data sets not found at {path} (set OVERSIGHT_DATASETS_DIR)")
    return path


def _fresh_postgres_database() -> str:
    """Create an empty database on the test server and return its URL."""
    import secrets as _secrets

    from sqlalchemy import create_engine, text

    admin_url = os.environ.get("OVERSIGHT_TEST_POSTGRES_URL")
    if not admin_url:
        pytest.skip("PostgreSQL tests need OVERSIGHT_TEST_POSTGRES_URL (.ci/run starts a server and sets it)")
    name = f"oversight_test_{_secrets.token_hex(4)}"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_db(request, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A migrated, empty database on each supported engine in turn; returns its URL."""
    from oversight.db import init_db

    url = f"sqlite:///{tmp_path / 'test.db'}" if request.param == "sqlite" else _fresh_postgres_database()
    _configure(monkeypatch, url, tmp_path)
    init_db()
    yield url
    storage_db.dispose_engines()
    settings_mod.reset_settings()


@pytest.fixture
def worker(db: str):
    """A job worker thread for this test (the app's embedded worker, as pages expect one to be running)."""
    import threading

    from oversight.jobs import run_worker

    stop = threading.Event()
    thread = threading.Thread(target=run_worker, kwargs={"stop": stop, "poll_s": 0.1}, daemon=True)
    thread.start()
    yield thread
    stop.set()
    thread.join(60)
