"""results a paper can rely on: a study's dry-run copy points at its original; a staff member's preview
participant; Thompson allocation probabilities on assignments; the answer form of a judgment; people's places in
a study's design (given in arrival order, per study).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('study', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dry_run_of', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_study_dry_run_of'), ['dry_run_of'], unique=False)
        batch_op.create_foreign_key('fk_study_dry_run_of_study', 'study', ['dry_run_of'], ['id'])

    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('preview_by', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_user_preview_by_user', 'user', ['preview_by'], ['id'])

    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('allocation_probability', sa.Float(), nullable=True))

    with op.batch_alter_table('judgment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('answer_form', sqlmodel.sql.sqltypes.AutoString(), nullable=True))

    op.create_table(
        'designplace',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('study_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('role', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('slot', sa.Integer(), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['study_id'], ['study.id']),
        sa.ForeignKeyConstraint(['user_id'], ['user.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('study_id', 'user_id'),
    )
    with op.batch_alter_table('designplace', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_designplace_study_id'), ['study_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_designplace_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('designplace', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_designplace_user_id'))
        batch_op.drop_index(batch_op.f('ix_designplace_study_id'))
    op.drop_table('designplace')

    with op.batch_alter_table('judgment', schema=None) as batch_op:
        batch_op.drop_column('answer_form')

    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.drop_column('allocation_probability')

    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_constraint('fk_user_preview_by_user', type_='foreignkey')
        batch_op.drop_column('preview_by')

    with op.batch_alter_table('study', schema=None) as batch_op:
        batch_op.drop_constraint('fk_study_dry_run_of_study', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_study_dry_run_of'))
        batch_op.drop_column('dry_run_of')
