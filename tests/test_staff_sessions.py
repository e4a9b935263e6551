"""Staff sessions on the database: hand-over code once, lookups are reads, sign-out and expiry end them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from oversight.access import auth, staff_sessions
from oversight.db import session_scope
from storage.models import StaffSession, utcnow


def test_a_code_is_redeemed_once_and_the_token_finds_the_user(any_db):
    user = auth.create_user(role="admin", name="ada", password="correct horse")
    session_id, code = staff_sessions.start(user_id=user.id, client="10.0.0.1")
    token, max_age = staff_sessions.redeem(code)
    assert staff_sessions.redeem(code) is None  # once only
    assert 0 < max_age <= 12 * 3600
    found_id, found = staff_sessions.lookup(token)
    assert (found_id, found.name) == (session_id, "ada")
    with session_scope(write=False) as s:
        row = s.get(StaffSession, session_id)
    assert token not in (row.token_hash, row.handoff_hash) and row.token_hash


def test_sign_out_and_expiry_end_a_session(any_db):
    user = auth.create_user(role="expert", name="eve", password="correct horse")
    first_id, first = staff_sessions.start(user_id=user.id)
    token, _ = staff_sessions.redeem(first)
    staff_sessions.end(session_id=first_id)
    assert staff_sessions.lookup(token) is None
    second_id, second = staff_sessions.start(user_id=user.id)
    token, _ = staff_sessions.redeem(second)
    with session_scope() as s:
        s.exec(update(StaffSession).where(StaffSession.id == second_id).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert staff_sessions.lookup(token) is None


def test_an_old_code_or_a_new_password_is_worth_nothing(any_db):
    user = auth.create_user(role="admin", name="ada", password="correct horse")
    _, stale = staff_sessions.start(user_id=user.id)
    with session_scope() as s:
        s.exec(update(StaffSession).values(handoff_expires_at=utcnow() - timedelta(seconds=1)))
    assert staff_sessions.redeem(stale) is None
    _, code = staff_sessions.start(user_id=user.id)
    token, _ = staff_sessions.redeem(code)
    auth.set_password(name="ada", password="another horse")
    assert staff_sessions.lookup(token) is None


def test_institution_sign_in_matches_staff_by_e_mail_only(any_db):
    auth.create_user(role="expert", name="eve@uni.example", password="correct horse")
    assert staff_sessions.staff_for_email("eve@uni.example").role == "expert"
    assert staff_sessions.staff_for_email("mallory@uni.example") is None
