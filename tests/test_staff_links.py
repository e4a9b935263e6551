"""Staff accounts without the command line: one-time invite and reset links, deactivation, signing out everywhere,
all audited; the `staff` commands and `create-user --password-stdin` call the same functions."""

from __future__ import annotations

import io
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import update
from sqlmodel import select

from oversight.access import auth, staff_links, staff_sessions
from oversight.access.auth import AuthError
from oversight.access.ratelimit import link_misses
from oversight.cli import main as cli_main
from oversight.db import session_scope
from oversight.settings import reset_settings
from storage.models import Event, StaffLink, utcnow


def _token(issued: staff_links.IssuedLink) -> str:
    return parse_qs(urlsplit(issued.link).query)["invite"][0]


def _events(kind: str) -> list[Event]:
    with session_scope(write=False) as s:
        return s.exec(select(Event).where(Event.kind == kind)).all()


@pytest.fixture
def admin(db):
    link_misses.clear()
    yield auth.create_user(role="admin", name="ada", password="correct horse")
    link_misses.clear()


def test_an_invite_link_creates_the_account_once_and_stores_only_a_hash(admin):
    issued = staff_links.invite(name="eve", role="expert", by=admin.id)
    token = _token(issued)
    with session_scope(write=False) as s:
        row = s.get(StaffLink, issued.link_id)
    assert token not in (row.token_hash, row.name) and row.token_hash == auth.hash_token(token)
    assert staff_links.open_link(token).name == "eve"
    with pytest.raises(AuthError, match="differ"):
        staff_links.use_link(token=token, password="long enough 1", repeated="long enough 2")
    user = staff_links.use_link(token=token, password="long enough 1", repeated="long enough 1")
    assert (user.name, user.role) == ("eve", "expert")
    assert auth.authenticate(name="eve", password="long enough 1").id == user.id
    # Single use: the same link works no more.
    assert staff_links.open_link(token) is None
    with pytest.raises(AuthError, match="does not work"):
        staff_links.use_link(token=token, password="another one 2", repeated="another one 2")
    assert [e.detail["name"] for e in _events("staff.invite")] == ["eve"] and _events("staff.invite")[0].user_id == admin.id


def test_a_password_must_not_be_the_name_however_it_is_set(admin):
    with pytest.raises(AuthError, match="not be the name"):
        auth.create_user(role="expert", name="longname1", password="LongName1")
    issued = staff_links.invite(name="evelyn-long", role="expert", by=admin.id)
    with pytest.raises(AuthError, match="not be the name"):
        staff_links.use_link(token=_token(issued), password="Evelyn-Long ", repeated="Evelyn-Long ")
    assert staff_links.open_link(_token(issued)) is not None  # a refused password does not use up the link


def test_expired_revoked_and_replaced_links_do_not_work(admin):
    first = staff_links.invite(name="eve", role="expert", by=admin.id)
    second = staff_links.invite(name="eve", role="expert", by=admin.id)  # replaces the first
    assert staff_links.open_link(_token(first)) is None
    assert staff_links.open_link(_token(second)) is not None
    staff_links.revoke_link(link_id=second.link_id, by=admin.id)
    assert staff_links.open_link(_token(second)) is None
    third = staff_links.invite(name="eve", role="admin", by=admin.id)
    with session_scope() as s:
        s.exec(update(StaffLink).where(StaffLink.id == third.link_id).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert staff_links.open_link(_token(third)) is None
    assert staff_links.pending_links() == []
    with pytest.raises(AuthError, match="already exists"):
        staff_links.invite(name="ada", role="expert")


def test_link_misses_are_rate_limited_per_address(admin, monkeypatch):
    monkeypatch.setenv("OVERSIGHT_LINK_MISSES_PER_MINUTE", "3")
    reset_settings()
    issued = staff_links.invite(name="eve", role="expert")
    for _ in range(3):
        assert staff_links.open_link("guess-" * 5, client="10.0.0.9") is None
    with pytest.raises(AuthError, match="Too many links"):
        staff_links.open_link("guess-" * 5, client="10.0.0.9")
    # Another address is not held up by them.
    assert staff_links.open_link(_token(issued), client="10.0.0.8") is not None


def test_a_reset_link_sets_a_new_password_and_ends_every_session(admin):
    expert = auth.create_user(role="expert", name="eve", password="old password")
    session_id, _ = staff_sessions.start(user_id=expert.id)
    issued = staff_links.reset_link(name="eve", by=admin.id)
    assert staff_links.open_link(_token(issued)).purpose == "reset"
    staff_links.use_link(token=_token(issued), password="new password", repeated="new password")
    assert staff_sessions.check(session_id) is None
    with pytest.raises(AuthError):
        auth.authenticate(name="eve", password="old password")
    assert auth.authenticate(name="eve", password="new password").id == expert.id
    assert _events("staff.reset")[0].user_id == admin.id


def test_deactivation_ends_sessions_and_refuses_sign_in_until_reactivated(admin):
    expert = auth.create_user(role="expert", name="eve", password="her password")
    session_id, _ = staff_sessions.start(user_id=expert.id)
    assert staff_links.set_active(name="eve", active=False, by=admin.id) == 1
    assert staff_sessions.check(session_id) is None
    with pytest.raises(AuthError, match="deactivated"):
        auth.authenticate(name="eve", password="her password")
    with pytest.raises(AuthError, match="wrong name or password"):  # a guesser learns nothing new
        auth.authenticate(name="eve", password="a wrong guess")
    # A session started anyhow (institution sign-in, a race) is refused at its first check.
    late_id, _ = staff_sessions.start(user_id=expert.id)
    assert staff_sessions.check(late_id) is None
    with pytest.raises(AuthError, match="reactivate"):
        staff_links.reset_link(name="eve")
    staff_links.set_active(name="eve", active=True, by=admin.id)
    assert auth.authenticate(name="eve", password="her password").id == expert.id
    assert [e.kind for e in _events("user.deactivate") + _events("user.reactivate")] == \
        ["user.deactivate", "user.reactivate"]
    row = {r.name: r for r in staff_links.staff_list()}["eve"]
    assert row.active and row.last_sign_in is not None


def test_an_admin_cannot_lock_the_lab_out(admin):
    with pytest.raises(AuthError, match="your own account"):
        staff_links.set_active(name="ada", active=False, by=admin.id)
    with pytest.raises(AuthError, match="last active admin"):
        staff_links.set_active(name="ada", active=False)
    auth.create_user(role="admin", name="bob", password="bobs password")
    staff_links.set_active(name="ada", active=False)  # another admin is left


def test_sign_out_everywhere_is_audited(admin):
    session_id, _ = staff_sessions.start(user_id=admin.id)
    assert staff_links.sign_out_everywhere(name="ada", by=admin.id) == 1
    assert staff_sessions.check(session_id) is None
    assert _events("user.sign_out_everywhere")[0].detail["sessions"] == 1


def test_the_cli_takes_the_password_on_stdin_with_or_without_the_flag(db, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("first password\n"))
    assert cli_main(["create-user", "--role", "admin", "--name", "ada", "--password-stdin"]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("second password\n"))
    assert cli_main(["create-user", "--role", "expert", "--name", "eve"]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("third password\n"))
    assert cli_main(["set-password", "--name", "eve", "--password-stdin"]) == 0
    assert auth.authenticate(name="eve", password="third password").name == "eve"
    capsys.readouterr()
    with pytest.raises(SystemExit):
        cli_main(["create-user", "--help"])
    assert "standard input" in capsys.readouterr().out


def test_the_staff_commands_call_the_same_functions(db, capsys):
    auth.create_user(role="admin", name="ada", password="correct horse")
    assert cli_main(["staff", "invite", "--name", "eve", "--role", "expert"]) == 0
    link = capsys.readouterr().out.splitlines()[0]
    token = parse_qs(urlsplit(link).query)["invite"][0]
    staff_links.use_link(token=token, password="long enough", repeated="long enough")
    assert cli_main(["staff", "deactivate", "--name", "eve"]) == 0
    assert cli_main(["staff", "list"]) == 0
    assert "eve\texpert\tdeactivated" in capsys.readouterr().out
    assert cli_main(["staff", "reactivate", "--name", "eve"]) == 0
    assert cli_main(["sign-out", "--name", "eve"]) == 0
    assert _events("user.sign_out_everywhere")
