"""lifecycle: a study can be archived (status 'archived': read-only, links closed, hidden from lists) and records
when its export was last made (`exported_at`: a study is deleted only after one).

Revision ID: 0015_lifecycle
Revises: 0014_staff
Create Date: 2026-12-07
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel

from storage.vocabulary import replace_check


revision = '0015_lifecycle'
down_revision = '0014_staff'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('study', schema=None) as batch_op:
        batch_op.add_column(sa.Column('exported_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    replace_check('study', 'status', ('draft', 'open', 'closed', 'archived'))


def downgrade() -> None:
    # An archived study comes back closed: the older schema has no archived state.
    op.execute("UPDATE study SET status = 'closed' WHERE status = 'archived'")
    replace_check('study', 'status', ('draft', 'open', 'closed'))
    with op.batch_alter_table('study', schema=None) as batch_op:
        batch_op.drop_column('exported_at')
