"""Backup and restore (oversight/backup.py, `python -m oversight backup` / `restore`): every table comes back row by
row, on SQLite and PostgreSQL, from a backup taken while 20 people answer; a restore refuses, writing nothing, a
non-empty target, another schema revision, a file that is not a backup and a backup that fails half-way."""

from __future__ import annotations

import json
import threading
import time
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from oversight.backup import BackupError, backup, restore, tables
from oversight.db import session_scope
from oversight.study.participation import next_task, record_consent, submit_answer
from storage import db as storage_db
from storage.models import Assignment, Judgment, Study
from tests.factories import four_option_study, participants


def _target_url(source_url: str, tmp_path: Path) -> str:
    """An empty database (no schema at all) on the same engine as `source_url`."""
    if source_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'restored.db'}"
    from tests.conftest import _fresh_postgres_database

    return _fresh_postgres_database()


def _rows(url: str) -> dict[str, list[tuple]]:
    with storage_db.get_engine(url, write=False).connect() as conn:
        return {t.name: [tuple(r) for r in conn.execute(select(t).order_by(*t.primary_key.columns))]
                for t in tables()}


def _answer(user_id: int, errors: list[BaseException], *, gate: threading.Barrier | None = None,
            resume: threading.Event | None = None, before: int = 0) -> None:
    """One participant on the app's own path: consent, then every task at 40% on one of four options; with a gate,
    `before` tasks first, then waiting at the gate until `resume` is set."""
    try:
        record_consent(user_id=user_id)
        answered = 0
        while (task := next_task(user_id=user_id)) is not None:
            if gate is not None and answered == before:
                gate.wait(60)
                assert resume.wait(60)
            choice = task.position % 4
            submit_answer(user_id=user_id, assignment_id=task.assignment_id,
                          probabilities=[0.4 if k == choice else 0.2 for k in range(4)])
            answered += 1
    except BaseException as exc:  # noqa: BLE001 - reported by the test
        errors.append(exc)


def _judgments() -> int:
    with session_scope(write=False, fresh=True) as s:
        return s.scalar(select(func.count()).select_from(Judgment))


@pytest.mark.slow
def test_a_backup_taken_while_20_people_answer_restores_consistent_and_a_quiet_one_row_by_row(any_db, tmp_path):
    sid = four_option_study(30, kinds=("alone",), status="open", items_per_participant=8)
    people = participants(sid, 20)
    errors: list[BaseException] = []
    gate, resume = threading.Barrier(len(people) + 1), threading.Event()
    writers = [threading.Thread(target=_answer, args=(uid, errors),
                                kwargs=dict(gate=gate, resume=resume, before=5)) for uid in people]
    for t in writers:
        t.start()
    gate.wait(120)  # everyone has answered 5 tasks and waits
    order = [t.name for t in tables()]

    def while_writing(done: int, _total: int, _table: str) -> None:
        """The snapshot is taken: let the people go on, and read the answer tables only once more are stored."""
        if done == 1:
            resume.set()
        if done == order.index("assignment"):
            for _ in range(600):
                if _judgments() >= 20 * 5 + 20 or errors:
                    break
                time.sleep(0.1)

    during = backup(out=tmp_path / "during.zip", progress=while_writing)
    for t in writers:
        t.join(120)
    assert errors == []  # the backup made no participant's write fail
    assert _judgments() == 20 * 10  # 8 items + 1 practice + 1 catch each
    # The backup is the database as it stood when it began, though 20 more answers landed while it read.
    assert during["tables"]["judgment"] == 20 * 5

    (tmp_path / "mid").mkdir()
    mid_url = _target_url(any_db, tmp_path / "mid")
    restored = restore(path=tmp_path / "during.zip", url=mid_url)
    assert restored["tables"] == during["tables"]
    with storage_db.session_scope(mid_url, write=False) as s:
        done = set(s.scalars(select(Assignment.id).where(Assignment.state == "done")).all())
        answered = set(s.scalars(select(Judgment.assignment_id).where(Judgment.is_final)).all())
    assert done == answered and len(done) == 20 * 5

    # After the writers finished: backup + restore gives every table back, row by row.
    backup(out=tmp_path / "after.zip")
    url = _target_url(any_db, tmp_path)
    restore(path=tmp_path / "after.zip", url=url)
    assert _rows(url) == _rows(any_db)
    # Ids go on after the restored ones (PostgreSQL sequences were reset).
    with storage_db.session_scope(url) as s:
        study = Study(name="after the restore")
        s.add(study)
        s.flush()
        assert study.id == sid + 1


def test_the_cli_backs_up_and_restores_and_refuses_a_second_restore(db, tmp_path, capsys):
    from oversight.cli import main

    sid = four_option_study(4, kinds=("alone",), status="open")
    assert main(["backup", "--out", str(tmp_path / "b.zip"), "--quiet"]) == 0
    assert main(["restore", str(tmp_path / "b.zip"), "--quiet"]) == 1
    assert "not empty" in capsys.readouterr().err
    url = f"sqlite:///{tmp_path / 'new.db'}"
    restore(path=tmp_path / "b.zip", url=url)
    with storage_db.session_scope(url, write=False) as s:
        assert s.get(Study, sid).name == "Four options"


def _rewrite(src: Path, dest: Path, *, manifest: dict | None = None, extra: dict[str, bytes] | None = None) -> Path:
    """A copy of a backup with its manifest replaced or some of its table files rewritten."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w") as zout:
        for name in zin.namelist():
            data = zin.read(name)
            if name == "manifest.json" and manifest is not None:
                data = json.dumps(manifest).encode()
            if extra and name in extra:
                data = extra[name]
            zout.writestr(name, data)
    return dest


def _empty(url: str) -> bool:
    return all(not rows for name, rows in _rows(url).items() if name != "contentversion")


def test_restore_refuses_what_it_cannot_restore_whole_and_writes_nothing(any_db, tmp_path):
    sid = four_option_study(6, kinds=("alone",), status="open")
    people = participants(sid, 2)
    errors: list[BaseException] = []
    for uid in people:
        _answer(uid, errors)
    good = tmp_path / "good.zip"
    manifest = backup(out=good)

    # A non-empty target: the source itself.
    with pytest.raises(BackupError, match="not empty"):
        restore(path=good, url=any_db)

    target = _target_url(any_db, tmp_path)
    # Not a backup at all, or truncated.
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    with pytest.raises(BackupError, match="not an Oversight backup"):
        restore(path=tmp_path / "junk.zip", url=target)
    (tmp_path / "cut.zip").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(BackupError, match="not an Oversight backup"):
        restore(path=tmp_path / "cut.zip", url=target)
    # Another schema revision.
    older = _rewrite(good, tmp_path / "older.zip", manifest={**manifest, "schema_revision": "0010_vocabulary"})
    with pytest.raises(BackupError, match="schema revision 0010_vocabulary"):
        restore(path=older, url=target)
    # A failure in the last tables (a judgment pointing at no item): the rows of every earlier table go too.
    broken_line = json.dumps({"id": 999, "item_id": 424242, "judge_kind": "human", "judge_name": "", "round": 0,
                              "probabilities": [1, 0], "rationale": "", "is_final": False})
    with zipfile.ZipFile(good) as zf:
        judgments = zf.read("tables/judgment.jsonl") + broken_line.encode() + b"\n"
    broken = _rewrite(good, tmp_path / "broken.zip",
                      manifest={**manifest, "tables": {**manifest["tables"],
                                                       "judgment": manifest["tables"]["judgment"] + 1}},
                      extra={"tables/judgment.jsonl": judgments})
    with pytest.raises(BackupError, match="nothing was restored"):
        restore(path=broken, url=target)
    assert _empty(target)
    # Rows missing from a table file (its manifest counts more): refused, nothing written.
    short = _rewrite(good, tmp_path / "short.zip", extra={"tables/judgment.jsonl": b""})
    with pytest.raises(BackupError, match="nothing was restored"):
        restore(path=short, url=target)
    assert _empty(target)
    # And the good file still restores into the same target afterwards.
    restore(path=good, url=target)
    assert _rows(target) == _rows(any_db)


@pytest.mark.postgres
def test_a_sqlite_backup_restores_into_postgresql_and_back(db, tmp_path):
    from tests.conftest import _fresh_postgres_database

    sid = four_option_study(6, kinds=("alone",), status="open")
    errors: list[BaseException] = []
    for uid in participants(sid, 3):
        _answer(uid, errors)
    assert errors == []
    backup(out=tmp_path / "sqlite.zip")
    pg = _fresh_postgres_database()
    restore(path=tmp_path / "sqlite.zip", url=pg)
    backup(out=tmp_path / "pg.zip", url=pg)
    back = f"sqlite:///{tmp_path / 'back.db'}"
    restore(path=tmp_path / "pg.zip", url=back)
    assert _rows(back) == _rows(db)
