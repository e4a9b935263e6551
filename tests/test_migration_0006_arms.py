"""Migration 0006 turns each study's arms into conditions and then drops Study.arms; downgrade brings the arms
back from the assisted conditions."""

from __future__ import annotations

import json

from alembic import command
from sqlalchemy import inspect, text

from oversight.protocols import strategies
from storage.db import dispose_engines, get_engine
from storage.migrate import alembic_config


def test_arms_become_conditions_and_the_column_goes(db, study):
    v = strategies.create_strategy(study_id=study.id, name="chat", protocol="assisted-qa")
    dispose_engines()
    command.downgrade(alembic_config(db), "0005")
    engine = get_engine(db)
    with engine.begin() as conn:
        conn.execute(text("UPDATE study SET arms = :a WHERE id = :id"), {"a": json.dumps([v.id]), "id": study.id})
        conn.execute(text("INSERT INTO study (name, description, instructions, status, consent_text, arms, "
                          "created_at) VALUES ('plain', '', '', 'open', '', '[]', CURRENT_TIMESTAMP)"))
    dispose_engines()
    command.upgrade(alembic_config(db), "head")
    engine = get_engine(db)
    assert "arms" not in {c["name"] for c in inspect(engine).get_columns("study")}
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT s.name, c.kind, c.strategy_id FROM condition c "
                                 "JOIN study s ON s.id = c.study_id ORDER BY s.id")).all()
    assert [tuple(r) for r in rows] == [("Test study", "assisted", v.id), ("plain", "alone", None)]
    dispose_engines()
    command.downgrade(alembic_config(db), "0005")
    with get_engine(db).connect() as conn:
        arms = dict(conn.execute(text("SELECT name, arms FROM study")).all())
    assert {k: json.loads(a) for k, a in arms.items()} == {"Test study": [v.id], "plain": []}
    dispose_engines()
