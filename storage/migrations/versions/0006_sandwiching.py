"""sandwiching studies: conditions, study design settings, versioned rubrics and rubric reviews, questionnaires,
refinement proposals and version decisions

Data: each study's arms become conditions (one assisted condition per arm, or one "alone" condition when it had
none), and its assignments point at them; old verdict reviews get rubric labels; where an expert reviewed the same
assignment more than once, the older reviews are kept as `superseded` (nothing is deleted) so that one live review
per expert and assignment can be unique.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

import json

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('rubric',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['user.id'], ),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('study_id', 'version')
    )
    with op.batch_alter_table('rubric', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rubric_study_id'), ['study_id'], unique=False)

    op.create_table('condition',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('strategy_id', sa.Integer(), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['strategy_id'], ['strategy.id'], ),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('study_id', 'name')
    )
    with op.batch_alter_table('condition', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_condition_study_id'), ['study_id'], unique=False)

    op.create_table('proposal',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('strategy_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('text', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('child_strategy_id', sa.Integer(), nullable=True),
    sa.Column('decided_by', sa.Integer(), nullable=True),
    sa.Column('decided_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['child_strategy_id'], ['strategy.id'], ),
    sa.ForeignKeyConstraint(['decided_by'], ['user.id'], ),
    sa.ForeignKeyConstraint(['strategy_id'], ['strategy.id'], ),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('proposal', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_proposal_study_id'), ['study_id'], unique=False)

    op.create_table('questionnaireanswer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('condition_id', sa.Integer(), nullable=False),
    sa.Column('strategy_id', sa.Integer(), nullable=True),
    sa.Column('helped', sa.Integer(), nullable=True),
    sa.Column('sure', sa.Integer(), nullable=False),
    sa.Column('change', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['condition_id'], ['condition.id'], ),
    sa.ForeignKeyConstraint(['strategy_id'], ['strategy.id'], ),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id', 'condition_id')
    )
    with op.batch_alter_table('questionnaireanswer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_questionnaireanswer_study_id'), ['study_id'], unique=False)

    op.create_table('versiondecision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('strategy_id', sa.Integer(), nullable=False),
    sa.Column('decision', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('rationale', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('review_ids', sa.JSON(), nullable=False),
    sa.Column('proposal_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['proposal_id'], ['proposal.id'], ),
    sa.ForeignKeyConstraint(['strategy_id'], ['strategy.id'], ),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('versiondecision', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_versiondecision_strategy_id'), ['strategy_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_versiondecision_study_id'), ['study_id'], unique=False)

    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('condition_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('practice', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.create_index(batch_op.f('ix_assignment_condition_id'), ['condition_id'], unique=False)
        batch_op.create_foreign_key('fk_assignment_condition_id', 'condition', ['condition_id'], ['id'])

    with op.batch_alter_table('expertreview', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rubric_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('labels', sa.JSON(), nullable=False, server_default='{}'))
        batch_op.add_column(sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default='review'))
        batch_op.create_foreign_key('fk_expertreview_rubric_id', 'rubric', ['rubric_id'], ['id'])

    with op.batch_alter_table('study', schema=None) as batch_op:
        batch_op.add_column(sa.Column('design', sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default='within'))
        batch_op.add_column(sa.Column('practice_items', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('review_share', sa.Float(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('blind_review', sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(sa.Column('allocation', sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default='balanced'))
        batch_op.add_column(sa.Column('convergence', sa.JSON(), nullable=False, server_default='{}'))

    _move_data()
    with op.batch_alter_table('expertreview', schema=None) as batch_op:
        batch_op.create_index('uq_adjudication_per_assignment', ['assignment_id'], unique=True, sqlite_where=sa.text("kind = 'adjudication'"), postgresql_where=sa.text("kind = 'adjudication'"))
        batch_op.create_index('uq_review_per_expert_assignment', ['expert_id', 'assignment_id'], unique=True, sqlite_where=sa.text("kind = 'review' AND assignment_id IS NOT NULL"), postgresql_where=sa.text("kind = 'review' AND assignment_id IS NOT NULL"))

    # Study.arms is superseded by conditions (moved above): drop the column.
    with op.batch_alter_table('study', schema=None) as batch_op:
        batch_op.drop_column('arms')


# Old verdicts (about the judge's answer) as the rubric's outcome label.
_VERDICT_OUTCOME = {"judge right": "correct", "judge wrong": "incorrect", "item flawed": "item flawed",
                    "unclear": "unclear"}


def _move_data() -> None:
    conn = op.get_bind()
    studies = conn.execute(sa.text("SELECT id, arms FROM study")).all()
    for study_id, arms in studies:
        arms = json.loads(arms) if isinstance(arms, str) else (arms or [])
        rows = []
        for position, sid in enumerate(arms):
            found = conn.execute(sa.text("SELECT name, version FROM strategy WHERE id = :id"), {"id": sid}).first()
            if found is not None:
                rows.append((f"{found[0]} v{found[1]}", "assisted", sid, position))
        if not rows:
            rows.append(("Non-expert alone", "alone", None, 0))
        for name, kind, sid, position in rows:
            conn.execute(sa.text("INSERT INTO condition (study_id, name, kind, strategy_id, position, created_at) "
                                 "VALUES (:study, :name, :kind, :sid, :pos, CURRENT_TIMESTAMP)"),
                         {"study": study_id, "name": name, "kind": kind, "sid": sid, "pos": position})
        # Old assignments: the condition of their strategy; without one, the alone condition (if any).
        for cid, sid in conn.execute(sa.text("SELECT id, strategy_id FROM condition WHERE study_id = :s"),
                                     {"s": study_id}).all():
            where = "strategy_id = :sid" if sid is not None else "strategy_id IS NULL"
            conn.execute(sa.text(f"UPDATE assignment SET condition_id = :cid WHERE study_id = :s AND {where}"),
                         {"cid": cid, "s": study_id, "sid": sid})
    for verdict, outcome in _VERDICT_OUTCOME.items():
        conn.execute(sa.text("UPDATE expertreview SET labels = :labels WHERE verdict = :v"),
                     {"labels": json.dumps({"outcome": outcome}), "v": verdict})
    dupes = conn.execute(sa.text(
        "SELECT r.id FROM expertreview r WHERE r.assignment_id IS NOT NULL AND EXISTS ("
        "SELECT 1 FROM expertreview later WHERE later.expert_id = r.expert_id "
        "AND later.assignment_id = r.assignment_id AND later.id > r.id)")).all()
    for (rid,) in dupes:
        conn.execute(sa.text("UPDATE expertreview SET kind = 'superseded' WHERE id = :id"), {"id": rid})



def downgrade() -> None:
    # Study.arms back, refilled from the assisted conditions' strategy versions (in their order).
    with op.batch_alter_table('study', schema=None) as batch_op:
        batch_op.add_column(sa.Column('arms', sa.JSON(), nullable=False, server_default='[]'))
    conn = op.get_bind()
    arms: dict[int, list[int]] = {}
    for study_id, sid in conn.execute(sa.text("SELECT study_id, strategy_id FROM condition WHERE kind = 'assisted' "
                                              "AND strategy_id IS NOT NULL ORDER BY position, id")).all():
        arms.setdefault(study_id, []).append(sid)
    for study_id, ids in arms.items():
        conn.execute(sa.text("UPDATE study SET arms = :arms WHERE id = :id"), {"arms": json.dumps(ids), "id": study_id})

    with op.batch_alter_table('study', schema=None) as batch_op:
        batch_op.drop_column('convergence')
        batch_op.drop_column('allocation')
        batch_op.drop_column('blind_review')
        batch_op.drop_column('review_share')
        batch_op.drop_column('practice_items')
        batch_op.drop_column('design')

    with op.batch_alter_table('expertreview', schema=None) as batch_op:
        batch_op.drop_constraint('fk_expertreview_rubric_id', type_='foreignkey')
        batch_op.drop_index('uq_review_per_expert_assignment', sqlite_where=sa.text("kind = 'review' AND assignment_id IS NOT NULL"), postgresql_where=sa.text("kind = 'review' AND assignment_id IS NOT NULL"))
        batch_op.drop_index('uq_adjudication_per_assignment', sqlite_where=sa.text("kind = 'adjudication'"), postgresql_where=sa.text("kind = 'adjudication'"))
        batch_op.drop_column('kind')
        batch_op.drop_column('labels')
        batch_op.drop_column('rubric_id')

    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.drop_constraint('fk_assignment_condition_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_assignment_condition_id'))
        batch_op.drop_column('practice')
        batch_op.drop_column('condition_id')

    with op.batch_alter_table('versiondecision', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_versiondecision_study_id'))
        batch_op.drop_index(batch_op.f('ix_versiondecision_strategy_id'))

    op.drop_table('versiondecision')
    with op.batch_alter_table('questionnaireanswer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_questionnaireanswer_study_id'))

    op.drop_table('questionnaireanswer')
    with op.batch_alter_table('proposal', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_proposal_study_id'))

    op.drop_table('proposal')
    with op.batch_alter_table('condition', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_condition_study_id'))

    op.drop_table('condition')
    with op.batch_alter_table('rubric', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rubric_study_id'))

    op.drop_table('rubric')
