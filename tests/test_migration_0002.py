"""Migration 0002 (protocols as modules) on a database holding every kind of transcript: live debates,
consultancies and direct QA stored the old way (turn index = round * 10 + slot), imported NYU rooms, and the
duplicates that concurrency could leave before. Nothing is lost; everything reads the same afterwards."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text
from sqlmodel import select

from oversight import models
from oversight.protocols import strategies
from oversight.access.auth import create_invites
from oversight.db import session_scope
from oversight.importers import import_path
from oversight.study.participation import next_task, submit_answer
from oversight.protocols import live
from oversight.protocols.registry import get_protocol
from oversight.protocols.runner import SpeechRunner
from oversight.settings import get_settings
from oversight.protocols.transcripts import transcript_detail
from storage.db import dispose_engines, get_engine
from storage.migrate import alembic_config, current_revision, head_revision
from storage.models import Item, ItemGold, Judgment, Strategy, Transcript, Turn
from tests.test_debate import STORY, scripted_models  # noqa: F401  (fixture)

NYU = Path(__file__).parent / "importers" / "data" / "nyu"
OLD_SLOTS = {"debater_a": 0, "consultant": 0, "debater_b": 1, "judge": 9}
# Every rule the single pre-0002 Rules dataclass stored, whatever the protocol.
OLD_RULES = {"rounds": 3, "speeches": "simultaneous", "char_limit": 750, "quote_limit": 250, "judge_questions": False,
             "judge_may_end_early": True, "turn_time_limit_s": None, "total_time_limit_s": None, "scoring": "log",
             "turn_penalty": 0.05, "randomise_answer_order": True, "consultant_honest_p": 0.5,
             "feedback_after_judging": True, "best_of_n": 1}


def turns_by_transcript() -> dict[int, list[tuple]]:
    with session_scope(write=False) as s:
        rows = s.exec(select(Turn).order_by(Turn.transcript_id, Turn.position)).all()
    out: dict[int, list[tuple]] = {}
    for t in rows:
        out.setdefault(t.transcript_id, []).append((t.round, t.role, t.speaker, t.text, t.model))
    return out


@pytest.fixture
def every_kind(any_db, scripted_models, study):
    """A study with a finished live debate, consultancy and direct-QA transcript, a participant's answer without a
    transcript, and the imported NYU rooms; returns their ids."""
    with session_scope() as s:
        item = Item(study_id=study.id, external_id="lh", question="Why?", options=["Ships passed", "Unread"],
                    source_text=STORY)
        s.add(item)
        s.flush()
        s.add(ItemGold(item_id=item.id, gold_index=0))
        item_id = item.id
    ids = {}
    for protocol, rules in (("debate", {"rounds": 2, "judge_may_end_early": False}),
                            ("consultancy", {"rounds": 1, "consultant_honest_p": 1.0}), ("direct-qa", {})):
        sid = strategies.create_strategy(study_id=study.id, name=protocol, protocol=protocol, rules=rules).id
        tid = live.start_transcript(item_id=item_id, strategy_id=sid, seed=1)
        while (step := live.load_state(tid).step).kind != "done":
            if step.kind == "speeches":
                SpeechRunner().run_until_judge(tid)
            else:
                live.submit_report(transcript_id=tid, round_=step.round, display_probabilities=[0.7, 0.3],
                                   note=f"note {step.round}", end=step.must_end, rationale="because")
        ids[protocol] = tid
    participant = create_invites(study_id=study.id, count=1)[0].user_id
    task = next_task(user_id=participant)
    submit_answer(user_id=participant, assignment_id=task.assignment_id, probabilities=[0.2, 0.8])
    ids["assignment"] = task.assignment_id
    import_path(study_id=study.id, fmt="nyu-debate", path=NYU)
    with session_scope(write=False) as s:
        ids["rooms"] = s.exec(select(Transcript.id).where(Transcript.origin == "imported")).all()
    assert len(ids["rooms"]) == 3
    return ids


def back_to_0001_with_old_data(ids: dict) -> None:
    """Downgrade, then write what the pre-0002 code wrote: round * 10 + slot indexes for live turns, the full
    rules dict for every protocol, no prompts, and the duplicates concurrency used to leave."""
    url = get_settings().resolved_database_url
    dispose_engines()
    command.downgrade(alembic_config(url), "0001")
    assert current_revision(url) == "0001"
    with get_engine(url).begin() as conn:
        live_ids = [ids["debate"], ids["consultancy"], ids["direct-qa"]]
        rows = conn.execute(text('SELECT id, round, role FROM turn WHERE transcript_id IN (:a, :b, :c)'),
                            dict(zip("abc", live_ids))).all()
        for turn_id, rnd, role in rows:  # two passes: indexes are unique per transcript
            conn.execute(text('UPDATE turn SET "index" = :i WHERE id = :id'), {"i": -turn_id, "id": turn_id})
        for turn_id, rnd, role in rows:
            conn.execute(text('UPDATE turn SET "index" = :i WHERE id = :id'),
                         {"i": rnd * 10 + OLD_SLOTS[role], "id": turn_id})
        for sid, rules in conn.execute(text("SELECT id, rules FROM strategy")).all():
            old = {**OLD_RULES, **(json.loads(rules) if isinstance(rules, str) else rules)}
            old.pop("require_rationale", None)
            conn.execute(text("UPDATE strategy SET rules = :r, prompts = :p WHERE id = :id"),
                         {"r": json.dumps(old), "p": "{}", "id": sid})
        # A second final judgment of the participant's task and a second transcript of it (two tabs, before 0002).
        conn.execute(text("INSERT INTO judgment (item_id, assignment_id, judge_kind, judge_name, round, probabilities, "
                          "rationale, is_final, created_at) SELECT item_id, assignment_id, judge_kind, judge_name, "
                          "round, probabilities, 'second tab', is_final, created_at FROM judgment "
                          "WHERE assignment_id = :a"), {"a": ids["assignment"]})
        conn.execute(text("INSERT INTO transcript (study_id, item_id, strategy_id, assignment_id, setting, origin, "
                          "status, tags, meta, created_at) SELECT study_id, item_id, strategy_id, :a, setting, origin, "
                          "status, tags, meta, created_at FROM transcript WHERE id = :t"),
                     {"a": ids["assignment"], "t": ids["direct-qa"]})
        conn.execute(text("INSERT INTO transcript (study_id, item_id, strategy_id, assignment_id, setting, origin, "
                          "status, tags, meta, created_at) SELECT study_id, item_id, strategy_id, :a, setting, origin, "
                          "status, tags, meta, created_at FROM transcript WHERE id = :t"),
                     {"a": ids["assignment"], "t": ids["direct-qa"]})
    dispose_engines()


def test_the_migration_keeps_every_turn_of_every_kind_of_transcript(every_kind):
    before = turns_by_transcript()
    rooms_before = {t: transcript_detail(transcript_id=t) for t in every_kind["rooms"]}
    back_to_0001_with_old_data(every_kind)
    url = get_settings().resolved_database_url
    command.upgrade(alembic_config(url), "head")
    dispose_engines()
    assert current_revision(url) == head_revision()

    # Same turns with the same text; live turns in the order the old index gave them (a round's speeches A before
    # B, then the judge), imported ones in their own order.
    live_ids = {every_kind[p] for p in ("debate", "consultancy", "direct-qa")}
    expected = {tid: sorted(rows, key=lambda r: r[0] * 10 + OLD_SLOTS[r[1]]) if tid in live_ids else rows
                for tid, rows in before.items()}
    assert turns_by_transcript() == expected
    with session_scope(write=False) as s:
        turns = s.exec(select(Turn)).all()
        by_transcript: dict[int, list[Turn]] = {}
        for t in turns:
            by_transcript.setdefault(t.transcript_id, []).append(t)
        for tid, rows in by_transcript.items():
            assert sorted(t.position for t in rows) == list(range(len(rows)))
            imported = tid in every_kind["rooms"]
            assert all((t.slot is None) == imported for t in rows)
            if not imported:
                assert {t.slot for t in rows} == {f"{t.round}:{t.role}" for t in rows}
        for row in s.exec(select(Strategy)).all():
            protocol = get_protocol(row.protocol)
            rules = protocol.parse_rules(row.rules)  # only the rules that apply, and valid
            assert rules.require_rationale == (row.protocol != "direct-qa")
            assert set(row.prompts) == set(protocol.model_roles)
        # The duplicates are kept but no longer break the rules: one transcript and one final judgment a task.
        attached = s.exec(select(Transcript).where(Transcript.assignment_id == every_kind["assignment"])).all()
        assert len(attached) == 1
        finals = s.exec(select(Judgment).where(Judgment.assignment_id == every_kind["assignment"])
                        .order_by(Judgment.id)).all()
        assert [j.is_final for j in finals] == [True, False] and finals[1].rationale == "second tab"
    assert {t: transcript_detail(transcript_id=t) for t in every_kind["rooms"]} == rooms_before

    # The live transcripts read as before under the new code.
    debate = live.judge_view(every_kind["debate"])
    assert debate.step.kind == "done" and [t.role for t in debate.turns] == ["debater_a", "debater_b"] * 2
    assert [note for _, _, note in debate.reports] == ["note 1", "note 2"]
    assert live.judge_view(every_kind["consultancy"]).turns[0].role == "consultant"
    with session_scope(write=False) as s:
        dup = s.exec(select(Transcript).where(Transcript.assignment_id.is_(None), Transcript.origin == "live",
                                              Transcript.strategy_id.is_not(None))).all()
    assert sum("duplicate" in t.tags for t in dup) == 1
    models.configure(None)
