"""prolific: completion codes per way of ending (no consent, screened out, timed out), a participant's refusal of
consent, the Prolific study id, each payment export's plan (its files, downloadable again), rejections settled as
payouts, and a record of every Prolific API call.

Revision ID: 0013_prolific
Revises: 0012_imports
Create Date: 2026-12-07
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel

from storage.vocabulary import replace_check


revision = '0013_prolific'
down_revision = '0012_imports'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('study', schema=None) as batch_op:
        for column in ('code_no_consent', 'code_screened_out', 'code_timed_out', 'prolific_study_id'):
            batch_op.add_column(sa.Column(column, sqlmodel.sql.sqltypes.AutoString(), nullable=True))
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('declined_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    with op.batch_alter_table('paymentexport', schema=None) as batch_op:
        batch_op.add_column(sa.Column('plan', sa.JSON(), nullable=False, server_default='{}'))
    replace_check('payout', 'kind', ('base', 'bonus', 'rejected'))
    with op.batch_alter_table('payout', schema=None) as batch_op:
        batch_op.create_index('uq_payout_rejected_per_user', ['user_id'], unique=True,
                              sqlite_where=sa.text("kind = 'rejected'"), postgresql_where=sa.text("kind = 'rejected'"))
    op.create_table(
        'prolificcall',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('study_id', sa.Integer(), nullable=False),
        sa.Column('export_id', sa.Integer(), nullable=True),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('action', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('key', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('state', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('remote_id', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('answer', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('answered_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.CheckConstraint("action IN ('bonus_setup', 'bonus_pay', 'approve', 'reject')",
                           name='ck_prolificcall_action'),
        sa.CheckConstraint("state IN ('sent', 'done', 'refused')", name='ck_prolificcall_state'),
        sa.ForeignKeyConstraint(['export_id'], ['paymentexport.id']),
        sa.ForeignKeyConstraint(['study_id'], ['study.id']),
        sa.ForeignKeyConstraint(['user_id'], ['user.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('key', name='uq_prolificcall_key'),
    )
    with op.batch_alter_table('prolificcall', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_prolificcall_export_id'), ['export_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_prolificcall_study_id'), ['study_id'], unique=False)


def downgrade() -> None:
    op.drop_table('prolificcall')
    with op.batch_alter_table('payout', schema=None) as batch_op:
        batch_op.drop_index('uq_payout_rejected_per_user', sqlite_where=sa.text("kind = 'rejected'"),
                            postgresql_where=sa.text("kind = 'rejected'"))
    op.execute("DELETE FROM payout WHERE kind = 'rejected'")
    replace_check('payout', 'kind', ('base', 'bonus'))
    with op.batch_alter_table('paymentexport', schema=None) as batch_op:
        batch_op.drop_column('plan')
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('declined_at')
    with op.batch_alter_table('study', schema=None) as batch_op:
        for column in ('prolific_study_id', 'code_timed_out', 'code_screened_out', 'code_no_consent'):
            batch_op.drop_column(column)
