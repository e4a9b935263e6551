"""Backup and restore of the whole database, online, in one portable file.

A backup is a zip: `manifest.json` (format, the Alembic schema revision, the app version, the source dialect,
row counts per table) and one `tables/<table>.jsonl` per table (one row per line, in primary-key order; datetimes as
ISO 8601 text, JSON columns as JSON). The same file restores into SQLite or PostgreSQL, whichever made it.

Why one logical format rather than `pg_dump` or a copied SQLite file: one restore path for both databases (a
SQLite backup restores into PostgreSQL and back), a schema check before anything is written, and no dependence on
the `pg_dump` binary matching the server's major version. What makes it consistent:
- SQLite: the sqlite3 backup API copies the database in one step into a temporary file (under WAL, writers go on
  while it copies) and the dump reads that copy;
- PostgreSQL: every table is read in one REPEATABLE READ, READ ONLY transaction: one snapshot, no locks that would
  stop participants' writes.

`restore` writes into an EMPTY database migrated to the backup's revision (an empty database is migrated first),
in one transaction: it refuses (nothing written) a non-empty target, another schema revision or an unreadable file,
and anything that fails while writing rolls the whole restore back. PostgreSQL sequences are set past the
restored ids.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Table, create_engine, func, inspect, select, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError, StatementError
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (registers every table in SQLModel.metadata)
from oversight.settings import get_settings

FORMAT = "oversight-backup"
FORMAT_VERSION = 1
ROWS_PER_INSERT = 1000
# Rows migrations insert into an empty database (the content version counter): replaced by the backup's.
SEEDED_TABLES = frozenset({"contentversion"})

Progress = Callable[[int, int, str], None]


class BackupError(ValueError):
    """A backup or restore that cannot go ahead; the message says why and what to do. Nothing was written."""


def app_version() -> str:
    """The installed package's version, else the source tree's commit (which code wrote the backup)."""
    try:
        from importlib.metadata import version

        return version("oversight-lab")
    except Exception:  # noqa: BLE001 - not installed as a package
        pass
    import subprocess

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).resolve().parent,
                                capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"source {commit}" if commit else "source"


def tables() -> list[Table]:
    """Every table of the schema, parents before children (the order rows are restored in)."""
    return list(SQLModel.metadata.sorted_tables)


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return (value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def row_decoder(table: Table) -> Callable[[dict], dict]:
    """Column values from a JSON row written by `_encode` (here, or by the study export): datetimes from ISO text.
    """
    # SQLModel's datetime type wraps DateTime (a TypeDecorator): look through it.
    times = {c.name for c in table.columns if isinstance(getattr(c.type, "impl", c.type), DateTime)}

    def decode(row: dict) -> dict:
        for name in times & row.keys():
            if row[name] is not None:
                row[name] = datetime.fromisoformat(row[name])
        return row

    return decode


def _revision(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def backup_dir() -> Path:
    """Where the admin page keeps the backups it makes (under the data folder)."""
    return get_settings().data_dir / "backups"


def new_backup_path() -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return backup_dir() / f"oversight-backup-{stamp}.zip"


def saved_backups() -> list[tuple[Path, int]]:
    """The backups in `backup_dir()`, newest first, with their sizes in bytes."""
    folder = backup_dir()
    if not folder.is_dir():
        return []
    found = [(p, p.stat().st_size) for p in folder.glob("oversight-backup-*.zip") if p.is_file()]
    return sorted(found, key=lambda pair: pair[0].name, reverse=True)


# --- backup -----------------------------------------------------------------------------------------------------


@contextmanager
def _snapshot(url: str, scratch: Path) -> Iterator[Connection]:
    """A connection that sees one consistent state of the database while participants go on writing. A SQLite
    copy is made in `scratch` (beside the backup file: the same disk, not a possibly small /tmp)."""
    if url.startswith("sqlite"):
        path = make_url(url).database
        if not path or path == ":memory:" or not Path(path).exists():
            raise BackupError(f"no SQLite database at {path!r} (setting OVERSIGHT_DATABASE_URL)")
        with tempfile.TemporaryDirectory(prefix=".oversight-backup-", dir=scratch) as tmp:
            copy = Path(tmp) / "snapshot.db"
            src, dst = sqlite3.connect(path, timeout=15), sqlite3.connect(copy)
            try:
                src.backup(dst)  # pages=-1: one step, so the copy is one state of the database
            finally:
                src.close()
                dst.close()
            engine = create_engine(f"sqlite:///{copy}")
            try:
                with engine.connect() as conn:
                    yield conn
            finally:
                engine.dispose()
        return
    engine = create_engine(url, isolation_level="REPEATABLE READ")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            yield conn
            conn.rollback()
    finally:
        engine.dispose()


def backup(*, out: Path, url: str | None = None, progress: Progress | None = None) -> dict[str, Any]:
    """Write a backup of the database at `url` (the configured one by default) to `out`; returns its manifest.
    The file appears complete or not at all (written beside it, then renamed)."""
    url = url or get_settings().resolved_database_url
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    every = tables()
    counts: dict[str, int] = {}
    try:
        with _snapshot(url, out.parent) as conn, \
                zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            revision = _revision(conn)
            if revision is None:
                raise BackupError("the database has no schema yet (run `python -m oversight init-db`)")
            for done, table in enumerate(every):
                if progress:
                    progress(done, len(every), table.name)
                n = 0
                # zip64 from the start: a table file may pass 2 GiB, and its size is not known before.
                with zf.open(f"tables/{table.name}.jsonl", "w", force_zip64=True) as f:
                    rows = conn.execution_options(yield_per=ROWS_PER_INSERT).execute(
                        select(table).order_by(*table.primary_key.columns))
                    for row in rows.mappings():
                        line = json.dumps({k: _encode(v) for k, v in row.items()}, ensure_ascii=False)
                        f.write(line.encode("utf-8") + b"\n")
                        n += 1
                counts[table.name] = n
            manifest = {
                "format": FORMAT, "format_version": FORMAT_VERSION, "schema_revision": revision,
                "app_version": app_version(), "dialect": conn.dialect.name,
                "created_at": datetime.now(timezone.utc).isoformat(), "tables": counts,
            }
            zf.writestr("manifest.json", json.dumps(manifest, indent=2) + "\n")
        if progress:
            progress(len(every), len(every), "done")
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    return manifest


# --- restore ----------------------------------------------------------------------------------------------------


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest of a backup file, or BackupError saying why the file is not one."""
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"{path}: no such file")
    try:
        with zipfile.ZipFile(path) as zf:
            manifest = json.loads(zf.read("manifest.json"))
            names = set(zf.namelist())
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BackupError(f"{path.name} is not an Oversight backup ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path.name} is not an Oversight backup (its manifest names no format {FORMAT!r})")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BackupError(f"{path.name} is backup format version {manifest.get('format_version')}; this app reads "
                          f"version {FORMAT_VERSION}")
    missing = [t for t in manifest.get("tables", {}) if f"tables/{t}.jsonl" not in names]
    if missing:
        raise BackupError(f"{path.name} is incomplete: no rows file for {', '.join(missing)}")
    return manifest


def _check_target(conn: Connection, manifest: dict[str, Any], every: list[Table]) -> None:
    from storage.migrate import head_revision

    wanted, target = manifest["schema_revision"], _revision(conn)
    if wanted != head_revision():
        raise BackupError(
            f"the backup has schema revision {wanted}, this app's schema is {head_revision()}: restore it with the "
            "app version that made it (manifest app_version " f"{manifest.get('app_version')}), then upgrade")
    if target != wanted:
        raise BackupError(f"the target database is at schema revision {target}, the backup at {wanted}: restore "
                          "into an empty database")
    unknown = set(manifest["tables"]) - {t.name for t in every}
    if unknown:
        raise BackupError(f"the backup holds tables this schema does not have: {', '.join(sorted(unknown))}")
    full = [t.name for t in every if t.name not in SEEDED_TABLES
            and conn.execute(select(func.count()).select_from(t)).scalar()]
    if full:
        raise BackupError(f"the target database is not empty (rows in {', '.join(full)}): restore only into an "
                          "empty database, so nothing of it is mixed with the backup")


def restore(*, path: Path, url: str | None = None, progress: Progress | None = None) -> dict[str, Any]:
    """Restore a backup into the EMPTY database at `url` (the configured one by default), migrating it first when
    it has no schema at all. One transaction: on any refusal or error nothing is restored. Returns the counts."""
    from storage.db import get_engine
    from storage.migrate import upgrade

    path = Path(path)
    manifest = read_manifest(path)
    url = url or get_settings().resolved_database_url
    engine = get_engine(url)
    with engine.connect() as conn:
        blank = not inspect(conn).get_table_names()
    if blank:
        upgrade(url)
    every = tables()
    try:
        with zipfile.ZipFile(path) as zf, engine.begin() as conn:
            restored = _restore_tables(conn, zf, manifest, every, progress)
    except DBAPIError as exc:  # a row the database refused, here or at the commit (deferred foreign keys)
        reason = str(exc.orig).strip().splitlines()[0]
        raise BackupError(f"{path.name} could not be restored ({reason}); nothing was restored") from None
    if progress:
        progress(len(every), len(every), "done")
    return {"schema_revision": manifest["schema_revision"], "tables": restored,
            "rows": sum(restored.values())}


def _restore_tables(conn: Connection, zf: zipfile.ZipFile, manifest: dict[str, Any], every: list[Table],
                    progress: Progress | None) -> dict[str, int]:
    name = Path(zf.filename or "backup").name
    _check_target(conn, manifest, every)
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA defer_foreign_keys = ON")  # checked at commit, whatever the row order
    restored: dict[str, int] = {}
    for done, table in enumerate(every):
        if progress:
            progress(done, len(every), table.name)
        if table.name not in manifest["tables"]:
            continue
        if table.name in SEEDED_TABLES:
            conn.execute(table.delete())
        decode = row_decoder(table)
        n, chunk = 0, []
        try:
            with zf.open(f"tables/{table.name}.jsonl") as f:
                for line in f:
                    chunk.append(decode(json.loads(line)))
                    if len(chunk) >= ROWS_PER_INSERT:
                        conn.execute(table.insert(), chunk)
                        n, chunk = n + len(chunk), []
            if chunk:
                conn.execute(table.insert(), chunk)
                n += len(chunk)
        except (ValueError, KeyError, zipfile.BadZipFile, StatementError) as exc:
            reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
            raise BackupError(f"{name}: the rows of table {table.name} could not be restored ({reason}); "
                              "nothing was restored") from None
        if n != manifest["tables"][table.name]:
            raise BackupError(f"{name}: table {table.name} holds {n} rows, its manifest says "
                              f"{manifest['tables'][table.name]}; nothing was restored")
        restored[table.name] = n
    if conn.dialect.name == "postgresql":
        reset_sequences(conn, every)
    return restored


def reset_sequences(conn: Connection, every: list[Table]) -> None:
    """Each serial id's next value comes after the largest restored one (rows were inserted with their ids)."""
    for table in every:
        for column in table.primary_key.columns:
            sequence = conn.execute(text("SELECT pg_get_serial_sequence(:t, :c)"),
                                    {"t": f'"{table.name}"', "c": column.name}).scalar()
            if sequence:
                conn.execute(text(f'SELECT setval(:s, COALESCE((SELECT MAX("{column.name}") FROM "{table.name}"), '
                                  f'0) + 1, false)'), {"s": sequence})
