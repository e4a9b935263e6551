"""A budget of SQL per script run (issue 23): each action through the real page path (app.py, a participant's
link, staff signed in) may use at most so many statements and transactions in any one of its script runs, so a
regression shows here rather than in a paid session. `python -m tests.test_statement_budget` prints the counts."""

from __future__ import annotations

import pytest

from oversight import models
from oversight.db import session_scope
from oversight.study.launch import set_study_status
from oversight.study.studies import update_study
from storage.models import Item
from tests import budget_world as world
from tests.sql_counter import count_sql

# (statements, transactions) allowed in the worst script run of each action, a statement or two above what the
# code reaches, so that a read made twice fails here. An ordinary participant run (a rerun, a poll, a round's
# report, an answer) reads the link's user once and everything else from one read transaction, plus one write
# transaction when it stores something: the write's own statements (the answer, the task closed, the audit
# event, a turn) are most of a submit's count. A write that changes what the run shows next hands it to the run's
# later reads (oversight.db.carry) rather than reading it back.
PARTICIPANT = {
    "join": (8, 3),  # the link's first run: the user, and where a new participant reads nothing else
    "tick consent": (3, 1),
    # The run after consent deals the person's tasks and stores the first one's showing, in one write (once per
    # person): the study locked, the design's reads (conditions, items, places), one INSERT for the whole set.
    "consent": (24, 2),
    "rerun": (7, 1),
    "poll": (7, 1),
    "send message": (16, 3),  # the message stored, then the runner is asked for the reply (a fresh read)
    "debate round": (12, 2),
    "submit": (14, 2),  # a direct answer's rerun shows the next task for the first time (its start time stored)
    "next": (10, 2),  # the next task shown for the first time: its start time and transcript, in one write
}
# Where a debate's page waits a moment for a fast model's speeches, it reads them afresh (one more transaction).
KIND = {"debate: consent": (28, 3), "debate: next": (14, 3)}
STAFF = {"admin studies": (6, 1), "admin results": (32, 1), "admin study_people": (10, 1),
         "expert reviews": (38, 3)}


def budget(action: str) -> tuple[int, int]:
    return STAFF.get(action) or KIND.get(action) or PARTICIPANT[action.split(": ", 1)[1]]


@pytest.fixture(scope="module")
def counts(tmp_path_factory) -> dict:
    mp = pytest.MonkeyPatch()
    from tests.conftest import _configure
    from oversight.db import init_db
    from storage import db as storage_db

    path = tmp_path_factory.mktemp("budget")
    mp.setenv("OVERSIGHT_EMBEDDED_WORKER", "0")  # no job worker polling in script threads' stead
    _configure(mp, f"sqlite:///{path / 'budget.db'}", path)
    init_db()
    try:
        yield world.measure()
    finally:
        models.configure(None)
        storage_db.dispose_engines()
        mp.undo()


@pytest.mark.parametrize("action", [f"{kind}: {a}" for kind, actions in world.ACTIONS.items() for a in actions]
                         + list(STAFF))
def test_every_script_run_stays_within_its_budget(counts, action):
    statements, transactions = budget(action)
    worst = counts[action]
    over = [f"run {i}: {run}" for i, run in enumerate(worst.runs)
            if len(run.statements) > statements or run.transactions > transactions]
    assert not over, (f"{action} is over its budget of {statements} statements and {transactions} transactions "
                      f"per run: " + "; ".join(over) + "\n" + "\n".join(
                          f"  {i}: {s[:120]}" for i, run in enumerate(worst.runs) for s in run.statements))


def test_a_staff_edit_is_seen_by_the_next_run(db, monkeypatch):
    """Studies and items are kept per process; an edit raises the content version, so the next run shows it."""
    from oversight import settings

    monkeypatch.setenv("OVERSIGHT_EMBEDDED_WORKER", "0")  # app.py would start a job worker for the process
    settings.reset_settings()
    world.configure_models()
    try:
        study_id = world.make_study("direct")
        _, token = world.participant(study_id)
        at = world.consent(world.tick_consent(world.join(token)))
        assert "Where was key" in " ".join(t.value for t in at.text)
        with session_scope() as s:
            for item in s.query(Item).filter(Item.study_id == study_id):
                item.question = "Where was the key, really?"
        at = at.run()
        assert "Where was the key, really?" in " ".join(t.value for t in at.text)
        update_study(study_id=study_id, user_id=None, instructions="Answer slowly.")
        at = at.run()
        assert "Answer slowly." in " ".join(t.value for t in at.text)
        set_study_status(study_id=study_id, status="closed", user_id=None)
        at = at.run()
        assert any("This study is closed" in i.value for i in at.info)
    finally:
        models.configure(None)


def test_kept_rows_are_frozen_snapshots_and_any_change_renews_them(study):
    import dataclasses

    from sqlalchemy import update

    from oversight import read_cache
    from storage.models import Study

    with session_scope(write=False) as s:
        kept = read_cache.row(s, Study, study.id)
    with pytest.raises(dataclasses.FrozenInstanceError):
        kept.name = "changed"
    with session_scope(write=False) as s:
        assert read_cache.row(s, Study, study.id) is kept  # from memory while nothing changed
    with session_scope() as s:  # a Core update, as a script might make
        s.exec(update(Study).where(Study.id == study.id).values(name="Renamed"))
    with session_scope(write=False) as s:
        assert read_cache.row(s, Study, study.id).name == "Renamed"


if __name__ == "__main__":
    import os
    import tempfile

    directory = tempfile.mkdtemp()
    os.environ["OVERSIGHT_DATABASE_URL"] = f"sqlite:///{directory}/budget.db"
    os.environ["OVERSIGHT_DATA_DIR"] = directory
    from oversight.db import init_db

    init_db()
    for name, counter in world.measure().items():
        print(f"{name:30s} {counter.summary()}")
