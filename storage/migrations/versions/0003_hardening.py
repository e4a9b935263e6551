"""hardening: sign-in throttle rows, staff sessions, enrolment caps, import state

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('signinthrottle',
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('blocked_until', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('last_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    with op.batch_alter_table('signinthrottle', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signinthrottle_last_at'), ['last_at'], unique=False)

    op.create_table('staffsession',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('handoff_hash', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('handoff_expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('client', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('expires_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('revoked_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('staffsession', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staffsession_user_id'), ['user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_staffsession_token_hash'), ['token_hash'], unique=True)
        batch_op.create_index(batch_op.f('ix_staffsession_handoff_hash'), ['handoff_hash'], unique=True)

    op.create_table('enrolmentcap',
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('max_per_minute', sa.Integer(), nullable=True),
    sa.Column('max_total', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], ),
    sa.PrimaryKeyConstraint('study_id')
    )

    with op.batch_alter_table('importbatch', schema=None) as batch_op:
        batch_op.add_column(sa.Column('state', sqlmodel.sql.sqltypes.AutoString(), nullable=False,
                                      server_default='done'))


def downgrade() -> None:
    with op.batch_alter_table('importbatch', schema=None) as batch_op:
        batch_op.drop_column('state')
    op.drop_table('enrolmentcap')
    with op.batch_alter_table('staffsession', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staffsession_handoff_hash'))
        batch_op.drop_index(batch_op.f('ix_staffsession_token_hash'))
        batch_op.drop_index(batch_op.f('ix_staffsession_user_id'))
    op.drop_table('staffsession')
    with op.batch_alter_table('signinthrottle', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signinthrottle_last_at'))
    op.drop_table('signinthrottle')
