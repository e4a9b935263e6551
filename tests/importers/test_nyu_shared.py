"""The shared NYU human debate data (525 rooms), imported once for this module; skipped where absent.

Checks the paper's headline figures (judge accuracy on the rooms used in the paper), the answer-order
mapping against the metadata's final judgements, that quotes are verbatim in the stories, and that gold
never sits in an Item column.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from types import SimpleNamespace

import pytest
from sqlmodel import select

from oversight import settings as settings_mod
from oversight.db import init_db, session_scope
from oversight.importers import import_path
from oversight.results.report import study_report
from storage import db as storage_db
from storage.models import Item, ItemGold, Judgment, Transcript, Turn
from tests.importers.conftest import make_study, row_counts

PAPER = {  # setting: (n, correct) — Michael et al. 2023, rooms with includedInPaper
    "human debate": (131, 113),
    "human consultancy": (82, 59),
    "AI debate": (63, 48),
    "AI consultancy": (60, 53),
}


@pytest.fixture(scope="module")
def nyu(tmp_path_factory):
    path = settings_mod.get_settings().datasets_dir / "nyu_human_debate"
    if not path.is_dir():
        pytest.skip(f"nyu_human_debate not found at {path}")
    tmp = tmp_path_factory.mktemp("nyu")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OVERSIGHT_DATABASE_URL", f"sqlite:///{tmp / 'nyu.db'}")
        mp.setenv("OVERSIGHT_DATA_DIR", str(tmp))
        settings_mod.reset_settings()
        storage_db.dispose_engines()
        init_db()
        study_id = make_study("NYU debate")
        started = time.perf_counter()
        summary = import_path(study_id=study_id, fmt="nyu-debate", path=path)
        seconds = time.perf_counter() - started
        print(f"\nNYU import: {summary} ({seconds:.2f} s wall)")
        metadata = {m["name"]: m for m in map(json.loads, (path / "debates-metadata.jsonl").read_text().splitlines())}
        yield SimpleNamespace(study_id=study_id, summary=summary, seconds=seconds, path=path, metadata=metadata)
        storage_db.dispose_engines()
    settings_mod.reset_settings()


def test_everything_lands_quickly(nyu):
    s = nyu.summary
    assert (s.n_items, s.n_items_skipped, s.n_transcripts) == (288, 0, 525)
    assert nyu.seconds < 30, f"import took {nyu.seconds:.1f} s"
    counts = row_counts()
    assert counts["items"] == counts["gold"] == 288
    assert counts["transcripts"] == 525 and counts["turns"] == s.n_turns and counts["judgments"] == s.n_judgments


def test_paper_figures(nyu):
    report = study_report(study_id=nyu.study_id, tag="paper")
    human = {r["setting"]: r for r in report["by_setting"] if r["judge_kind"] == "human"}
    assert set(human) == set(PAPER)
    for setting, (n, correct) in PAPER.items():
        row = human[setting]
        assert (row["n"], row["n_correct"]) == (n, correct), setting
        assert row["accuracy"] == pytest.approx(correct / n)
        assert row["ci_low"] < row["accuracy"] < row["ci_high"]
    assert {k: round(v["accuracy"], 3) for k, v in human.items()} == {
        "human debate": 0.863, "human consultancy": 0.720, "AI debate": 0.762, "AI consultancy": 0.883}
    assert report["counts"]["transcripts_judged"] == 336


def test_settings_and_statuses_match_the_readme(nyu):
    with session_scope(write=False) as s:
        rows = s.exec(select(Transcript.source_setting, Transcript.status, Transcript.tags)).all()
    by = Counter((setting, status, "paper" in tags) for setting, status, tags in rows)
    assert by == {
        ("human debate", "complete", True): 131, ("human debate", "complete", False): 109,
        ("human debate", "incomplete", False): 12,
        ("human consultancy", "complete", True): 82, ("human consultancy", "complete", False): 14,
        ("human consultancy", "incomplete", False): 6,
        ("AI debate", "complete", True): 63, ("AI debate", "complete", False): 4, ("AI debate", "incomplete", False): 17,
        ("AI consultancy", "complete", True): 60, ("AI consultancy", "complete", False): 13,
        ("AI consultancy", "incomplete", False): 14,
    }


def test_final_judgments_follow_the_metadata_in_item_order(nyu):
    with session_scope(write=False) as s:
        rooms = {t.id: t for t in s.exec(select(Transcript)).all()}
        gold = dict(s.exec(select(ItemGold.item_id, ItemGold.gold_index)).all())
        finals = s.exec(select(Judgment).where(Judgment.is_final == True, Judgment.judge_kind == "human")).all()  # noqa: E712
    per_room = Counter(j.transcript_id for j in finals)
    assert set(per_room.values()) == {1}
    judged = {name for name, m in nyu.metadata.items()
              if "Complete" in m["status"] and m["status"]["Complete"]["result"]["judgingInfo"]}
    assert {rooms[t].external_id for t in per_room} == judged
    reordered = 0
    for j in finals:
        room = rooms[j.transcript_id]
        info = nyu.metadata[room.external_id]["status"]["Complete"]["result"]["judgingInfo"]
        order = room.meta["answer_order"]
        reordered += order == [1, 0]
        for room_index, p in enumerate(info["finalJudgement"]):
            assert j.probabilities[order[room_index]] == p
        assert j.probabilities[gold[j.item_id]] == info["finalJudgement"][info["correctAnswerIndex"]]
    assert reordered > 0  # some rooms present the answers in the other order


def test_offline_judgments_are_kept_apart(nyu):
    with session_scope(write=False) as s:
        kinds = Counter(s.exec(select(Judgment.judge_kind)).all())
        names = set(s.exec(select(Judgment.judge_name).where(Judgment.judge_kind == "offline-human")).all())
    assert kinds["human"] == 1987 and kinds["offline-human"] == nyu.summary.n_judgments - 1987
    assert "" not in names and len(names) > 1


def test_quotes_are_verbatim_in_the_story(nyu):
    with session_scope(write=False) as s:
        stories = dict(s.exec(select(Transcript.id, Item.source_text).join(Item, Item.id == Transcript.item_id)).all())
        n = 0
        for transcript_id, text, quotes in s.exec(select(Turn.transcript_id, Turn.text, Turn.quotes)):
            story = stories[transcript_id]
            for quote in quotes:
                assert quote["text"] in story
                assert story[quote["source_start"]:quote["source_end"]] == quote["text"]
                assert f"<quote>{quote['text']}</quote>" in text
                n += 1
    assert n == 6932  # every Quote segment of every speech


def test_gold_is_never_in_item_columns(nyu):
    assert not {name for name in Item.model_fields if "gold" in name or "correct" in name or "answer" in name}
    with session_scope(write=False) as s:
        items = s.exec(select(Item)).all()
        gold = dict(s.exec(select(ItemGold.item_id, ItemGold.gold_index)).all())
    assert len(gold) == len(items) == 288
    for item in items:
        assert not any("gold" in k or "correct" in k or "answer" in k for k in item.meta)
        assert len(item.options) == 2
    assert set(Counter(gold.values())) == {0, 1}  # the gold is not always first


def test_reimport_skips_everything(nyu):
    before = row_counts()
    again = import_path(study_id=nyu.study_id, fmt="nyu-debate", path=nyu.path)
    assert (again.n_items, again.n_items_skipped, again.n_transcripts, again.n_transcripts_skipped) == (0, 288, 0, 525)
    after = row_counts()
    assert {k: v for k, v in after.items() if k != "batches"} == {k: v for k, v in before.items() if k != "batches"}
