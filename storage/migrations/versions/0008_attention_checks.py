"""attention checks: a study's catch items per participant, minimum seconds per answer and warn/exclude
thresholds; catch assignments are marked; an admin's include/exclude override per participant. The defaults
(no catch items, no minimum time, warn at 1 flag, never exclude) leave old studies as they were.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('study', schema=None) as batch_op:
        batch_op.add_column(sa.Column('catch_items', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('min_seconds_per_item', sa.Float(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('attention_warn', sa.Integer(), nullable=False, server_default='1'))
        batch_op.add_column(sa.Column('attention_exclude', sa.Integer(), nullable=False, server_default='0'))

    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('catch', sa.Boolean(), nullable=False, server_default=sa.false()))

    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attention_override', sqlmodel.sql.sqltypes.AutoString(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('attention_override')

    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.drop_column('catch')

    with op.batch_alter_table('study', schema=None) as batch_op:
        batch_op.drop_column('attention_exclude')
        batch_op.drop_column('attention_warn')
        batch_op.drop_column('min_seconds_per_item')
        batch_op.drop_column('catch_items')
