"""vocabulary as types: CHECK constraints on every column that holds a closed vocabulary (roles, kinds, states,
decisions; storage.vocabulary); Assignment.arm is called what it holds, `protocol`; Transcript.setting's two
meanings get a column each: `protocol` (a live transcript's protocol) and `source_setting` (the setting an imported
transcript's source names); ExpertReview.score and .verdict go (nothing wrote a score since rubric reviews, and the
verdict was a copy of the rubric's outcome label).

Nothing is changed silently: before anything is altered, every row is checked, and the migration stops with a
message naming the rows whose values lie outside the vocabulary, or whose score or verdict would be lost.

The allowed values are frozen here as they were at this revision (a migration is history); a later one that adds a
value replaces the constraint with `storage.vocabulary.replace_check` and tests/test_vocabulary.py compares the migrated database with
storage.vocabulary.

Revision ID: 0010_vocabulary
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

import json

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0010_vocabulary'
down_revision = '0009'
branch_labels = None
depends_on = None

VOCABULARY: dict[tuple[str, str], tuple[str, ...]] = {
    ("user", "role"): ("admin", "expert", "participant"),
    ("user", "attention_override"): ("include", "exclude"),
    ("study", "status"): ("draft", "open", "closed"),
    ("study", "design"): ("within", "between"),
    ("study", "allocation"): ("balanced", "thompson"),
    ("study", "bonus_rule"): ("none", "per_correct", "score"),
    ("importbatch", "state"): ("importing", "done"),
    ("condition", "kind"): ("alone", "model", "assisted", "expert"),
    ("assignment", "state"): ("pending", "active", "done", "skipped"),
    ("designplace", "role"): ("admin", "expert", "participant"),
    ("transcript", "origin"): ("live", "imported"),
    ("transcript", "status"): ("open", "complete", "timed-out", "incomplete", "superseded"),
    ("judgment", "judge_kind"): ("human", "ai", "ai-offline", "offline-human"),
    ("judgment", "answer_form"): ("choice-confidence",),
    ("expertreview", "kind"): ("review", "adjudication", "superseded"),
    ("proposal", "kind"): ("assistant_instructions", "questioning_tips", "rules"),
    ("proposal", "status"): ("open", "accepted", "declined"),
    ("versiondecision", "decision"): ("candidate", "promoted", "retired"),
    ("job", "state"): ("queued", "running", "done", "failed", "cancelled"),
    ("w2srun", "state"): ("running", "done", "failed"),
    ("rewardmodelrun", "backend"): ("encoder", "hf"),
    ("payout", "kind"): ("base", "bonus"),
}
ONE_SETTING = "(protocol IS NULL) <> (source_setting IS NULL)"
# Migration 0006 turned these old verdicts into the rubric's outcome label.
OLD_VERDICTS = {"judge right": "correct", "judge wrong": "incorrect", "item flawed": "item flawed",
                "unclear": "unclear"}
SHOWN = 20  # bad row ids named per value


class VocabularyError(RuntimeError):
    """Rows the migration would have to change or lose; it stops before altering anything."""


def check_sql(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _ids(rows) -> str:
    ids = [str(r[0]) for r in rows]
    return ", ".join(ids[:SHOWN]) + (f" and {len(ids) - SHOWN} more" if len(ids) > SHOWN else "")


def problems(conn) -> list[str]:
    """What the migration would change or lose, one line per column and value (empty: nothing)."""
    out = []
    for (table, column), values in VOCABULARY.items():
        col = sa.column(column)
        rows = conn.execute(sa.select(sa.column("id"), col).select_from(sa.table(table))
                            .where(col.is_not(None), col.not_in(values)).order_by(sa.column("id"))).all()
        by_value: dict[str, list] = {}
        for row in rows:
            by_value.setdefault(row[1], []).append(row)
        for value, bad in by_value.items():
            out.append(f"{table}.{column} = {value!r} is not one of {', '.join(values)}: "
                       f"{table} id {_ids(bad)}")
    reviews = conn.execute(sa.text("SELECT id, score, verdict, labels FROM expertreview ORDER BY id")).all()
    scored = [r for r in reviews if r[1] is not None]
    if scored:
        out.append(f"expertreview.score is set (and would be dropped): expertreview id {_ids(scored)}")
    lost = []
    for r in reviews:
        labels = json.loads(r[3]) if isinstance(r[3], str) else (r[3] or {})
        outcome = labels.get("outcome") if isinstance(labels, dict) else None
        if r[2] and r[2] != outcome and OLD_VERDICTS.get(r[2]) != outcome:
            lost.append(r)
    if lost:
        out.append("expertreview.verdict differs from the review's outcome label (and would be dropped): "
                   f"expertreview id {_ids(lost)}")
    return out


def upgrade() -> None:
    conn = op.get_bind()
    found = problems(conn)
    if found:
        raise VocabularyError(
            "Migration 0010 changed nothing: these rows hold values outside the vocabulary (storage/vocabulary.py) "
            "or values it would drop. Correct them (or, for a new value, add it to the vocabulary with a migration "
            "before this one), then upgrade again.\n- " + "\n- ".join(found))

    with op.batch_alter_table('transcript', schema=None) as batch_op:
        batch_op.add_column(sa.Column('protocol', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.add_column(sa.Column('source_setting', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
    conn.execute(sa.text("UPDATE transcript SET protocol = setting WHERE origin = 'live'"))
    conn.execute(sa.text("UPDATE transcript SET source_setting = setting WHERE origin = 'imported'"))
    with op.batch_alter_table('transcript', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_transcript_setting'))
        batch_op.drop_column('setting')
        batch_op.create_check_constraint('ck_transcript_setting', ONE_SETTING)

    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.alter_column('arm', new_column_name='protocol', existing_type=sa.String(),
                              existing_nullable=False)

    with op.batch_alter_table('expertreview', schema=None) as batch_op:
        batch_op.drop_column('verdict')
        batch_op.drop_column('score')

    for table in dict.fromkeys(t for t, _ in VOCABULARY):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for (t, column), values in VOCABULARY.items():
                if t == table:
                    batch_op.create_check_constraint(f"ck_{table}_{column}", check_sql(column, values))


def downgrade() -> None:
    for table in dict.fromkeys(t for t, _ in VOCABULARY):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for (t, column) in VOCABULARY:
                if t == table:
                    batch_op.drop_constraint(f"ck_{table}_{column}", type_="check")

    conn = op.get_bind()
    with op.batch_alter_table('expertreview', schema=None) as batch_op:
        batch_op.add_column(sa.Column('score', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('verdict', sqlmodel.sql.sqltypes.AutoString(), nullable=False,
                                      server_default=''))
    for rid, labels in conn.execute(sa.text("SELECT id, labels FROM expertreview")).all():
        labels = json.loads(labels) if isinstance(labels, str) else (labels or {})
        outcome = labels.get("outcome") if isinstance(labels, dict) else None
        if outcome is not None:
            conn.execute(sa.text("UPDATE expertreview SET verdict = :v WHERE id = :id"), {"v": str(outcome), "id": rid})

    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.alter_column('protocol', new_column_name='arm', existing_type=sa.String(),
                              existing_nullable=False)

    with op.batch_alter_table('transcript', schema=None) as batch_op:
        batch_op.add_column(sa.Column('setting', sqlmodel.sql.sqltypes.AutoString(), nullable=False,
                                      server_default=''))
    conn.execute(sa.text("UPDATE transcript SET setting = COALESCE(source_setting, protocol, '')"))
    with op.batch_alter_table('transcript', schema=None) as batch_op:
        batch_op.drop_constraint('ck_transcript_setting', type_='check')
        batch_op.create_index(batch_op.f('ix_transcript_setting'), ['setting'], unique=False)
        batch_op.drop_column('source_setting')
        batch_op.drop_column('protocol')
