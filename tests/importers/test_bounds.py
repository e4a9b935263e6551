"""Import bounds: every hostile or broken input gets a message naming the file (never a traceback), and
big imports land in bounded transactions that stay all-or-nothing."""

from __future__ import annotations

import io
import json
import os
import stat
import zipfile

import pytest
from sqlalchemy import event, func
from sqlmodel import select

from oversight.db import session_scope
from oversight.importers import common, import_path, import_upload
from oversight.importers.common import ImportFailed
from oversight.settings import reset_settings
from storage.db import get_engine
from storage.models import ImportBatch, Item

NOTHING = {"items": 0, "gold": 0, "batches": 0, "transcripts": 0, "turns": 0, "judgments": 0}


def _jsonl(n: int, options: int = 2) -> str:
    return "".join(json.dumps({"id": f"q{i}", "question": f"Question {i}?",
                               "options": [f"option {k}" for k in range(options)], "gold": 0}) + "\n"
                   for i in range(n))


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _set(monkeypatch, **values) -> None:
    for key, value in values.items():
        monkeypatch.setenv(f"OVERSIGHT_{key.upper()}", str(value))
    reset_settings()


def test_a_zip_bomb_is_refused_by_its_compression_ratio(study_id, counts):
    bomb = _zip({"items.jsonl": b"\n" * 20_000_000})
    with pytest.raises(ImportFailed, match=r"bomb\.zip: items\.jsonl unpacks to \d+ times its packed size"):
        import_upload(study_id=study_id, fmt="jsonl", filename="bomb.zip", data=bomb)
    assert counts() == NOTHING


def test_a_zip_with_too_many_entries_is_refused(study_id, monkeypatch, counts):
    _set(monkeypatch, import_max_files=50)
    many = _zip({f"mmlu/test/s{i}_test.csv": b"q,a,b,c,d,A\n" for i in range(51)})
    with pytest.raises(ImportFailed, match="many.zip: holds 51 entries, more than 50"):
        import_upload(study_id=study_id, fmt="mmlu", filename="many.zip", data=many)
    assert counts() == NOTHING


def test_a_zip_that_unpacks_beyond_the_size_limit_is_refused(study_id, monkeypatch, counts):
    _set(monkeypatch, import_max_bytes=100_000)
    big = _zip({"a.csv": os.urandom(30_000).hex().encode(), "b.csv": os.urandom(30_000).hex().encode()})
    with pytest.raises(ImportFailed, match="big.zip: unpacks to more than"):
        import_upload(study_id=study_id, fmt="mmlu", filename="big.zip", data=big)
    assert counts() == NOTHING


def test_a_symbolic_link_inside_a_zip_is_refused(study_id, counts):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo("mmlu/link")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc")
    with pytest.raises(ImportFailed, match="links.zip: mmlu/link is a symbolic link"):
        import_upload(study_id=study_id, fmt="mmlu", filename="links.zip", data=buf.getvalue())


def test_a_line_longer_than_the_limit_names_its_line(study_id, tmp_path, monkeypatch, counts):
    _set(monkeypatch, import_max_line_chars=1000)
    path = tmp_path / "long.jsonl"
    path.write_text(_jsonl(2) + json.dumps({"question": "x" * 2000, "options": ["a", "b"], "gold": 0}) + "\n")
    with pytest.raises(ImportFailed, match=r"long\.jsonl line 3: the line is \d+ characters long, more than 1000"):
        import_path(study_id=study_id, fmt="jsonl", path=path)
    assert counts() == NOTHING


@pytest.mark.parametrize("depth", [60, 100_000])
def test_deep_json_is_refused_with_its_line(study_id, tmp_path, depth, counts):
    path = tmp_path / "deep.jsonl"
    nested = "[" * depth + "]" * depth
    path.write_text(_jsonl(1) + '{"question": "q", "options": ["a", "b"], "gold": 0, "meta": {"x": ' + nested + "}}\n")
    with pytest.raises(ImportFailed, match=r"deep\.jsonl line 2: JSON nested deeper than 40 levels"):
        import_path(study_id=study_id, fmt="jsonl", path=path)
    assert counts() == NOTHING


def test_deep_json_in_a_debate_room_file_is_refused(study_id, tmp_path):
    (tmp_path / "nyu" / "debates").mkdir(parents=True)
    (tmp_path / "nyu" / "debates-metadata.jsonl").write_text(json.dumps(
        {"name": "r1", "setting": {"isHuman": True, "isDebate": True}, "status": {"Complete": {}}}) + "\n")
    (tmp_path / "nyu" / "debates" / "r1.json").write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(ImportFailed, match=r"r1\.json: JSON nested deeper than"):
        import_path(study_id=study_id, fmt="nyu-debate", path=tmp_path / "nyu")


def test_eleven_options_are_refused_ten_are_fine(study_id, tmp_path, counts):
    path = tmp_path / "wide.jsonl"
    path.write_text(_jsonl(1, options=11))
    with pytest.raises(ImportFailed, match=r"wide\.jsonl line 1, field 'options': 11 options, more than the 10"):
        import_path(study_id=study_id, fmt="jsonl", path=path)
    csv = tmp_path / "wide.csv"
    csv.write_text("question," + ",".join(f"option_{c}" for c in "abcdefghijk") + ",gold\nQ?," +
                   ",".join("x" + c for c in "abcdefghijk") + ",A\n")
    with pytest.raises(ImportFailed, match=r"wide\.csv line 2, field 'options': 11 options"):
        import_path(study_id=study_id, fmt="csv", path=csv)
    assert counts() == NOTHING
    path.write_text(_jsonl(1, options=10))
    assert import_path(study_id=study_id, fmt="jsonl", path=path).n_items == 1


def test_a_nul_byte_is_refused_on_every_database(any_db, tmp_path):
    from tests.importers.conftest import make_study, row_counts

    study_id = make_study()
    path = tmp_path / "nul.csv"
    path.write_text("question,options,gold\nFine?,a|b,0\nBad\x00question?,a|b,0\n")
    with pytest.raises(ImportFailed, match=r"nul\.csv line 3: contains a NUL byte"):
        import_path(study_id=study_id, fmt="csv", path=path)
    assert row_counts() == NOTHING


def test_a_zip_given_as_csv_or_jsonl_says_so(study_id, tmp_path):
    archive = _zip({"items.csv": b"question,options,gold\nQ?,a|b,0\n"})
    for fmt, name in (("csv", "items.csv"), ("jsonl", "items.jsonl")):
        with pytest.raises(ImportFailed, match=rf"{name}: is a zip archive, not a text file"):
            import_upload(study_id=study_id, fmt=fmt, filename=name, data=archive)


def test_symbolic_links_in_a_folder_and_folders_for_file_formats_are_refused(study_id, tmp_path, data):
    folder = tmp_path / "mmlu"
    (folder / "test").mkdir(parents=True)
    (folder / "test" / "a_test.csv").write_text("Q?,a,b,c,d,A\n")
    (folder / "elsewhere").symlink_to(data, target_is_directory=True)
    with pytest.raises(ImportFailed, match=r"elsewhere: is a symbolic link \(elsewhere\)"):
        import_path(study_id=study_id, fmt="mmlu", path=folder)
    with pytest.raises(ImportFailed, match="mmlu: is a folder; the csv format reads one file"):
        import_path(study_id=study_id, fmt="csv", path=folder)


def test_a_big_import_commits_in_bounded_batches_and_readers_see_progress(study_id, tmp_path, monkeypatch):
    _set(monkeypatch, import_batch_items=4)
    path = tmp_path / "many.jsonl"
    path.write_text(_jsonl(10))
    commits, seen = [], []
    engine = get_engine(os.environ["OVERSIGHT_DATABASE_URL"])

    def count_commit(conn) -> None:
        commits.append(1)

    event.listen(engine, "commit", count_commit)
    real = common._item_row

    def watching(parsed, sid, import_id):
        if parsed.external_id == "q8":  # while the third batch is being written
            with session_scope(write=False) as s:
                seen.append((s.exec(select(func.count()).select_from(Item)).one(),
                             s.get(ImportBatch, import_id).state))
        return real(parsed, sid, import_id)

    monkeypatch.setattr(common, "_item_row", watching)
    try:
        summary = import_path(study_id=study_id, fmt="jsonl", path=path)
    finally:
        event.remove(engine, "commit", count_commit)
    assert summary.n_items == 10
    assert len(commits) >= 5  # the batch row, three item batches, the closing row
    assert seen == [(8, "importing")]
    with session_scope(write=False) as s:
        assert s.get(ImportBatch, summary.import_id).state == "done"


def test_a_failure_in_a_later_batch_deletes_the_earlier_ones(study_id, tmp_path, monkeypatch, counts):
    _set(monkeypatch, import_batch_items=3)
    path = tmp_path / "many.jsonl"
    path.write_text(_jsonl(10))
    real = common._item_row

    def failing(parsed, sid, import_id):
        if parsed.external_id == "q7":
            raise OSError(28, "No space left on device")
        return real(parsed, sid, import_id)

    monkeypatch.setattr(common, "_item_row", failing)
    with pytest.raises(OSError):
        import_path(study_id=study_id, fmt="jsonl", path=path)
    assert counts() == NOTHING


def test_an_import_left_unfinished_by_a_dead_process_is_discarded(study_id, tmp_path):
    from datetime import timedelta

    from storage.models import utcnow

    with session_scope() as s:
        dead = ImportBatch(study_id=study_id, format="jsonl", source="x", state="importing",
                           created_at=utcnow() - timedelta(hours=2))
        s.add(dead)
        s.flush()
        s.add(Item(study_id=study_id, import_id=dead.id, external_id="half", question="?", options=["a", "b"]))
    assert common.discard_stale_imports() == 1
    with session_scope(write=False) as s:
        assert s.exec(select(func.count()).select_from(Item)).one() == 0
