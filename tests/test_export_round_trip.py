"""A study moves between installations: `export` writes everything (practice, catch and excluded answers with their
status, payments), and `import --format oversight-export` rebuilds it in another database with the same report and
sandwich figures, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import random
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlmodel import select

from oversight import settings as settings_mod
from oversight.db import init_db, session_scope
from oversight.importers.common import ImportFailed
from oversight.importers.oversight_export import import_export
from oversight.results.export import export_study, export_zip
from oversight.results.report import report_text, study_report
from oversight.sandwiching.analysis import sandwich, text_table, to_json
from oversight.study.attention import set_override
from oversight.study.participation import next_task, record_consent, submit_answer
from oversight.study.payments import export_payments
from storage import db as storage_db
from storage.models import Assignment, ItemGold, Study
from tests.factories import GOOD, expert, four_option_study, participants, review


def _answer(user_id: int, *, right: float, seed: int, stop_after: int | None = None, study_id: int | None = None
            ) -> None:
    """A person on the app's path: 40% on their choice of four, right with probability `right`; `stop_after`:
    they leave after that many tasks."""
    rng = random.Random(seed)
    if study_id is None:
        record_consent(user_id=user_id)
    n = 0
    while (task := next_task(user_id=user_id, study_id=study_id)) is not None and n != stop_after:
        with session_scope(write=False) as s:
            item_id = s.get(Assignment, task.assignment_id).item_id
            gold = s.get(ItemGold, item_id).gold_index
        choice = gold if rng.random() < right else (gold + 1 + rng.randrange(3)) % 4
        submit_answer(user_id=user_id, assignment_id=task.assignment_id,
                      probabilities=[0.4 if k == choice else 0.2 for k in range(4)])
        n += 1


def _a_study_with_everything() -> int:
    sid = four_option_study(12, status="open", attention_exclude=1, items_per_participant=6, base_pay=2.0,
                            bonus_rule="per_correct", bonus_amount=0.1)
    people = participants(sid, 8)
    for k, uid in enumerate(people):
        _answer(uid, right=0.3 + 0.08 * k, seed=k, stop_after=3 if k == 0 else None)
    set_override(study_id=sid, participant_id=people[2], decision="exclude")
    experts = [expert("eve"), expert("ed")]
    for k, uid in enumerate(experts):
        _answer(uid, right=0.9, seed=100 + k, study_id=sid)
    with session_scope(write=False) as s:
        done = s.exec(select(Assignment.id).where(Assignment.study_id == sid, Assignment.state == "done",
                                                  Assignment.practice == False)  # noqa: E712
                      .order_by(Assignment.id)).all()
    for k, aid in enumerate(done[:10]):
        review(sid, experts[k % 2], aid, **GOOD)
    export_payments(study_id=sid)
    return sid


@contextmanager
def _another_database(source_url: str, tmp_path: Path) -> Iterator[str]:
    """A new, migrated database on the same engine, configured as the app's in the block."""
    if source_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'other.db'}"
    else:
        from tests.conftest import _fresh_postgres_database

        url = _fresh_postgres_database()
    from tests.conftest import _configure

    with pytest.MonkeyPatch.context() as mp:
        _configure(mp, url, tmp_path)
        init_db()
        try:
            yield url
        finally:
            storage_db.dispose_engines()
            settings_mod.reset_settings()
    storage_db.dispose_engines()


def _files(folder: Path) -> dict[str, list]:
    """Every file of an export but its manifest (which says when), rows as read; the import an item or transcript
    came with is this database's own (the moved study's items came with its import)."""
    files: dict[str, list] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix == ".jsonl":
            files[path.name] = [{k: v for k, v in json.loads(line).items() if k != "import_id"}
                                for line in path.read_text(encoding="utf-8").splitlines()]
        elif path.name != "manifest.json":
            files[path.name] = path.read_text(encoding="utf-8").splitlines()
    return files


@pytest.mark.slow
def test_a_study_exported_and_imported_into_a_new_database_gives_the_same_report(any_db, tmp_path):
    sid = _a_study_with_everything()
    report, figures = study_report(study_id=sid), to_json(sandwich(study_id=sid))
    _, data = export_zip(study_id=sid)
    (tmp_path / "study.zip").write_bytes(data)
    export_study(study_id=sid, out_dir=tmp_path / "before")

    # The export carries every answer with its status, and every payment.
    with zipfile.ZipFile(tmp_path / "study.zip") as zf:
        statuses = {json.loads(line)["status"] for line in zf.read("judgments.jsonl").splitlines()}
        payouts = zf.read("payouts.jsonl").splitlines()
    assert {"result", "practice", "catch", "excluded"} <= statuses
    assert len(payouts) > 8  # base pay per finished person, bonuses per right answer

    (tmp_path / "new").mkdir()
    with _another_database(any_db, tmp_path / "new"):
        moved = import_export(path=tmp_path / "study.zip")
        assert moved.ids_kept and moved.study_id == sid
        assert sorted(moved.staff_created) == ["ed (expert)", "eve (expert)"]
        assert study_report(study_id=sid) == report
        assert to_json(sandwich(study_id=sid)) == figures
        # Row by row: the moved study exports the same files.
        export_study(study_id=sid, out_dir=tmp_path / "after")
        assert _files(tmp_path / "after") == _files(tmp_path / "before")

        # Imported again beside itself: new ids in the same order, the same figures as text.
        again = import_export(path=tmp_path / "study.zip")
        assert not again.ids_kept and again.study_id != sid and again.counts == moved.counts
        copy = study_report(study_id=again.study_id)
        assert report_text(copy) == report_text(report)
        assert text_table(copy["sandwich"]) == text_table(report["sandwich"])
        # Ids go on after the imported ones (PostgreSQL sequences were reset).
        with session_scope() as s:
            row = Study(name="next")
            s.add(row)
            s.flush()
            assert row.id == again.study_id + 1


def test_the_import_refuses_a_folder_that_is_not_a_study_export(db, tmp_path):
    (tmp_path / "items.jsonl").write_text('{"question": "q?", "options": ["a", "b"], "gold": 0}\n')
    with pytest.raises(ImportFailed, match="not an Oversight study export"):
        import_export(path=tmp_path)
    with pytest.raises(ImportFailed, match="not found"):
        import_export(path=tmp_path / "nothing.zip")


def test_an_export_that_fails_half_way_leaves_nothing_behind(db, tmp_path):
    sid = four_option_study(4, kinds=("alone",), status="open")
    for uid in participants(sid, 2):
        _answer(uid, right=0.5, seed=uid)
    export_study(study_id=sid, out_dir=tmp_path / "out")
    with session_scope(write=False) as s:
        studies = len(s.exec(select(Study)).all())
    # The last file names an assignment the export does not hold: the study, its items and answers all go.
    with (tmp_path / "out" / "payouts.jsonl").open("a") as f:
        f.write(json.dumps({"id": 99, "export_id": 1, "study_id": sid, "user_id": 1, "assignment_id": None,
                            "kind": "bonus", "amount": "lots"}) + "\n")
    with pytest.raises(ImportFailed, match="nothing was written|does not hold"):
        import_export(path=tmp_path / "out")
    with session_scope(write=False) as s:
        assert len(s.exec(select(Study)).all()) == studies


def test_the_cli_imports_an_export_as_a_new_study(db, tmp_path, capsys):
    from oversight.cli import main

    sid = four_option_study(4, kinds=("alone",), status="open")
    assert main(["export", "--study", str(sid), "--out", str(tmp_path / "out")]) == 0
    assert main(["import", "--format", "oversight-export", str(tmp_path / "out"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out.split("exported to", 1)[1].split("\n", 1)[1])
    assert result["counts"]["items"] == 6 and result["study_id"] != sid
    assert main(["import", "--format", "oversight-export", "--study", str(sid), str(tmp_path / "out")]) == 1
    assert main(["import", "--format", "jsonl", str(tmp_path / "out" / "items.jsonl")]) == 1
    assert "--study is required" in capsys.readouterr().err


def test_an_imported_debate_and_its_judgments_move_with_the_study_and_no_secret_does(db, tmp_path):
    from oversight.importers.common import ParsedBatch, ParsedItem, ParsedJudgment, ParsedTranscript, ParsedTurn, land
    from storage.models import Item, Judgment, RlaifLabel, RlaifLabeller, Transcript, Turn

    sid = four_option_study(2, kinds=("alone",), status="open")
    participants(sid, 2)
    room = ParsedTranscript(item_external_id="room-q", external_id="room-1", setting="human debate",
                            status="complete",
                            turns=[ParsedTurn(round=1, role="debater_a", speaker="A", text="It is north."),
                                   ParsedTurn(round=1, role="debater_b", speaker="B", text="It is south.")],
                            judgments=[ParsedJudgment(judge_kind="offline-human", judge_name="j", round=1,
                                                      probabilities=[0.7, 0.1, 0.1, 0.1], is_final=True)])
    land(ParsedBatch("nyu-debate", "rooms", items=[ParsedItem("room-q", "Where?", ["north", "south", "east", "west"],
                                                              0)], transcripts=[room]), study_id=sid)
    with session_scope() as s:
        labeller = RlaifLabeller(name="honest", version=2, constitution=["Be honest."])
        s.add(labeller)
        s.flush()
        item_id = s.exec(select(Item.id).where(Item.study_id == sid, Item.external_id == "room-q")).one()
        s.add(RlaifLabel(labeller_id=labeller.id, item_id=item_id, p_first_forward=0.8, p_first_backward=0.6,
                         p_first=0.7))
    export_study(study_id=sid, out_dir=tmp_path / "out")
    people = (tmp_path / "out" / "people.jsonl").read_text()
    assert "token_hash" not in people and "password_hash" not in people
    moved = import_export(path=tmp_path / "out")
    with session_scope(write=False) as s:
        (t,) = s.exec(select(Transcript).where(Transcript.study_id == moved.study_id)).all()
        assert (t.origin, t.source_setting, t.protocol, t.external_id) == ("imported", "human debate", None, "room-1")
        assert [turn.text for turn in s.exec(select(Turn).where(Turn.transcript_id == t.id)
                                             .order_by(Turn.position))] == ["It is north.", "It is south."]
        (j,) = s.exec(select(Judgment).where(Judgment.transcript_id == t.id)).all()
        assert j.probabilities == [0.7, 0.1, 0.1, 0.1] and j.judge_kind == "offline-human"
        # The AI label moves with its item; the labeller version is the one already here (same name and version).
        (label,) = s.exec(select(RlaifLabel).join(Item, Item.id == RlaifLabel.item_id)
                          .where(Item.study_id == moved.study_id)).all()
        assert (label.labeller_id, label.p_first, label.item_id) == (labeller.id, 0.7, t.item_id)
