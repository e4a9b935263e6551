"""feedback: what a participant is told after an answer whose gold is shown (correct and how sure; also the score;
or correct only), chosen per study.

Revision ID: 0016_feedback
Revises: 0015_lifecycle
Create Date: 2026-12-07
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0016_feedback'
down_revision = '0015_lifecycle'
branch_labels = None
depends_on = None

# Written out here, not imported: a migration is history (storage.vocabulary.FEEDBACK_MODES may grow later).
MODES = ('confidence', 'score', 'correctness')


def upgrade() -> None:
    # Existing studies get "confidence": what the issue asked for ("correct, 80% sure"), not the bare log score
    # they showed before.
    with op.batch_alter_table('study', schema=None) as batch_op:
        batch_op.add_column(sa.Column('feedback', sqlmodel.sql.sqltypes.AutoString(), nullable=False,
                                      server_default='confidence'))
        batch_op.create_check_constraint('ck_study_feedback',
                                         "feedback IN (" + ", ".join(repr(m) for m in MODES) + ")")


def downgrade() -> None:
    with op.batch_alter_table('study', schema=None) as batch_op:
        batch_op.drop_constraint('ck_study_feedback', type_='check')
        batch_op.drop_column('feedback')
