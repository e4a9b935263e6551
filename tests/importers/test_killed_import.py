"""An import killed with SIGKILL never half-lands: the real CLI (`python -m oversight import`) is stopped at a
known point (OVERSIGHT_IMPORT_PAUSE holds it there, so the kill lands exactly where meant, not by timing), killed,
and then nothing of it is seen, dealt or exported; a re-import lands every item exactly once; a later cleanup
never fails on a foreign key and other imports go on. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import select

from oversight import read_cache
from oversight.db import session_scope
from oversight.importers import common, import_path
from oversight.importers.common import ImportFailed
from oversight.results.export import export_study
from oversight.study.participation import next_task
from oversight.study.studies import count_items, create_study, items_with_gold, list_studies
from storage.models import Assignment, ContentVersion, ImportBatch, Item, Judgment, utcnow
from tests import factories

REPO = Path(__file__).resolve().parents[2]
N_ITEMS, BATCH = 60, 10  # six batches of items


def _item_file(path: Path, n: int = N_ITEMS, prefix: str = "k") -> Path:
    lines = [json.dumps({"id": f"{prefix}{i}", "question": f"Which planet is number {i}?",
                         "options": ["Mercury", "Venus", "Earth", "Mars"], "gold": i % 4,
                         "source_text": f"Passage {i}. " * 20}) for i in range(n)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "OVERSIGHT_IMPORT_BATCH_ITEMS": str(BATCH), **extra}


@contextmanager
def _paused_at(point: str, study_id: int, path: Path) -> Iterator[None]:
    """The CLI import, held at `point` for the block, then SIGKILLed and reaped."""
    proc = subprocess.Popen([sys.executable, "-m", "oversight", "import", "--study", str(study_id), "--format",
                             "jsonl", str(path)], cwd=REPO, env=_env(OVERSIGHT_IMPORT_PAUSE=point),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        while (line := proc.stderr.readline()) and "import paused at" not in line:
            lines.append(line)
        assert line, "".join(lines)
        yield
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)


def _killed_at(point: str, study_id: int, path: Path) -> int:
    """Run the CLI import until it pauses at `point` and kill it there; returns the dead import's id."""
    with _paused_at(point, study_id, path):
        pass
    with session_scope(write=False) as s:
        return s.exec(select(ImportBatch.id).where(ImportBatch.state == "importing")).one()


def _written(import_id: int) -> int:
    with session_scope(write=False) as s:
        return s.exec(select(func.count()).select_from(Item).where(Item.import_id == import_id)).one()


def _cli_import(study_id: int, path: Path) -> dict:
    done = subprocess.run([sys.executable, "-m", "oversight", "import", "--json", "--study", str(study_id),
                           "--format", "jsonl", str(path)], cwd=REPO, env=_env(), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.slow
@pytest.mark.parametrize("point, written", [("batch:1", BATCH), ("batch:3", 3 * BATCH), ("complete", N_ITEMS)])
def test_a_killed_import_shows_nothing_and_a_reimport_lands_every_item_once(any_db, tmp_path, point, written):
    study = create_study(name="Planets", user_id=None, status="open")
    earlier = factories.items(study.id, 3, options=["a", "b", "c", "d"], prefix="old")
    people = factories.participants(study.id, 2)
    path = _item_file(tmp_path / "planets.jsonl")

    dead = _killed_at(point, study.id, path)
    assert _written(dead) == written  # the kill left rows in the database ...
    # ... and no one sees them: item pages, counts, the study list, the read cache, dealing and the export.
    assert count_items(study_id=study.id) == 3
    assert [r["id"] for r in items_with_gold(study_id=study.id)] == earlier
    assert next(s for s in list_studies() if s.id == study.id).n_items == 3
    with session_scope(write=False) as s:
        hidden = s.exec(select(Item.id).where(Item.import_id == dead)).first()
        assert read_cache.row(s, Item, hidden) is None
    assert next_task(user_id=people[0]) is not None
    with session_scope(write=False) as s:
        assert set(s.exec(select(Assignment.item_id).where(Assignment.participant_id == people[0])).all()) \
            == set(earlier)
    export_study(study_id=study.id, out_dir=tmp_path / "export")
    assert len((tmp_path / "export" / "items.jsonl").read_text().splitlines()) == 3

    # The re-import replaces the dead import's rows: every item once, none "already there".
    if point == "complete":
        summary = _cli_import(study.id, path)
        assert (summary["n_items"], summary["n_items_skipped"]) == (N_ITEMS, 0)
    else:
        summary = import_path(study_id=study.id, fmt="jsonl", path=path)
        assert (summary.n_items, summary.n_items_skipped) == (N_ITEMS, 0)
    with session_scope(write=False) as s:
        external = s.exec(select(Item.external_id).where(Item.study_id == study.id)).all()
        imports = s.exec(select(ImportBatch.state, ImportBatch.n_items).where(ImportBatch.study_id == study.id)).all()
    assert imports == [("done", N_ITEMS)]  # the dead import is gone (SQLite may give its id to the new one)
    assert sorted(external) == sorted([f"old{k}" for k in range(3)] + [f"k{i}" for i in range(N_ITEMS)])
    assert count_items(study_id=study.id) == 3 + N_ITEMS
    assert next_task(user_id=people[1]) is not None  # the second person is dealt the whole set
    with session_scope(write=False) as s:
        assert s.exec(select(func.count()).select_from(Assignment)
                      .where(Assignment.participant_id == people[1])).one() == 3 + N_ITEMS


@pytest.mark.slow
def test_an_import_still_running_is_refused_not_skipped_and_cleanup_waits_for_its_death(any_db, tmp_path):
    study = create_study(name="Planets", user_id=None, status="open")
    path = _item_file(tmp_path / "planets.jsonl")
    with _paused_at("batch:2", study.id, path):
        # Alive: the same file is refused (its rows may yet be discarded), and no cleanup touches it.
        with pytest.raises(ImportFailed, match="is still writing these items"):
            import_path(study_id=study.id, fmt="jsonl", path=path)
        assert common.discard_stale_imports() == 0
    # Dead: an import of another file into another study cleans it up and lands.
    other = create_study(name="Other", user_id=None)
    summary = import_path(study_id=other.id, fmt="jsonl", path=_item_file(tmp_path / "other.jsonl", 5, "o"))
    assert summary.n_items == 5
    with session_scope(write=False) as s:
        assert s.exec(select(func.count()).select_from(Item).where(Item.study_id == study.id)).one() == 0
        assert s.exec(select(func.count()).select_from(ImportBatch)).one() == 1


def _legacy_half_import(study_id: int, *, hours_ago: float) -> tuple[int, list[int]]:
    """An import left "importing" by a process that died long ago, as the code before migration 0012 left them:
    its items visible, so one of them was dealt to a participant."""
    with session_scope() as s:
        batch = ImportBatch(study_id=study_id, format="jsonl", source="big.jsonl", state="importing",
                            created_at=utcnow() - timedelta(hours=hours_ago))
        s.add(batch)
        s.flush()
        ids = factories.items(study_id, 4, prefix="half", s=s, import_id=batch.id)
        return batch.id, ids


def test_cleanup_keeps_an_item_someone_was_dealt_and_never_blocks_other_imports(any_db, tmp_path):
    study = create_study(name="Half", user_id=None, status="open")
    dead, ids = _legacy_half_import(study.id, hours_ago=2)
    person = factories.participants(study.id, 1)[0]
    with session_scope() as s:
        s.add(Assignment(study_id=study.id, participant_id=person, item_id=ids[0]))
        s.add(Judgment(item_id=ids[1], judge_kind="ai", judge_name="a model", probabilities=[0.4, 0.6]))

    other = create_study(name="Other", user_id=None)
    summary = import_path(study_id=other.id, fmt="jsonl", path=_item_file(tmp_path / "other.jsonl", 5, "o"))
    assert summary.n_items == 5  # today: FOREIGN KEY constraint failed, in every later import of every study
    with session_scope(write=False) as s:
        left = s.exec(select(Item.id).where(Item.study_id == study.id)).all()
        record = s.get(ImportBatch, dead)
    assert left == ids[:2]  # the dealt and the judged item stay; the others, used by no one, are gone
    assert (record.state, record.n_items) == ("done", 2)
    assert count_items(study_id=study.id) == 2


def test_a_failed_cleanup_does_not_stop_the_import_that_ran_it(db, tmp_path, monkeypatch):
    study = create_study(name="Half", user_id=None)
    _legacy_half_import(study.id, hours_ago=2)

    def broken(import_id: int) -> None:
        raise RuntimeError("disk went away")

    monkeypatch.setattr(common, "discard_import", broken)
    summary = import_path(study_id=study.id, fmt="jsonl", path=_item_file(tmp_path / "more.jsonl", 5, "m"))
    assert summary.n_items == 5


def _everything_a_study_shows(study_id: int, out: Path) -> dict[str, int]:
    """What pages, results, exports and the labs show of a study, counted."""
    from oversight.protocols.transcripts import list_transcripts
    from oversight.results.judgment_records import load_judgments
    from oversight.results.report import dashboard
    from oversight.rlaif.store import study_pairs
    from oversight.study.dry_run import copy_for_dry_run

    counts = dashboard(study_id=study_id)["counts"]
    export_study(study_id=study_id, out_dir=out)
    with session_scope(write=False) as s:
        version = s.get(ContentVersion, 1).version
    return {"content version": version, "items": count_items(study_id=study_id), "transcripts": list_transcripts(study_id=study_id).total,
            "judgments": len(load_judgments(study_id=study_id, final_only=False)),
            "report items": counts["items"], "report transcripts": counts["transcripts"],
            "exported transcripts": len((out / "transcripts.jsonl").read_text().splitlines()),
            "exported judgments": len((out / "judgments.jsonl").read_text().splitlines()),
            "pairs": len(study_pairs(study_id=study_id)),
            "dry-run items": count_items(study_id=copy_for_dry_run(study_id=study_id))}


def test_transcripts_and_judgments_of_an_unfinished_import_are_shown_nowhere(db, tmp_path, data, monkeypatch):
    """Mid-import (its last batch written, not yet completed) nothing of an NYU debate import is seen; once
    completed, all of it."""
    study = create_study(name="Debates", user_id=None)
    seen: list[dict[str, int]] = []
    monkeypatch.setattr(common, "_pause", lambda point: point == "complete" and seen.append(
        _everything_a_study_shows(study.id, tmp_path / "during")))
    summary = import_path(study_id=study.id, fmt="nyu-debate", path=data / "nyu")
    assert (summary.n_items, summary.n_transcripts) == (2, 3)
    during = seen[0]
    assert {k: n for k, n in during.items() if k != "content version" and n} == {}
    after = _everything_a_study_shows(study.id, tmp_path / "after")
    assert after["content version"] > during["content version"]  # every process's read cache starts afresh
    assert after["items"] == after["report items"] == 2 and after["dry-run items"] == 2
    assert after["transcripts"] == after["report transcripts"] == after["exported transcripts"] == 3
    assert after["judgments"] > 0 and after["exported judgments"] > 0


def test_every_query_of_a_studys_items_hides_unfinished_imports():
    """`Item.of_study` / `Transcript.of_study` are the one way to list a study's items and transcripts; only the
    importer (which must see unfinished imports to replace them), deleting a study (which removes every row of it,
    unfinished imports included) and the tables themselves name the column."""
    allowed = {"storage/models.py", "oversight/importers/common.py", "oversight/study/lifecycle.py"}
    offenders = []
    for path in [*REPO.glob("oversight/**/*.py"), *REPO.glob("views/**/*.py"), *REPO.glob("web/**/*.py")]:
        name = path.relative_to(REPO).as_posix()
        text = path.read_text()
        if name not in allowed and ("Item.study_id ==" in text or "Transcript.study_id ==" in text):
            offenders.append(name)
    assert offenders == []
