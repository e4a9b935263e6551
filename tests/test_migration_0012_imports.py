"""Migration 0012: an import left "importing" by the code before it was visible, so one whose items someone was
dealt (or after which the study imported again) is settled as done and stays; an unused one stays unfinished,
now hidden, for the cleanup."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from storage.db import dispose_engines, get_engine
from storage.migrate import alembic_config
from tests import factories


def test_half_imports_someone_used_are_kept_and_unused_ones_left_to_the_cleanup(any_db):
    from oversight.study.studies import create_study

    study = create_study(name="Legacy", user_id=None)
    person = factories.participants(study.id, 1)[0]
    dispose_engines()
    command.downgrade(alembic_config(any_db), "0011_read_cache")
    with get_engine(any_db).begin() as conn:
        for source in ("dealt.jsonl", "unused.jsonl"):
            conn.execute(text("INSERT INTO importbatch (study_id, format, source, n_items, n_transcripts, state, "
                              "created_at) VALUES (:s, 'jsonl', :src, 0, 0, 'importing', CURRENT_TIMESTAMP)"),
                         {"s": study.id, "src": source})
        batches = dict(conn.execute(text("SELECT source, id FROM importbatch")).all())
        for source, batch_id in batches.items():
            for k in range(3):
                conn.execute(text("INSERT INTO item (study_id, import_id, external_id, question, options, tags, "
                                  "meta, created_at) VALUES (:s, :b, :e, 'Q?', '[\"a\", \"b\"]', '[]', '{}', "
                                  "CURRENT_TIMESTAMP)"), {"s": study.id, "b": batch_id, "e": f"{source}{k}"})
        dealt = conn.execute(text("SELECT id FROM item WHERE import_id = :b"), {"b": batches["dealt.jsonl"]}).first()[0]
        conn.execute(text("INSERT INTO assignment (study_id, participant_id, item_id, protocol, practice, catch, "
                          "state, position, created_at) VALUES (:s, :p, :i, '', false, false, 'pending', 0, "
                          "CURRENT_TIMESTAMP)"), {"s": study.id, "p": person, "i": dealt})
    dispose_engines()
    command.upgrade(alembic_config(any_db), "head")
    with get_engine(any_db).connect() as conn:
        states = {src: (state, n) for src, state, n in conn.execute(
            text("SELECT source, state, n_items FROM importbatch")).all()}
    dispose_engines()
    assert states == {"dealt.jsonl": ("done", 3), "unused.jsonl": ("importing", 0)}
