"""weak-to-strong lab: experiments (versioned), runs, per-seed results

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('w2sexperiment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=True),
    sa.Column('config', sa.JSON(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['user.id'], ),
    sa.ForeignKeyConstraint(['parent_id'], ['w2sexperiment.id'], ),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name', 'version')
    )
    op.create_index(op.f('ix_w2sexperiment_name'), 'w2sexperiment', ['name'], unique=False)
    op.create_index(op.f('ix_w2sexperiment_study_id'), 'w2sexperiment', ['study_id'], unique=False)
    op.create_table('w2srun',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('experiment_id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=True),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('n_train', sa.Integer(), nullable=False),
    sa.Column('n_test', sa.Integer(), nullable=False),
    sa.Column('summary', sa.JSON(), nullable=False),
    sa.Column('error', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('seconds', sa.Float(), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('finished_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['created_by'], ['user.id'], ),
    sa.ForeignKeyConstraint(['experiment_id'], ['w2sexperiment.id'], ),
    sa.ForeignKeyConstraint(['job_id'], ['job.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_w2srun_experiment_id'), 'w2srun', ['experiment_id'], unique=False)
    op.create_table('w2sresult',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('seed', sa.Integer(), nullable=False),
    sa.Column('method', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('weak_accuracy', sa.Float(), nullable=False),
    sa.Column('w2s_accuracy', sa.Float(), nullable=False),
    sa.Column('ceiling_accuracy', sa.Float(), nullable=False),
    sa.Column('test_keys', sa.JSON(), nullable=False),
    sa.Column('weak_correct', sa.JSON(), nullable=False),
    sa.Column('w2s_correct', sa.JSON(), nullable=False),
    sa.Column('ceiling_correct', sa.JSON(), nullable=False),
    sa.Column('seconds', sa.Float(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['w2srun.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('run_id', 'seed', 'method')
    )
    op.create_index(op.f('ix_w2sresult_run_id'), 'w2sresult', ['run_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_w2sresult_run_id'), table_name='w2sresult')
    op.drop_table('w2sresult')
    op.drop_index(op.f('ix_w2srun_experiment_id'), table_name='w2srun')
    op.drop_table('w2srun')
    op.drop_index(op.f('ix_w2sexperiment_study_id'), table_name='w2sexperiment')
    op.drop_index(op.f('ix_w2sexperiment_name'), table_name='w2sexperiment')
    op.drop_table('w2sexperiment')
