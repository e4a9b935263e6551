"""export_study: JSONL per table (items with gold), a flat judgments CSV, and the manifest."""

from __future__ import annotations

import csv
import json

import pytest

from oversight.db import session_scope
from oversight.results.export import export_study
from oversight.importers import import_path
from sqlmodel import select

from storage.models import ExpertReview, Item, Judgment, Study, Transcript, Turn, User

FILES = {"items.jsonl", "strategies.jsonl", "transcripts.jsonl", "turns.jsonl", "judgments.jsonl", "reviews.jsonl",
         "judgments.csv", "manifest.json", "rubrics.jsonl", "final_labels.jsonl", "conditions.jsonl",
         "assignments.jsonl", "participants.jsonl", "questionnaires.jsonl", "proposals.jsonl",
         "version_decisions.jsonl", "study.json", "people.jsonl", "design_places.jsonl", "payment_exports.jsonl",
         "payouts.jsonl", "ai_labellers.jsonl", "ai_labels.jsonl"}


@pytest.fixture
def study_id(db, tmp_path):
    with session_scope() as s:
        study, other = Study(name="Export study"), Study(name="Other")
        s.add_all([study, other])
        s.flush()
        ids = study.id, other.id
    items = tmp_path / "in.jsonl"
    items.write_text("\n".join(json.dumps(r) for r in [
        {"id": "a", "question": "A?", "options": ["x", "y"], "gold": 1, "explanation": "because"},
        {"id": "b", "question": "B?", "options": ["x", "y", "z"], "gold": "C", "source_text": "text"},
    ]) + "\n")
    for sid in ids:
        import_path(study_id=sid, fmt="jsonl", path=items)
    with session_scope() as s:
        a = s.exec(select(Item).where(Item.study_id == ids[0], Item.external_id == "a")).one()
        expert = User(role="expert", name="erin")
        t = Transcript(study_id=ids[0], item_id=a.id, source_setting="human debate", origin="imported", external_id="room-1",
                       status="complete", meta={"rules": {"rounds": 2}})
        s.add_all([expert, t])
        s.flush()
        s.add_all([
            Turn(transcript_id=t.id, position=0, role="debater_a", speaker="A", text="<quote>q</quote>",
                 quotes=[{"text": "q", "start": 0, "end": 1}]),
            Turn(transcript_id=t.id, position=1, role="judge", speaker="J", text="hm"),
            Judgment(item_id=a.id, transcript_id=t.id, judge_name="J", probabilities=[0.3, 0.7], round=1, is_final=True),
            Judgment(item_id=a.id, transcript_id=t.id, judge_name="J", probabilities=[0.6, 0.4], round=0),
            ExpertReview(study_id=ids[0], expert_id=expert.id, transcript_id=t.id, labels={"outcome": "correct"}),
        ])
    return ids[0]


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_export_writes_every_file_and_a_manifest(study_id, tmp_path):
    out = tmp_path / "out"
    manifest = export_study(study_id=study_id, out_dir=out)
    assert {p.name for p in out.iterdir()} == FILES
    assert json.loads((out / "manifest.json").read_text()) == manifest
    assert manifest["counts"] == {"items": 2, "strategies": 0, "transcripts": 1, "turns": 2, "judgments": 2,
                                  "results": 2, "reviews": 1, "rubrics": 0, "final_labels": 0}
    assert manifest["study"] == "Export study" and manifest["contains_gold"] is True
    assert manifest["files"]["judgments.csv"] == 2


def test_items_carry_gold_and_only_this_study(study_id, tmp_path):
    export_study(study_id=study_id, out_dir=tmp_path)
    items = {r["external_id"]: r for r in read_jsonl(tmp_path / "items.jsonl")}
    assert set(items) == {"a", "b"} and all(r["study_id"] == study_id for r in items.values())
    assert (items["a"]["gold_index"], items["a"]["gold_answer"], items["a"]["explanation"]) == (1, "y", "because")
    assert (items["b"]["gold_index"], items["b"]["gold_answer"], items["b"]["source_text"]) == (2, "z", "text")
    assert items["a"]["created_at"].endswith("+00:00")


def test_transcripts_turns_judgments_reviews(study_id, tmp_path):
    export_study(study_id=study_id, out_dir=tmp_path)
    (transcript,) = read_jsonl(tmp_path / "transcripts.jsonl")
    assert transcript["external_id"] == "room-1" and transcript["meta"] == {"rules": {"rounds": 2}}
    turns = read_jsonl(tmp_path / "turns.jsonl")
    assert [t["position"] for t in turns] == [0, 1] and turns[0]["quotes"][0]["text"] == "q"
    judgments = read_jsonl(tmp_path / "judgments.jsonl")
    assert [j["probabilities"] for j in judgments] == [[0.3, 0.7], [0.6, 0.4]]
    (review,) = read_jsonl(tmp_path / "reviews.jsonl")
    # `verdict` and `score` are no columns since migration 0010; the export keeps them for older analyses.
    assert (review["verdict"], review["score"], review["labels"]) == ("correct", None, {"outcome": "correct"})
    assert transcript["setting"] == "human debate" and {"protocol", "source_setting"}.isdisjoint(transcript)


def test_judgments_csv(study_id, tmp_path):
    export_study(study_id=study_id, out_dir=tmp_path)
    with (tmp_path / "judgments.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["round"], r["is_final"], r["p_correct"], r["correct"]) for r in rows] == [
        ("1", "1", "0.7", "1"), ("0", "0", "0.4", "0")]
    first = rows[0]
    assert (first["item_external_id"], first["transcript_external_id"], first["setting"]) == ("a", "room-1", "human debate")
    assert json.loads(first["probabilities"]) == [0.3, 0.7] and first["gold_index"] == "1"


def test_judgments_csv_says_which_answer_form_a_person_used(study_id, tmp_path):
    with session_scope() as s:
        b = s.exec(select(Item).where(Item.study_id == study_id, Item.external_id == "b")).one()
        s.add(Judgment(item_id=b.id, judge_name="p1", probabilities=[0.7, 0.15, 0.15], answer_index=0,
                       is_final=True, answer_form="choice-confidence"))
    export_study(study_id=study_id, out_dir=tmp_path)
    with (tmp_path / "judgments.csv").open(newline="") as f:
        forms = {r["judge_name"]: r["answer_form"] for r in csv.DictReader(f)}
    assert forms == {"J": "", "p1": "choice-confidence"}  # the imported judge's form is unknown: empty


def test_empty_study_and_unknown_study(db, tmp_path):
    with session_scope() as s:
        s.add(Study(name="Empty"))
    manifest = export_study(study_id=1, out_dir=tmp_path / "e")
    assert set(manifest["counts"].values()) == {0}
    assert (tmp_path / "e" / "judgments.csv").read_text().startswith("judgment_id,")
    with pytest.raises(ValueError, match="study 5 does not exist"):
        export_study(study_id=5, out_dir=tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_a_direct_answer_has_the_dashboards_setting_in_the_csv(study_id, tmp_path):
    from oversight.results.judgment_records import load_judgments

    with session_scope() as s:
        b = s.exec(select(Item).where(Item.study_id == study_id, Item.external_id == "b")).one()
        s.add(Judgment(item_id=b.id, judge_name="p1", answer_index=2, is_final=True))
    export_study(study_id=study_id, out_dir=tmp_path)
    with (tmp_path / "judgments.csv").open(newline="") as f:
        direct = [r for r in csv.DictReader(f) if not r["transcript_id"]]
    assert [(r["setting"], r["p_correct"]) for r in direct] == [("direct-qa", "1.0")]
    assert {r.setting for r in load_judgments(study_id=study_id) if r.transcript_id is None} == {"direct-qa"}


def test_a_judgment_on_an_item_without_gold_is_exported_but_not_scored(study_id, tmp_path):
    from oversight.results.judgment_records import load_judgments

    with session_scope() as s:
        item = Item(study_id=study_id, external_id="no-gold", question="C?", options=["x", "y"])
        s.add(item)
        s.flush()
        s.add(Judgment(item_id=item.id, judge_name="p2", probabilities=[0.2, 0.8], is_final=True))
        no_gold_item = item.id
    export_study(study_id=study_id, out_dir=tmp_path)
    with (tmp_path / "judgments.csv").open(newline="") as f:
        (row,) = [r for r in csv.DictReader(f) if r["item_external_id"] == "no-gold"]
    assert (row["gold_index"], row["p_correct"], row["correct"], row["origin"]) == ("", "", "", "live")
    assert json.loads(row["probabilities"]) == [0.2, 0.8]
    assert no_gold_item not in {r.item_id for r in load_judgments(study_id=study_id, final_only=False)}


def test_practice_answers_are_exported_marked_as_practice(study_id, tmp_path):
    from storage.models import Assignment

    with session_scope() as s:
        b = s.exec(select(Item).where(Item.study_id == study_id, Item.external_id == "b")).one()
        person = User(role="participant", name="p", study_id=study_id)
        s.add(person)
        s.flush()
        for practice, item_id in ((True, b.id), (False, b.id - 1)):
            a = Assignment(study_id=study_id, participant_id=person.id, item_id=item_id, practice=practice,
                           state="done")
            s.add(a)
            s.flush()
            s.add(Judgment(item_id=item_id, assignment_id=a.id, judge_id=person.id, probabilities=[0.2, 0.8],
                           is_final=True, rationale="practice" if practice else "real"))
    export_study(study_id=study_id, out_dir=tmp_path)
    with (tmp_path / "judgments.csv").open(newline="") as f:
        people = [r for r in csv.DictReader(f) if r["judge_id"] == str(person.id)]
    assert [(r["item_id"], r["status"]) for r in people] == [(str(b.id), "practice"), (str(b.id - 1), "result")]
    statuses = {j["rationale"]: j["status"] for j in read_jsonl(tmp_path / "judgments.jsonl")}
    assert statuses["real"] == "result" and statuses["practice"] == "practice"


def test_the_design_as_dealt_and_the_loops_are_exported(study_id, tmp_path):
    """Conditions, every assignment (practice and attention checks marked), the participants with their attention
    status, questionnaire answers, proposals and version decisions: what an analysis of a sandwiching study joins."""
    from storage.models import (Assignment, Condition, Proposal, QuestionnaireAnswer, Strategy, VersionDecision,
                                utcnow)

    with session_scope() as s:
        s.get(Study, study_id).min_seconds_per_item = 3600  # every real answer is too fast: one flag each
        s.get(Study, study_id).attention_warn = 1
        a, b = s.exec(select(Item).where(Item.study_id == study_id).order_by(Item.id)).all()
        v1 = Strategy(study_id=study_id, name="Helper", protocol="assisted-qa")
        s.add(v1)
        s.flush()
        cond = Condition(study_id=study_id, name="With helper", kind="assisted", strategy_id=v1.id)
        person = User(role="participant", name="P-1", study_id=study_id, external_id="PID-1")
        s.add_all([cond, person])
        s.flush()
        real = Assignment(study_id=study_id, participant_id=person.id, item_id=a.id, condition_id=cond.id,
                          strategy_id=v1.id, protocol="assisted-qa", state="done", position=1, started_at=utcnow())
        check = Assignment(study_id=study_id, participant_id=person.id, item_id=b.id, catch=True, state="pending",
                           position=0)
        s.add_all([real, check])
        s.flush()
        s.add(Judgment(item_id=a.id, assignment_id=real.id, judge_id=person.id, probabilities=[0.2, 0.8],
                       is_final=True))
        s.add(QuestionnaireAnswer(study_id=study_id, user_id=person.id, condition_id=cond.id, strategy_id=v1.id,
                                  helped=4, sure=3, change="shorter answers"))
        proposal = Proposal(study_id=study_id, user_id=person.id, strategy_id=v1.id, text="Quote more.",
                            reason="I could not check it")
        s.add(proposal)
        s.flush()
        s.add(VersionDecision(study_id=study_id, strategy_id=v1.id, decision="candidate", rationale="try it",
                              proposal_id=proposal.id))
        ids = dict(cond=cond.id, real=real.id, check=check.id, person=person.id, proposal=proposal.id)
    manifest = export_study(study_id=study_id, out_dir=tmp_path)
    conditions = read_jsonl(tmp_path / "conditions.jsonl")
    assert [(c["id"], c["kind"]) for c in conditions] == [(ids["cond"], "assisted")]
    dealt = read_jsonl(tmp_path / "assignments.jsonl")
    assert [(d["id"], d["catch"], d["condition_id"], d["state"]) for d in dealt] == [
        (ids["check"], True, None, "pending"), (ids["real"], False, ids["cond"], "done")]
    assert dealt[1]["arm"] == "assisted-qa" and "protocol" not in dealt[1]  # the export keeps the old name
    people = read_jsonl(tmp_path / "participants.jsonl")
    assert [(p["id"], p["external_id"], p["simulated"]) for p in people] == [(ids["person"], "PID-1", False)]
    assert people[0]["attention"]["too_fast"] == 1 and people[0]["attention"]["status"] == "warn"
    [answer] = read_jsonl(tmp_path / "questionnaires.jsonl")
    assert (answer["helped"], answer["change"]) == (4, "shorter answers")
    [prop] = read_jsonl(tmp_path / "proposals.jsonl")
    [decision] = read_jsonl(tmp_path / "version_decisions.jsonl")
    assert prop["text"] == "Quote more." and decision["proposal_id"] == ids["proposal"] == prop["id"]
    assert manifest["files"]["assignments.jsonl"] == 2 and manifest["files"]["version_decisions.jsonl"] == 1
    other = tmp_path / "other"
    export_study(study_id=study_id + 1, out_dir=other)  # another study's export holds none of it
    assert read_jsonl(other / "assignments.jsonl") == [] and read_jsonl(other / "participants.jsonl") == []


def test_judgments_csv_shows_formula_like_cells_as_text(db, tmp_path):
    """An imported item id and a judge name that a spreadsheet would run as formulas are written with a leading
    quote; the numbers (probabilities, p_correct) stay as they were."""
    with session_scope() as s:
        study = Study(name="Formulas")
        s.add(study)
        s.flush()
        sid = study.id
    items = tmp_path / "in.jsonl"
    items.write_text(json.dumps({"id": '=HYPERLINK("http://127.0.0.1:9/x","open")', "question": "A?",
                                 "options": ["x", "y"], "gold": 1}) + "\n")
    import_path(study_id=sid, fmt="jsonl", path=items)
    with session_scope() as s:
        item = s.exec(select(Item).where(Item.study_id == sid)).one()
        s.add(Judgment(item_id=item.id, judge_name="@SUM(1+1)", probabilities=[0.3, 0.7], is_final=True))
    export_study(study_id=sid, out_dir=tmp_path / "out")
    with (tmp_path / "out" / "judgments.csv").open(newline="") as f:
        [row] = list(csv.DictReader(f))
    assert row["item_external_id"] == '\'=HYPERLINK("http://127.0.0.1:9/x","open")'
    assert row["judge_name"] == "'@SUM(1+1)"
    assert (row["p_correct"], row["probabilities"]) == ("0.7", "[0.3, 0.7]")
