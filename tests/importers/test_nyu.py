"""The NYU debate importer on a three-room fixture: items, answer-order mapping, turns, quotes, judgments."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlmodel import select

from oversight.db import session_scope
from oversight.importers import import_path
from oversight.importers.common import ImportFailed
from storage.models import Item, ItemGold, Judgment, Transcript, Turn


@pytest.fixture
def imported(study_id, data):
    summary = import_path(study_id=study_id, fmt="nyu-debate", path=data / "nyu")
    with session_scope(write=False) as s:
        items = {i.question: i for i in s.exec(select(Item)).all()}
        gold = {g.item_id: g.gold_index for g in s.exec(select(ItemGold)).all()}
        rooms = {t.external_id: t for t in s.exec(select(Transcript)).all()}
        turns = {name: s.exec(select(Turn).where(Turn.transcript_id == t.id).order_by(Turn.position)).all()
                 for name, t in rooms.items()}
        judgments = {name: s.exec(select(Judgment).where(Judgment.transcript_id == t.id).order_by(Judgment.id)).all()
                     for name, t in rooms.items()}
    return summary, items, gold, rooms, turns, judgments


def test_items_one_per_story_question(imported):
    summary, items, gold, rooms, _, _ = imported
    assert (summary.n_items, summary.n_transcripts) == (2, 3)
    owner = items["Who owns the key?"]
    assert owner.options == ["Bo owns it", "Ann owns it"]  # the earliest room's order
    assert gold[owner.id] == 0
    assert "Ann found the [red] key under the mat." in owner.source_text  # PTB brackets undone
    assert owner.source_title == "The Tiny Story" and "nyu" in owner.tags
    assert rooms["tiny-story-0"].item_id == rooms["tiny-story-1"].item_id == owner.id
    assert rooms["tiny-story-2"].item_id == items["Where was the key?"].id


def test_transcript_fields(imported):
    _, _, _, rooms, _, _ = imported
    debate, ai, open_room = rooms["tiny-story-0"], rooms["tiny-story-1"], rooms["tiny-story-2"]
    assert (debate.setting, debate.status, debate.origin, debate.tags) == ("human debate", "complete", "imported", ["nyu", "paper"])
    assert (ai.setting, ai.status) == ("AI consultancy", "complete")
    assert (open_room.setting, open_room.status, open_room.tags) == ("human consultancy", "incomplete", ["nyu"])
    assert debate.meta["answer_order"] == [0, 1] and ai.meta["answer_order"] == [1, 0]
    assert debate.meta["roles"]["debater_a"] == {"name": "Alice Apple", "room_answer": 0, "argues": 0, "honest": True, "role": "honest"}
    assert debate.meta["roles"]["debater_b"]["role"] == "dishonest"
    assert ai.meta["roles"]["consultant"] == {"name": "GPT-4", "room_answer": 1, "argues": 0, "honest": True, "role": "honest"}
    assert "LogScoreWithLinearPenalty" in debate.meta["scoring_function"]
    assert debate.meta["rules"]["scoringFunction"] == debate.meta["scoring_function"]
    assert debate.meta["offline_judges"] == {"Olly Owl": "stepped"}
    assert debate.meta["final_judgement"] == [0.8, 0.2] and ai.meta["final_judgement"] == [0.9, 0.1]


def test_turns_speeches_quotes_and_judge_feedback(imported):
    _, items, _, _, turns, _ = imported
    story = items["Who owns the key?"].source_text
    debate = turns["tiny-story-0"]
    assert [(t.role, t.round) for t in debate] == [
        ("judge", 0), ("debater_a", 1), ("debater_b", 1), ("judge", 1), ("debater_a", 2), ("debater_b", 3), ("judge", 3)]
    bob = debate[2]
    assert bob.speaker == "Bob Bean"
    assert bob.text == "Look: <quote>Ann found the [red] key</quote> - she found it."
    assert bob.quotes[0]["span"] == [5, 12] and bob.quotes[0]["verified"] is True
    alice = debate[1]
    assert alice.text.startswith("He says <quote>") and alice.quotes[0]["text"].startswith('"It')
    assert debate[3].text == "Ann found it, though." and debate[3].speaker == "Jude Jam"
    clipped = debate[5].quotes[0]
    assert clipped["span"] == [22, 27] and clipped["clipped_to"] == 25 and clipped["text"].endswith("said Bo.")
    for room in turns.values():
        for turn in room:
            for quote in turn.quotes:
                assert story[quote["source_start"]:quote["source_end"]] == quote["text"]
                assert f"<quote>{quote['text']}</quote>" in turn.text
    ai = turns["tiny-story-1"]
    assert [(t.role, t.model) for t in ai] == [("consultant", "GPT-4"), ("judge", None)]


def test_judgments_in_item_order_with_final_and_offline(imported):
    _, _, _, _, _, judgments = imported
    debate = judgments["tiny-story-0"]
    human = [j for j in debate if j.judge_kind == "human"]
    assert [(j.round, j.probabilities, j.is_final) for j in human] == [
        (0, [0.5, 0.5], False), (1, [0.4, 0.6], False), (3, [0.8, 0.2], True)]
    assert human[0].answer_index is None and human[1].answer_index == 1 and human[-1].rationale == "Bo claims it."
    offline = [j for j in debate if j.judge_kind == "offline-human"]
    assert [(j.judge_name, j.round, j.probabilities, j.is_final) for j in offline] == [
        ("Olly Owl", 0, [0.6, 0.4], False), ("Olly Owl", 1, [0.3, 0.7], True)]
    (ai,) = judgments["tiny-story-1"]
    assert ai.probabilities == [0.9, 0.1] and ai.is_final  # room order [0.1, 0.9] mapped to the item's
    (pending,) = judgments["tiny-story-2"]
    assert not pending.is_final


def test_reimport_skips_items_and_rooms(imported, study_id, data, counts):
    before = counts()
    again = import_path(study_id=study_id, fmt="nyu-debate", path=data / "nyu")
    assert (again.n_items, again.n_items_skipped, again.n_transcripts, again.n_transcripts_skipped) == (0, 2, 0, 3)
    assert counts() == {**before, "batches": before["batches"] + 1}


def test_debates_folder_itself_is_accepted(study_id, data):
    assert import_path(study_id=study_id, fmt="nyu-debate", path=data / "nyu" / "debates").n_transcripts == 3


def _broken_copy(data: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "nyu"
    shutil.copytree(data / "nyu", folder)
    return folder


def _edit_meta(folder: Path, line: int, edit) -> None:
    path = folder / "debates-metadata.jsonl"
    rows = [json.loads(l) for l in path.read_text().splitlines()]
    edit(rows[line - 1])
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def _edit_room(folder: Path, name: str, edit) -> None:
    path = folder / "debates" / f"{name}.json"
    room = json.loads(path.read_text())
    edit(room)
    path.write_text(json.dumps(room))


def _final(meta):
    meta["status"]["Complete"]["result"]["judgingInfo"]["finalJudgement"] = [0.5, 0.5]


def _answers(room):
    room["setup"]["answers"][0] = "Somebody else"


def _distribution(room):
    room["rounds"][2]["JudgeFeedback"]["distribution"] = [0.4]


def _span(room):
    room["rounds"][1]["SimultaneousSpeeches"]["speeches"]["1"]["content"][1]["Quote"]["span"] = [9, 3]


@pytest.mark.parametrize("breaker,message", [
    (lambda f: _edit_meta(f, 1, _final),
     "debates-metadata.jsonl line 1, field 'status.Complete.result.judgingInfo.finalJudgement': [0.5, 0.5] differs"),
    (lambda f: _edit_room(f, "tiny-story-1", _answers),
     "tiny-story-1.json, field 'setup.answers': answers differ from room 'tiny-story-0'"),
    (lambda f: _edit_room(f, "tiny-story-0", _distribution),
     "tiny-story-0.json, field 'rounds[2].JudgeFeedback.distribution': must be two probabilities"),
    (lambda f: _edit_room(f, "tiny-story-0", _span),
     "tiny-story-0.json, field 'rounds[1].SimultaneousSpeeches.speeches.1.content[1].Quote.span'"),
    (lambda f: (f / "debates" / "tiny-story-2.json").unlink(),
     "debates-metadata.jsonl line 3, field 'name': no room file debates/tiny-story-2.json"),
    (lambda f: (f / "debates" / "extra.json").write_text("{}"),
     "extra.json: room has no line in debates-metadata.jsonl"),
    (lambda f: (f / "debates-metadata.jsonl").write_text((f / "debates-metadata.jsonl").read_text() + "{oops\n"),
     "debates-metadata.jsonl line 4: not valid JSON"),
])
def test_broken_folder_names_the_place_and_lands_nothing(study_id, data, tmp_path, counts, breaker, message):
    folder = _broken_copy(data, tmp_path)
    breaker(folder)
    with pytest.raises(ImportFailed) as caught:
        import_path(study_id=study_id, fmt="nyu-debate", path=folder)
    assert str(caught.value).startswith(message), str(caught.value)
    assert set(counts().values()) == {0}


def test_not_a_debate_folder(study_id, tmp_path):
    with pytest.raises(ImportFailed, match="not an NYU debate folder"):
        import_path(study_id=study_id, fmt="nyu-debate", path=tmp_path)
