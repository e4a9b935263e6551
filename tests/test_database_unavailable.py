"""A read-only or missing database: people get a clear message, not Streamlit's error page (issue 17)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from oversight.access import auth, staff_sessions
from oversight.settings import get_settings, reset_settings
from storage import db as storage_db
from tests import budget_world as world

UNAVAILABLE = "The study is temporarily unavailable; your answers so far are saved. Please try again in a few minutes."


def _path() -> Path:
    return Path(get_settings().resolved_database_url.removeprefix("sqlite:///"))


@pytest.fixture
def world_db(db, monkeypatch):
    monkeypatch.setenv("OVERSIGHT_EMBEDDED_WORKER", "0")  # no job worker outliving the test's database
    reset_settings()
    world.configure_models()
    return world.make_study("direct")


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """The database file made read-only (chmod; as root, which ignores the mode, also immutable), opened afresh
    as after a restart."""
    storage_db.dispose_engines()
    files = [path, *path.parent.glob(path.name + "-*")]
    for file in files:
        os.chmod(file, 0o444)
    immutable = os.geteuid() == 0
    if immutable and subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
        pytest.skip("as root where chattr is refused, a chmod cannot make the database read-only")
    try:
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        storage_db.dispose_engines()
        for file in files:
            os.chmod(file, 0o644)


def _texts(at) -> str:
    return "\n".join(str(e.value) for e in (*at.error, *at.warning, *at.info, *at.markdown))


def test_a_participant_on_a_read_only_database_gets_a_clear_message(world_db, caplog):
    """Observed: consenting (the run that deals the person's tasks, a write) showed Streamlit's error page."""
    _, token = world.participant(world_db)
    at = world.tick_consent(world.join(token))
    with read_only(_path()):
        at = world.consent(at)
        assert not at.exception, at.exception
        assert UNAVAILABLE in _texts(at)
        assert "readonly" not in _texts(at)  # the cause is for staff and the log
        assert any("database unavailable" in r.message and "readonly" in r.message for r in caplog.records)
    at = at.run()  # writable again: the person clicks "Continue" again and gets their first task
    assert not at.exception and UNAVAILABLE not in _texts(at)
    at = world.consent(at)
    assert at.radio and any(b.label == "Submit answer" for b in at.button)


def test_a_missing_database_gives_participants_a_message_and_staff_its_cause(world_db):
    _, token = world.participant(world_db)
    person = world.answer(world.consent(world.tick_consent(world.join(token))), "Submit answer")
    admin = auth.create_user(role="admin", name="ada", password="correct horse")
    staff = world.app()
    staff.session_state["user_id"] = admin.id
    staff.session_state["staff_session_id"], _ = staff_sessions.start(user_id=admin.id)
    assert not staff.run().exception
    path = _path()
    storage_db.dispose_engines()
    for file in [path, *path.parent.glob(path.name + "-*")]:
        file.unlink()  # gone (a wrong volume mounted, a clean-up script): SQLite opens an empty file in its place
    person, staff = person.run(), staff.run()
    assert not person.exception and not staff.exception, (person.exception, staff.exception)
    assert UNAVAILABLE in _texts(person) and "no such table" not in _texts(person)
    assert UNAVAILABLE in _texts(staff) and "no such table" in _texts(staff)
