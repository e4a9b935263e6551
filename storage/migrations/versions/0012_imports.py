"""imports land whole: an import records the process writing it and its last batch (to tell a dead import from a
running one), and items and transcripts are indexed by import (every query hides an unfinished import's rows).

Imports left "importing" by the code before this revision were visible while unfinished, so people may have been
dealt their items, or a later import may have skipped those items as already there. Such an import is settled
as "done" here (its rows stay what they were: part of the study); any other unfinished import stays "importing",
now hidden, and the next import's cleanup discards it.

Revision ID: 0012_imports
Revises: 0011_read_cache
Create Date: 2026-12-07
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0012_imports'
down_revision = '0011_read_cache'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('importbatch', schema=None) as batch_op:
        batch_op.add_column(sa.Column('worker', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.add_column(sa.Column('heartbeat_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    with op.batch_alter_table('item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_item_import_id'), ['import_id'], unique=False)
    with op.batch_alter_table('transcript', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_transcript_import_id'), ['import_id'], unique=False)
    # An unfinished import whose items someone uses (dealt, judged, labelled, in a live or other import's
    # transcript), or after which the same study imported again (which may have counted them), stays whole.
    op.execute(sa.text("""
        UPDATE importbatch SET state = 'done',
            n_items = (SELECT count(*) FROM item WHERE item.import_id = importbatch.id),
            n_transcripts = (SELECT count(*) FROM transcript WHERE transcript.import_id = importbatch.id)
        WHERE state = 'importing' AND (
            EXISTS (SELECT 1 FROM importbatch later WHERE later.study_id = importbatch.study_id
                    AND later.id > importbatch.id)
            OR EXISTS (SELECT 1 FROM item JOIN assignment ON assignment.item_id = item.id
                       WHERE item.import_id = importbatch.id)
            OR EXISTS (SELECT 1 FROM item JOIN rlaiflabel ON rlaiflabel.item_id = item.id
                       WHERE item.import_id = importbatch.id)
            OR EXISTS (SELECT 1 FROM item JOIN transcript ON transcript.item_id = item.id
                       WHERE item.import_id = importbatch.id
                       AND (transcript.import_id IS NULL OR transcript.import_id <> importbatch.id))
            OR EXISTS (SELECT 1 FROM transcript JOIN expertreview ON expertreview.transcript_id = transcript.id
                       WHERE transcript.import_id = importbatch.id))
    """))


def downgrade() -> None:
    with op.batch_alter_table('transcript', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_transcript_import_id'))
    with op.batch_alter_table('item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_item_import_id'))
    with op.batch_alter_table('importbatch', schema=None) as batch_op:
        batch_op.drop_column('heartbeat_at')
        batch_op.drop_column('worker')
