"""Shared fixtures: every test that touches the database gets its own fresh one."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from oversight import settings as settings_mod
from storage import db as storage_db

# Tests must never reach a hub: models load from local paths or ship inside packages.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _free_ports_per_worker() -> None:
    """Under pytest-xdist (scripts/test.sh runs the suite in two processes) each worker takes only free ports of its
    own residue (port % workers), so two workers are never handed the same port in the moment between asking for it
    and a server binding it. Every test server gets its port from bench.load.free_port. Candidates are drawn below
    Linux's ephemeral range (32768+), where no client socket takes them, and tried by binding: asking the kernel
    for port 0 until the residue fits never ends for odd residues, since Linux hands out even ports to bind(0)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return
    import random
    import socket

    import bench.load

    count, index = int(os.environ["PYTEST_XDIST_WORKER_COUNT"]), int(worker.removeprefix("gw"))
    draw = random.Random()

    def free_port() -> int:
        for _ in range(1000):
            port = draw.randrange(20000 + index, 32000, count)
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
        raise RuntimeError(f"no free port of residue {index} mod {count} in 20000-32000")

    bench.load.free_port = free_port


_free_ports_per_worker()


def _configure(monkeypatch: pytest.MonkeyPatch, url: str, data_dir: Path) -> None:
    monkeypatch.setenv("OVERSIGHT_DATABASE_URL", url)
    monkeypatch.setenv("OVERSIGHT_DATA_DIR", str(data_dir))
    # Sign-in throttling sleeps; tests check the counting, not the waiting.
    monkeypatch.setenv("OVERSIGHT_LOGIN_MAX_DELAY_S", "0")
    settings_mod.reset_settings()
    storage_db.dispose_engines()


def _migrate(url: str, data_dir: Path) -> None:
    from oversight.db import init_db

    with pytest.MonkeyPatch.context() as mp:
        _configure(mp, url, data_dir)
        init_db()
    storage_db.dispose_engines()
    settings_mod.reset_settings()


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory) -> Path:
    """One SQLite file migrated to the newest revision, made once per test session (per xdist worker): each test's
    database is a copy of it, since running the migrations took about a second per test."""
    tmp = tmp_path_factory.mktemp("migrated")
    _migrate(f"sqlite:///{tmp / 'template.db'}", tmp)
    return tmp / "template.db"


def _copy_sqlite(template: Path, dest: Path) -> str:
    """SQLite's backup API rather than a file copy: it carries whatever a WAL file still holds."""
    import sqlite3

    src, out = sqlite3.connect(template), sqlite3.connect(dest)
    try:
        src.backup(out)
    finally:
        src.close()
        out.close()
    return f"sqlite:///{dest}"


@contextmanager
def fresh_database(tmp: Path, template: Path) -> Iterator[str]:
    """A migrated, empty SQLite database in `tmp` (a copy of `template`), configured as the app's until the block
    ends; yields its URL. The `db` fixture gives one per test; module-scoped fixtures (a training shared by several
    tests) use this directly."""
    with pytest.MonkeyPatch.context() as mp:
        url = _copy_sqlite(template, tmp / "test.db")
        _configure(mp, url, tmp)
        try:
            yield url
        finally:
            storage_db.dispose_engines()
            settings_mod.reset_settings()


@pytest.fixture
def db(tmp_path: Path, migrated_sqlite: Path) -> Iterator[str]:
    """A migrated, empty SQLite database for this test; returns its URL."""
    with fresh_database(tmp_path, migrated_sqlite) as url:
        yield url


@pytest.fixture
def study(db: str):
    """A study to import into or invite to."""
    from oversight.study.studies import create_study

    return create_study(name="Test study", user_id=None, status="open")


@pytest.fixture
def datasets_dir() -> Path:
    """The shared licensed data sets; tests that need them skip cleanly where they are absent."""
    path = settings_mod.get_settings().datasets_dir
    if not path.is_dir():
        pytest.skip(f"shared data sets not found at {path} (set OVERSIGHT_DATASETS_DIR)")
    return path


def _postgres_admin_url() -> str:
    admin_url = os.environ.get("OVERSIGHT_TEST_POSTGRES_URL")
    if not admin_url:
        pytest.skip("PostgreSQL tests need OVERSIGHT_TEST_POSTGRES_URL (.ci/run starts a server and sets it)")
    return admin_url


def _fresh_postgres_database(template: str | None = None) -> str:
    """Create a database on the test server (empty, or a copy of `template`) and return its URL. Names are random,
    so parallel test processes never share one."""
    import secrets as _secrets

    from sqlalchemy import create_engine, text

    admin_url = _postgres_admin_url()
    name = f"oversight_test_{_secrets.token_hex(4)}"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
    engine.dispose()
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(scope="session")
def migrated_postgres(tmp_path_factory) -> str:
    """The name of a PostgreSQL database migrated to the newest revision, made once per session (per xdist
    worker); each test's database is created from it as a template (no connection may stay open on it)."""
    url = _fresh_postgres_database()
    _migrate(url, tmp_path_factory.mktemp("pg-migrated"))
    return url.rsplit("/", 1)[1]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_db(request, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A migrated, empty database on each supported engine in turn; returns its URL."""
    if request.param == "sqlite":
        url = _copy_sqlite(request.getfixturevalue("migrated_sqlite"), tmp_path / "test.db")
    else:
        _postgres_admin_url()  # skips before making a template
        url = _fresh_postgres_database(template=request.getfixturevalue("migrated_postgres"))
    _configure(monkeypatch, url, tmp_path)
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
