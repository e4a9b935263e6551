"""Engine and sessions. SQLite (WAL, busy timeout, foreign keys) by default; PostgreSQL by URL.

One engine per URL per process: Streamlit runs each browser session in its own thread, and they all
share this pool. SQLite allows one writer at a time; WAL lets readers go on while it writes, and the
busy timeout makes a second writer wait instead of failing.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import TypeVar

from sqlalchemy import event, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, create_engine

from storage.models import ContentVersion, Item, Strategy, Study

T = TypeVar("T")

_engines: dict[tuple[str, bool], Engine] = {}
_lock = threading.Lock()
_sqlite_writers: dict[str, threading.RLock] = {}

SQLITE_BUSY_TIMEOUT_MS = 15_000


class StorageUnavailable(Exception):
    """The database could not store a change (disk full, read-only, busy past the timeout, I/O error).

    Raised by `session_scope` after the rollback, so nothing of the transaction is stored; the message
    is for the person who tried to save (pages show it; the cause stays in the log)."""

    def __init__(self, reason: str, *, write: bool = True) -> None:
        self.reason = reason
        super().__init__("Could not save: the database is not accepting changes right now. Please try again."
                         if write else "Could not load this page's data right now. Please try again.")


# SQLite reports these by message; PostgreSQL by SQLSTATE (disk full, out of memory, read-only
# transaction, server starting or shutting down, too many connections, no such database or table). "no such
# table": the database file went missing and SQLite opened a new, empty one in its place.
_SQLITE_UNAVAILABLE = ("database or disk is full", "readonly database", "disk i/o error", "database is locked",
                       "unable to open database file", "no such table")
_PG_UNAVAILABLE = {"53100", "53200", "53300", "25006", "57P01", "57P02", "57P03", "3D000", "42P01"}


def unavailable_reason(exc: BaseException) -> str | None:
    """Why the database refused a change, when it is a condition of the server rather than of the data."""
    if not isinstance(exc, DBAPIError):
        return None
    if getattr(exc.orig, "sqlstate", None) in _PG_UNAVAILABLE:
        return str(exc.orig).strip().splitlines()[0]
    text = str(exc.orig).lower()
    return next((reason for reason in _SQLITE_UNAVAILABLE if reason in text), None)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _sqlite_begin(conn) -> None:
    # Take the write lock at BEGIN so two writers queue on busy_timeout instead of failing with
    # "database is locked" when a read transaction tries to upgrade.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, *, write: bool = True) -> Engine:
    """SQLite gets two engines per file: writers begin IMMEDIATE, readers begin deferred."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        )
        event.listen(engine, "connect", _sqlite_pragmas)

        # pysqlite's own transaction handling is switched off so that BEGIN IMMEDIATE is ours.
        @event.listens_for(engine, "connect")
        def _no_autobegin(dbapi_conn, _record):
            dbapi_conn.isolation_level = None

        if write:
            event.listen(engine, "begin", _sqlite_begin)
        else:
            event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN"))
        return engine
    return create_engine(url, pool_pre_ping=True)


def get_engine(url: str, *, write: bool = True) -> Engine:
    key = (url, write or not url.startswith("sqlite"))
    with _lock:
        if key not in _engines:
            _engines[key] = make_engine(url, write=key[1])
        return _engines[key]


def dispose_engines() -> None:
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


class _RunReads:
    """The reads of one page run, in one read transaction and one session (see `run_reads`)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.session: Session | None = None
        self.kept: list[object] = []
        self.carried: tuple[dict, list] | None = None  # what the run's next read session starts with (`carry`)

    def open(self) -> Session:
        if self.session is None:
            # No autoflush: a read never writes; expire_on_commit off as in every scope.
            self.session = Session(get_engine(self.url, write=False), expire_on_commit=False, autoflush=False)
            # The identity map holds rows weakly: keep every row read this run, so `Session.get` of a row a
            # helper read and let go (the user behind a link) finds it instead of reading it again.
            event.listen(self.session, "loaded_as_persistent", lambda _s, obj: self.kept.append(obj))
            if self.carried is not None:
                values, rows = self.carried
                self.carried = None
                self.session.info.update(values)
                self.kept.extend(self.session.merge(row, load=False) for row in rows)
        return self.session

    def close(self) -> None:
        """End the read transaction; the objects read keep their values, detached (as after any scope)."""
        self.carried = None  # a write (or a fresh read) after `carry`: nothing carried is known to hold any more
        if self.session is not None:
            session, self.session = self.session, None
            session.close()
            self.kept.clear()


_run_reads: ContextVar[_RunReads | None] = ContextVar("run_reads", default=None)


@contextmanager
def run_reads(url: str) -> Iterator[None]:
    """Within this block (one script run of a page), every read scope on `url` shares one read transaction and
    one session: one BEGIN per run instead of one per helper, and a row already read this run (`Session.get`:
    the signed-in user, the study) is not read again. A write scope ends it first, so reads after a write see
    the write (and a snapshot never outlives it). A read that must see other threads' writes made during the run
    (a poll) asks `session_scope(..., fresh=True)`."""
    reads = _RunReads(url)
    token = _run_reads.set(reads)
    try:
        yield
    finally:
        _run_reads.reset(token)
        reads.close()


@contextmanager
def session_scope(url: str, *, write: bool = True, fresh: bool = False) -> Iterator[Session]:
    """A transaction: commits on success, rolls back everything on any error.

    `write=False` is for pages and reports that only read: on SQLite they never wait for the writer. Inside
    `run_reads` they join the run's read transaction unless `fresh`.
    A full disk, a read-only or unreachable database raises `StorageUnavailable` after the rollback.
    """
    reads = _run_reads.get()
    if reads is not None and reads.url == url:
        if not write and not fresh:
            with _run_read(reads) as session:
                yield session
            return
        reads.close()  # a write (or a fresh read): the run's later reads start after it
    with _one_writer(url, write), Session(get_engine(url, write=write), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException as exc:
            session.rollback()
            reason = unavailable_reason(exc)
            if reason is not None:
                raise StorageUnavailable(reason, write=write) from exc
            raise


def carry(url: str, *, values: dict | None = None, rows: Iterable[object] = ()) -> None:
    """Right after a write scope of a page run: the run's next read session starts with these `memo` values and
    these ORM rows (merged without a read: `Session.get` finds them), instead of reading back what the write
    just stored. Only for what the writer knows as it now stands in the database (read or written in that write
    transaction, or read this run and left unchanged by it); any later write or fresh read drops it. Outside
    `run_reads` it does nothing."""
    reads = _run_reads.get()
    if reads is not None and reads.url == url:
        reads.close()
        reads.carried = dict(values or {}), list(rows)


def memo(session: Session, key: tuple, load: Callable[[], T]) -> T:
    """`load()` once per session: in a page run's shared read session (run_reads) once per run, until a write
    ends it. For reads that several helpers of one run make alike (a person's assignments, a transcript's
    turns); the value is shared, so callers must not change it."""
    if key not in session.info:
        session.info[key] = load()
    return session.info[key]


@contextmanager
def _run_read(reads: _RunReads) -> Iterator[Session]:
    session = reads.open()
    try:
        yield session
        if session.new or session.dirty or session.deleted:  # a "read" that changed something: store it, as ever
            session.commit()
            reads.close()
    except BaseException as exc:
        reads.close()  # the run's next read starts afresh, whatever this one left behind
        reason = unavailable_reason(exc)
        if reason is not None:
            raise StorageUnavailable(reason, write=False) from exc
        raise


@contextmanager
def _one_writer(url: str, write: bool) -> Iterator[None]:
    """SQLite has one writer at a time. Within a process, writers queue on a lock, which hands over the moment
    the previous one commits; waiting in SQLite's busy handler instead sleeps in steps of up to 100 ms, which
    under a session of 20 people was most of a write's latency. Other processes (workers, the CLI) still meet
    at SQLite's lock and its busy timeout."""
    if not (write and url.startswith("sqlite")):
        yield
        return
    with _lock:
        writer = _sqlite_writers.setdefault(url, threading.RLock())
    # As long as SQLite's own busy timeout: a writer stuck behind a lost lock fails as it did before.
    asked = time.perf_counter() if _HOLD_LOG else 0.0
    if not writer.acquire(timeout=SQLITE_BUSY_TIMEOUT_MS / 1000):
        raise StorageUnavailable("database is locked", write=True)
    got = time.perf_counter() if _HOLD_LOG else 0.0
    try:
        yield
    finally:
        writer.release()
        if _HOLD_LOG:
            _log_hold(got - asked, time.perf_counter() - got)


# OVERSIGHT_WRITER_HOLD_LOG=FILE (read once, at import): every SQLite write of this process appends "wait s, hold s,
# call site" to FILE; `python bench/writer_holds.py FILE` sums it per call site. A measuring aid for load benches
# (bench/results/load-issue-23-writes.md); unset, it costs one test per write.
_HOLD_LOG = os.environ.get("OVERSIGHT_WRITER_HOLD_LOG", "")
_hold_log_lock = threading.Lock()


def _log_hold(wait_s: float, hold_s: float) -> None:
    frame, site = sys._getframe(2), "?"
    while frame is not None:  # the first caller outside the database layers and contextlib
        name = frame.f_code.co_filename
        if not name.endswith(("/storage/db.py", "/oversight/db.py", "/contextlib.py")):
            site = f"{Path(name).name}:{frame.f_code.co_name}"
            break
        frame = frame.f_back
    with _hold_log_lock, open(_HOLD_LOG, "a") as out:
        out.write(f"{wait_s:.4f}\t{hold_s:.4f}\t{site}\n")


def column_values(model: type, **values) -> dict:
    """Every column of `model`'s table for a Core insert (`insert(model.__table__)`): the values given, the
    model's own defaults for the rest (what constructing the model would store), the primary key left to the
    database. Always the same columns, so SQLAlchemy compiles the insert once. For writes in the hot path, where
    building and flushing an ORM object cost more than the insert."""
    defaults = _defaults.get(model)
    if defaults is None:
        defaults = _defaults[model] = {
            c.name: model.model_fields[c.name] for c in model.__table__.columns
            if not c.primary_key and c.name in model.model_fields}
    return {name: values[name] if name in values else field.get_default(call_default_factory=True)
            for name, field in defaults.items()}


_defaults: dict[type, dict] = {}


# Tables whose rows each process may keep (oversight.read_cache): a change to any of them raises the content
# version in the same transaction, so no process keeps a row past the commit that changed it.
CACHED_TABLES = (Study, Item, Strategy)
_CACHED_NAMES = frozenset(m.__tablename__ for m in CACHED_TABLES)


def bump_content_version(session: Session) -> None:
    if not session.info.get("content_bumped"):
        session.info["content_bumped"] = True
        session.connection().execute(update(ContentVersion).where(ContentVersion.id == 1)
                                     .values(version=ContentVersion.version + 1))


@event.listens_for(Session, "before_flush")
def _bump_on_flush(session, _context, _instances) -> None:
    if any(isinstance(obj, CACHED_TABLES) for obj in session.deleted) or any(
            isinstance(obj, CACHED_TABLES) and session.is_modified(obj) for obj in session.dirty):
        bump_content_version(session)


@event.listens_for(Session, "do_orm_execute")
def _bump_on_bulk(state) -> None:
    if (state.is_update or state.is_delete) and getattr(state.statement, "table", None) is not None and \
            state.statement.table.name in _CACHED_NAMES:
        bump_content_version(state.session)


@event.listens_for(Session, "after_transaction_end")
def _bumped_once_per_transaction(session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop("content_bumped", None)
