"""Sign-in, throttling, participant links and Prolific enrolment."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
from sqlmodel import select

from oversight.access import auth
from oversight.db import session_scope
from storage.models import Study, User


def _token(link: str) -> str:
    return parse_qs(urlparse(link).query)["t"][0]


def test_staff_sign_in_with_the_right_password_only(db):
    auth.create_user(role="admin", name="ada", password="correct horse")
    assert auth.authenticate(name="ada", password="correct horse").role == "admin"
    with pytest.raises(auth.AuthError, match="wrong name or password"):
        auth.authenticate(name="ada", password="wrong horse")
    with pytest.raises(auth.AuthError, match="wrong name or password"):
        auth.authenticate(name="nobody", password="correct horse")


def test_passwords_are_stored_as_argon2_hashes(db):
    auth.create_user(role="expert", name="eve", password="s3cret-pass")
    with session_scope(write=False) as s:
        stored = s.exec(select(User).where(User.name == "eve")).one().password_hash
    assert stored.startswith("$argon2") and "s3cret-pass" not in stored


def test_repeated_failures_make_the_name_wait_even_for_the_right_password(db, monkeypatch):
    monkeypatch.setenv("OVERSIGHT_LOGIN_MAX_DELAY_S", "60")
    from oversight.settings import reset_settings

    reset_settings()
    auth.create_user(role="admin", name="ada", password="correct horse")
    for _ in range(3):
        with pytest.raises(auth.AuthError, match="wrong"):
            auth.authenticate(name="ada", password="guess")
    with pytest.raises(auth.AuthError, match="try again in"):
        auth.authenticate(name="ada", password="correct horse")


def test_short_passwords_duplicate_names_and_participant_role_are_refused(db):
    with pytest.raises(auth.AuthError, match="at least"):
        auth.create_user(role="admin", name="a", password="short")
    auth.create_user(role="admin", name="ada", password="long enough")
    with pytest.raises(auth.AuthError, match="already exists"):
        auth.create_user(role="expert", name="ada", password="long enough")
    with pytest.raises(auth.AuthError, match="participants join by link"):
        auth.create_user(role="participant", name="p", password="long enough")


def test_invite_links_resolve_to_their_participant_and_only_hashes_are_stored(db, study):
    invites = auth.create_invites(study_id=study.id, count=3)
    tokens = [_token(i.link) for i in invites]
    assert len(set(tokens)) == 3
    for invite, token in zip(invites, tokens):
        user = auth.participant_for_token(token)
        assert user.id == invite.user_id and user.study_id == study.id
    with session_scope(write=False) as s:
        stored = {u.token_hash for u in s.exec(select(User)).all()}
    assert not set(tokens) & stored
    assert auth.participant_for_token("not-a-token") is None


def test_a_revoked_link_stops_working(db, study):
    invite = auth.create_invites(study_id=study.id, count=1)[0]
    auth.revoke_participant(user_id=invite.user_id)
    assert auth.participant_for_token(_token(invite.link)) is None


def test_prolific_enrolment_creates_then_resumes_the_same_participant(db, study):
    link = auth.open_enrolment(study_id=study.id)
    assert "PROLIFIC_PID={{%PROLIFIC_PID%}}" in link
    token = parse_qs(urlparse(link).query)["enrol"][0]
    first = auth.enrol(enrol_token=token, external_id="5f1a2b3c", external_study_id="S1", external_session_id="X1")
    again = auth.enrol(enrol_token=token, external_id="5f1a2b3c", external_session_id="X2")
    other = auth.enrol(enrol_token=token, external_id="60aa")
    assert first.id == again.id != other.id
    assert again.external_session_id == "X2" and again.external_study_id == "S1"
    with pytest.raises(auth.AuthError, match="PROLIFIC_PID"):
        auth.enrol(enrol_token=token, external_id="")
    auth.close_enrolment(study_id=study.id)
    with pytest.raises(auth.AuthError, match="not valid"):
        auth.enrol(enrol_token=token, external_id="5f1a2b3c")


def test_enrolment_is_refused_for_a_closed_study(db, study):
    token = parse_qs(urlparse(auth.open_enrolment(study_id=study.id)).query)["enrol"][0]
    with session_scope() as s:
        s.get(Study, study.id).status = "closed"
    with pytest.raises(auth.AuthError, match="closed"):
        auth.enrol(enrol_token=token, external_id="abc")


def test_a_reissued_link_works_and_the_old_one_stops(db, study):
    invite = auth.create_invites(study_id=study.id, count=1)[0]
    auth.revoke_participant(user_id=invite.user_id)
    new = auth.reissue_link(user_id=invite.user_id)
    assert auth.participant_for_token(_token(invite.link)) is None
    assert auth.participant_for_token(_token(new)).id == invite.user_id
