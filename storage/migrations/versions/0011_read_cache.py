"""read cache: the content version that every change to a study, item or strategy raises, so each process may
keep those rows while it is unchanged (oversight.read_cache).

Revision ID: 0011_read_cache
Revises: 0010_vocabulary
Create Date: 2026-12-07
"""

from alembic import op
import sqlalchemy as sa
import secrets


revision = '0011_read_cache'
down_revision = '0010_vocabulary'
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        'contentversion',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    # A random start: a database made afresh at the same address never matches what a process kept of the last.
    op.bulk_insert(table, [{'id': 1, 'version': secrets.randbelow(2**30)}])


def downgrade() -> None:
    op.drop_table('contentversion')
