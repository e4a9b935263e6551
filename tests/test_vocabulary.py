"""Closed vocabularies are enforced by the database (CHECK constraints from storage.vocabulary), and migration 0010
refuses rows outside them rather than changing anything."""

from __future__ import annotations

import re

import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from oversight.db import session_scope
from storage.db import dispose_engines, get_engine
from storage.migrate import alembic_config, current_revision
from storage.models import Item, Judgment, Study, Transcript
from storage.vocabulary import CLOSED_COLUMNS, check_name


def test_the_database_allows_exactly_the_vocabulary(any_db):
    """Adding a value to storage.vocabulary without a migration that replaces its constraint fails here."""
    inspector = inspect(get_engine(any_db))
    for (table, column), values in CLOSED_COLUMNS.items():
        found = {c["name"]: c["sqltext"] for c in inspector.get_check_constraints(table)}
        assert check_name(table, column) in found, (table, column)
        assert set(re.findall(r"'([^']*)'", found[check_name(table, column)])) == set(values), (table, column)


def test_a_value_outside_the_vocabulary_is_refused(db, study):
    with pytest.raises(IntegrityError, match="ck_study_status"):
        with session_scope() as s:
            s.add(Study(name="s", status="deleted"))
    with session_scope() as s:
        item = Item(study_id=study.id, external_id="q", question="?", options=["a", "b"])
        s.add(item)
        s.flush()
        item_id = item.id
        s.add(Judgment(item_id=item_id, judge_kind="ai-offline"))  # in the vocabulary
    with pytest.raises(IntegrityError, match="ck_judgment_judge_kind"):
        with session_scope() as s:
            s.add(Judgment(item_id=item_id, judge_kind="robot"))


def test_a_transcript_has_one_setting(db, study):
    with session_scope() as s:
        item = Item(study_id=study.id, external_id="q", question="?", options=["a", "b"])
        s.add(item)
        s.flush()
        item_id = item.id
        s.add(Transcript(study_id=study.id, item_id=item_id, protocol="debate"))
    for both_or_none in ({"protocol": "debate", "source_setting": "human debate"}, {}):
        with pytest.raises(IntegrityError, match="ck_transcript_setting"):
            with session_scope() as s:
                s.add(Transcript(study_id=study.id, item_id=item_id, origin="imported", **both_or_none))


def _at_0009(db: str):
    dispose_engines()
    command.downgrade(alembic_config(db), "0009")
    return get_engine(db)


def _seed_0009(conn, study_id: int) -> None:
    conn.execute(text("INSERT INTO item (study_id, external_id, question, options, tags, meta, created_at) "
                      "VALUES (:s, 'q', '?', '[\"a\", \"b\"]', '[]', '{}', CURRENT_TIMESTAMP)"), {"s": study_id})
    conn.execute(text("INSERT INTO user (role, name, token_revoked, failed_logins, created_at) "
                      "VALUES ('participant', 'p', 0, 0, CURRENT_TIMESTAMP)"))
    for setting, origin in (("debate", "live"), ("human debate", "imported")):
        conn.execute(text("INSERT INTO transcript (study_id, item_id, setting, origin, status, tags, meta, "
                          "created_at) VALUES (:s, 1, :setting, :origin, 'complete', '[]', '{}', "
                          "CURRENT_TIMESTAMP)"), {"s": study_id, "setting": setting, "origin": origin})
    conn.execute(text("INSERT INTO assignment (study_id, participant_id, item_id, arm, state, position, created_at, "
                      "practice, catch) VALUES (:s, 1, 1, 'direct-qa', 'done', 0, CURRENT_TIMESTAMP, 0, 0)"),
                 {"s": study_id})
    conn.execute(text("INSERT INTO expertreview (study_id, expert_id, assignment_id, verdict, notes, labels, kind, "
                      "created_at) VALUES (:s, 1, 1, 'correct', '', '{\"outcome\": \"correct\"}', 'review', "
                      "CURRENT_TIMESTAMP)"), {"s": study_id})


def test_migration_0010_refuses_rows_outside_the_vocabulary_and_changes_nothing(db, study):
    engine = _at_0009(db)
    with engine.begin() as conn:
        _seed_0009(conn, study.id)
        conn.execute(text("UPDATE study SET status = 'archived' WHERE id = :s"), {"s": study.id})
        conn.execute(text("UPDATE assignment SET state = 'lost'"))
        conn.execute(text("UPDATE expertreview SET score = 0.5"))
    dispose_engines()
    with pytest.raises(RuntimeError) as refused:
        command.upgrade(alembic_config(db), "head")
    message = str(refused.value)
    assert f"study.status = 'archived' is not one of draft, open, closed: study id {study.id}" in message
    assert "assignment.state = 'lost'" in message and "assignment id 1" in message
    assert "expertreview.score is set (and would be dropped): expertreview id 1" in message
    dispose_engines()
    assert current_revision(db) == "0009"
    with get_engine(db).connect() as conn:
        assert conn.execute(text("SELECT status FROM study")).scalar() == "archived"
        assert conn.execute(text("SELECT arm, state FROM assignment")).one() == ("direct-qa", "lost")
    dispose_engines()


def test_migration_0010_splits_the_setting_renames_arm_and_goes_back(db, study):
    engine = _at_0009(db)
    with engine.begin() as conn:
        _seed_0009(conn, study.id)
    dispose_engines()
    command.upgrade(alembic_config(db), "head")
    with get_engine(db).connect() as conn:
        rows = conn.execute(text("SELECT origin, protocol, source_setting FROM transcript ORDER BY id")).all()
        assert [tuple(r) for r in rows] == [("live", "debate", None), ("imported", None, "human debate")]
        assert conn.execute(text("SELECT protocol FROM assignment")).scalar() == "direct-qa"
        assert {c["name"] for c in inspect(conn).get_columns("expertreview")} >= {"labels"}
        assert not {"score", "verdict"} & {c["name"] for c in inspect(conn).get_columns("expertreview")}
    dispose_engines()
    command.downgrade(alembic_config(db), "0009")
    with get_engine(db).connect() as conn:
        assert [r[0] for r in conn.execute(text("SELECT setting FROM transcript ORDER BY id"))] == [
            "debate", "human debate"]
        assert conn.execute(text("SELECT arm FROM assignment")).scalar() == "direct-qa"
        assert conn.execute(text("SELECT verdict FROM expertreview")).scalar() == "correct"
    dispose_engines()
    command.upgrade(alembic_config(db), "head")
    dispose_engines()


def test_the_pages_name_every_kind():
    from oversight.sandwiching.conditions import KIND_LABELS
    from oversight.sandwiching.inner_loop import PROPOSAL_KINDS
    from storage import vocabulary

    assert set(KIND_LABELS) == set(vocabulary.CONDITION_KINDS)
    assert set(PROPOSAL_KINDS) == set(vocabulary.PROPOSAL_KINDS)
