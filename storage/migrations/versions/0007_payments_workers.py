"""payments and job workers: the study's completion redirect, base pay and bonus rule; payment exports and what
each paid (base pay once per participant, a bonus once per assignment: partial unique indexes); jobs get their
worker, heartbeat, attempts and a cancel flag (workers claim them from the database)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('paymentexport',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('total', sa.Float(), nullable=False),
    sa.Column('lines', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['user.id'], ),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('paymentexport', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_paymentexport_study_id'), ['study_id'], unique=False)

    op.create_table('payout',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('export_id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('assignment_id', sa.Integer(), nullable=True),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('amount', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['assignment_id'], ['assignment.id'], ),
    sa.ForeignKeyConstraint(['export_id'], ['paymentexport.id'], ),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('payout', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payout_export_id'), ['export_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payout_study_id'), ['study_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payout_user_id'), ['user_id'], unique=False)
        batch_op.create_index('uq_payout_base_per_user', ['user_id'], unique=True, sqlite_where=sa.text("kind = 'base'"), postgresql_where=sa.text("kind = 'base'"))
        batch_op.create_index('uq_payout_bonus_per_assignment', ['assignment_id'], unique=True, sqlite_where=sa.text("kind = 'bonus'"), postgresql_where=sa.text("kind = 'bonus'"))

    with op.batch_alter_table('study', schema=None) as batch_op:
        batch_op.add_column(sa.Column('completion_url', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.add_column(sa.Column('currency', sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default='GBP'))
        batch_op.add_column(sa.Column('base_pay', sa.Float(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('bonus_rule', sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default='none'))
        batch_op.add_column(sa.Column('bonus_amount', sa.Float(), nullable=False, server_default='0'))

    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.add_column(sa.Column('worker', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.add_column(sa.Column('heartbeat_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('cancel_requested', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.create_index(batch_op.f('ix_job_heartbeat_at'), ['heartbeat_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_job_state'), ['state'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_job_state'))
        batch_op.drop_index(batch_op.f('ix_job_heartbeat_at'))
        batch_op.drop_column('cancel_requested')
        batch_op.drop_column('attempts')
        batch_op.drop_column('heartbeat_at')
        batch_op.drop_column('worker')

    with op.batch_alter_table('study', schema=None) as batch_op:
        batch_op.drop_column('bonus_amount')
        batch_op.drop_column('bonus_rule')
        batch_op.drop_column('base_pay')
        batch_op.drop_column('currency')
        batch_op.drop_column('completion_url')

    with op.batch_alter_table('payout', schema=None) as batch_op:
        batch_op.drop_index('uq_payout_bonus_per_assignment', sqlite_where=sa.text("kind = 'bonus'"), postgresql_where=sa.text("kind = 'bonus'"))
        batch_op.drop_index('uq_payout_base_per_user', sqlite_where=sa.text("kind = 'base'"), postgresql_where=sa.text("kind = 'base'"))
        batch_op.drop_index(batch_op.f('ix_payout_user_id'))
        batch_op.drop_index(batch_op.f('ix_payout_study_id'))
        batch_op.drop_index(batch_op.f('ix_payout_export_id'))

    op.drop_table('payout')
    with op.batch_alter_table('paymentexport', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_paymentexport_study_id'))

    op.drop_table('paymentexport')
