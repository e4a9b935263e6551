"""The Staff page (admins only) and its actions; the sign-up page a staff link opens; a participant link that does
not work shows its error and no staff sign-in form."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from oversight.access import auth, staff_links, staff_sessions
from oversight.access.ratelimit import link_misses
from oversight.db import session_scope
from storage.models import Event
from tests.pages.apptest import run_page

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def admin(db):
    link_misses.clear()
    yield auth.create_user(role="admin", name="ada", password="correct horse")
    link_misses.clear()


def _button(at: AppTest, label: str):
    found = [b for b in at.button if b.label == label]
    assert found, f"no button {label!r} in {[b.label for b in at.button]}"
    return found[0]


def _said(element) -> str:
    """A message as a person reads it (messages are escaped Markdown: text stays text)."""
    return element.value.replace("\\", "")


def _people(at: AppTest) -> dict[str, dict]:
    return {row["name"]: row for row in at.dataframe[0].value.to_dict("records")}


def _events(kind: str) -> list[Event]:
    with session_scope(write=False) as s:
        return s.exec(select(Event).where(Event.kind == kind)).all()


def test_only_admins_see_the_staff_page(admin):
    expert = auth.create_user(role="expert", name="eve", password="her password")
    at = run_page("staff", expert.id)
    assert at.error and "not available" in _said(at.error[0])
    assert not at.dataframe and not at.text_input
    assert run_page("staff", None).error
    at = run_page("staff", admin.id)
    assert not at.exception and not at.error
    assert _people(at)["ada"]["role"] == "admin"


def test_an_invite_shows_its_link_once_and_the_link_signs_the_new_expert_in(admin):
    at = run_page("staff", admin.id)
    at.text_input[0].input("eve")
    at.radio[0].set_value("expert")
    _button(at, "Make a sign-up link").click().run()
    assert not at.exception and not at.error
    link = at.code[0].value
    assert "?invite=" in link and "eve" in _said(at.success[0])
    assert _events("staff.invite")[0].user_id == admin.id
    _button(at, "I have copied the link").click().run()
    assert not at.code  # shown once
    token = parse_qs(urlsplit(link).query)["invite"][0]

    page = AppTest.from_file(str(REPO / "views" / "sign_up.py"), default_timeout=60)
    page.query_params["invite"] = token
    page.run()
    assert "invited as expert 'eve'" in page.text[0].value
    page.text_input[0].input("a good password")
    page.text_input[1].input("a different one")
    _button(page, "Set password and sign in").click().run()
    assert page.error[0].value == "the two passwords differ" and "user_id" not in page.session_state
    page.text_input[0].input("a good password")
    page.text_input[1].input("a good password")
    _button(page, "Set password and sign in").click().run()
    eve = auth.authenticate(name="eve", password="a good password")
    assert page.session_state["user_id"] == eve.id and eve.role == "expert"
    assert staff_sessions.check(page.session_state["staff_session_id"]).id == eve.id

    # Used once: opened again, the link explains itself and offers no form.
    again = AppTest.from_file(str(REPO / "views" / "sign_up.py"), default_timeout=60)
    again.query_params["invite"] = token
    again.run()
    assert again.error[0].value == staff_links.LINK_BROKEN and not again.text_input


def test_reset_link_sign_out_deactivate_and_reactivate_from_the_page(admin):
    eve = auth.create_user(role="expert", name="eve", password="her password")
    first, _ = staff_sessions.start(user_id=eve.id)
    at = run_page("staff", admin.id)
    at.selectbox[0].set_value(eve.id)
    at.run()
    _button(at, "Sign out everywhere").click().run()
    assert "1 session(s) ended" in _said(at.success[0]) and staff_sessions.check(first) is None

    _button(at, "Send a password reset link").click().run()
    assert "?invite=" in at.code[0].value and _events("staff.reset")[0].user_id == admin.id
    assert [link["purpose"] for link in staff_links.pending_links()] == ["reset"]

    second, _ = staff_sessions.start(user_id=eve.id)
    _button(at, "Deactivate").click().run()
    assert "deactivated" in _said(at.success[0]) and staff_sessions.check(second) is None
    assert _people(at)["eve"]["status"] == "deactivated"
    assert staff_links.pending_links() == []  # her reset link stopped working with the account
    with pytest.raises(auth.AuthError, match="deactivated"):
        auth.authenticate(name="eve", password="her password")
    assert _button(at, "Send a password reset link").disabled

    _button(at, "Reactivate").click().run()
    assert _people(at)["eve"]["status"] == "active"
    assert auth.authenticate(name="eve", password="her password").id == eve.id


def test_refusals_are_messages_and_a_link_can_be_withdrawn(admin):
    at = run_page("staff", admin.id)
    at.text_input[0].input("ada")
    _button(at, "Make a sign-up link").click().run()
    assert "already exists" in _said(at.error[0]) and not at.code
    at.selectbox[0].set_value(admin.id)
    at.run()
    _button(at, "Deactivate").click().run()
    assert "your own account" in _said(at.error[0])

    issued = staff_links.invite(name="bob", role="admin", by=admin.id)
    at = run_page("staff", admin.id)
    _button(at, "Withdraw this link").click().run()
    assert "withdrawn" in _said(at.success[0])
    assert staff_links.open_link(parse_qs(urlsplit(issued.link).query)["invite"][0]) is None
    assert _events("staff.link_revoke")[0].user_id == admin.id


def test_a_participant_link_that_does_not_work_shows_no_staff_form(db):
    at = AppTest.from_file(str(REPO / "views" / "sign_in.py"), default_timeout=60)
    at.session_state["link_error"] = "This participation link is not valid or has been withdrawn."
    at.run()
    assert _said(at.error[0]) == "This participation link is not valid or has been withdrawn."
    assert not at.text_input and not at.button  # no Name / Password form, no Sign in button
    assert "ask the researcher who invited you for a new link" in at.markdown[0].value
    # Without a link error the sign-in form is there as before.
    at = AppTest.from_file(str(REPO / "views" / "sign_in.py"), default_timeout=60).run()
    assert [t.label for t in at.text_input] == ["Name", "Password"]
