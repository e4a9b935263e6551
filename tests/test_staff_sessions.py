"""Staff sessions on the database: hand-over code once, lookups are reads, sign-out and expiry end them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from oversight.access import auth, staff_sessions
from oversight.db import session_scope
from storage.models import StaffSession, utcnow

BROWSER = "the-nonce-of-the-browser-that-signed-in"


def test_a_code_is_redeemed_once_and_the_token_finds_the_user(any_db):
    user = auth.create_user(role="admin", name="ada", password="correct horse")
    session_id, code = staff_sessions.start(user_id=user.id, client="10.0.0.1", browser=BROWSER)
    token, max_age = staff_sessions.redeem(code, BROWSER)
    assert staff_sessions.redeem(code, BROWSER) is None  # once only
    assert 0 < max_age <= 12 * 3600
    found_id, found = staff_sessions.lookup(token)
    assert (found_id, found.name) == (session_id, "ada")
    with session_scope(write=False) as s:
        row = s.get(StaffSession, session_id)
    assert token not in (row.token_hash, row.handoff_hash) and row.token_hash


def test_sign_out_and_expiry_end_a_session(any_db):
    user = auth.create_user(role="expert", name="eve", password="correct horse")
    first_id, first = staff_sessions.start(user_id=user.id, browser=BROWSER)
    token, _ = staff_sessions.redeem(first, BROWSER)
    staff_sessions.end(session_id=first_id)
    assert staff_sessions.lookup(token) is None
    second_id, second = staff_sessions.start(user_id=user.id, browser=BROWSER)
    token, _ = staff_sessions.redeem(second, BROWSER)
    with session_scope() as s:
        s.exec(update(StaffSession).where(StaffSession.id == second_id).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert staff_sessions.lookup(token) is None


def test_an_old_code_or_a_new_password_is_worth_nothing(any_db):
    user = auth.create_user(role="admin", name="ada", password="correct horse")
    _, stale = staff_sessions.start(user_id=user.id, browser=BROWSER)
    with session_scope() as s:
        s.exec(update(StaffSession).values(handoff_expires_at=utcnow() - timedelta(seconds=1)))
    assert staff_sessions.redeem(stale, BROWSER) is None
    _, code = staff_sessions.start(user_id=user.id, browser=BROWSER)
    token, _ = staff_sessions.redeem(code, BROWSER)
    auth.set_password(name="ada", password="another horse")
    assert staff_sessions.lookup(token) is None


def test_institution_sign_in_matches_staff_by_e_mail_only(any_db):
    auth.create_user(role="expert", name="eve@uni.example", password="correct horse")
    assert staff_sessions.staff_for_email("eve@uni.example").role == "expert"
    assert staff_sessions.staff_for_email("mallory@uni.example") is None


def test_a_code_works_only_from_the_browser_it_was_issued_to(any_db):
    """Login CSRF: an attacker's own code, posted from the victim's browser (another nonce, or none), is refused."""
    user = auth.create_user(role="expert", name="mallory", password="correct horse")
    _, code = staff_sessions.start(user_id=user.id, browser=BROWSER)
    assert staff_sessions.redeem(code, "the-victims-browser") is None
    assert staff_sessions.redeem(code, None) is None
    assert staff_sessions.redeem(code, BROWSER) is not None
    # A browser with no nonce gets no code: the sign-in stays in its tab, still a session on the server.
    session_id, none = staff_sessions.start(user_id=user.id, browser=None)
    assert none is None and staff_sessions.check(session_id).name == "mallory"


def test_the_session_route_takes_posts_from_the_apps_own_origin_only(monkeypatch):
    from oversight.settings import reset_settings

    monkeypatch.delenv("OVERSIGHT_PUBLIC_URL", raising=False)
    reset_settings()
    allowed = staff_sessions.origin_allowed
    # Unset public URL: the request's own Host.
    assert allowed(origin="http://127.0.0.1:8501", referer=None, host="127.0.0.1:8501")
    assert not allowed(origin="http://127.0.0.2:8501", referer=None, host="127.0.0.1:8501")
    assert not allowed(origin="null", referer="http://127.0.0.1:8501/", host="127.0.0.1:8501")
    assert allowed(origin=None, referer="http://127.0.0.1:8501/studies?x=1", host="127.0.0.1:8501")
    assert not allowed(origin=None, referer="http://evil.example/", host="127.0.0.1:8501")
    assert not allowed(origin=None, referer=None, host="127.0.0.1:8501")
    monkeypatch.setenv("OVERSIGHT_PUBLIC_URL", "https://lab.example.org/")
    reset_settings()
    try:
        assert allowed(origin="https://lab.example.org", referer=None, host="10.0.0.5:8501")
        assert allowed(origin="https://LAB.example.org:443", referer=None, host="10.0.0.5:8501")
        assert not allowed(origin="http://lab.example.org", referer=None, host="lab.example.org")
        assert not allowed(origin="https://evil.example", referer=None, host="evil.example")  # Host is not trusted
    finally:
        monkeypatch.undo()
        reset_settings()


def test_every_run_of_an_open_staff_tab_re_checks_its_session(db, monkeypatch):
    """Two tabs signed in as the same admin; sign-out in one, a new password, or `sign-out --name` signs the
    other out at its next click (AppTest through app.py, as the browser runs it)."""
    from oversight.settings import reset_settings
    from tests.budget_world import app

    monkeypatch.setenv("OVERSIGHT_EMBEDDED_WORKER", "0")  # no job worker outliving the test's database
    reset_settings()

    admin = auth.create_user(role="admin", name="ada", password="correct horse")

    def open_tab():
        at = app()
        at.session_state["user_id"] = admin.id
        at.session_state["staff_session_id"], _ = staff_sessions.start(user_id=admin.id)
        at.run()
        assert not at.exception and any("Signed in as ada (admin)" in t.value for t in at.sidebar.text)
        return at

    def signed_out(at) -> bool:
        at.run()
        assert not at.exception
        return not any("Signed in as" in t.value for t in at.sidebar.text) and \
            any(i.label == "Password" for i in at.text_input)

    first, second = open_tab(), open_tab()
    staff_sessions.end(session_id=first.session_state["staff_session_id"])  # what "Sign out" in a tab does
    assert signed_out(first)
    assert not signed_out(second)  # a tab of its own: its session is another row
    auth.set_password(name="ada", password="another horse")
    assert signed_out(second)
    third = open_tab()
    auth.end_staff_sessions(name="ada")  # python -m oversight sign-out --name ada
    assert signed_out(third)
