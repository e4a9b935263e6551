"""Staff from the Staff page, in Chromium: an admin invites an expert, the expert opens the one-time link in a fresh
browser, sets a password and is signed in; the admin signs them out everywhere, then deactivates them, and each time
the expert's next click finds them signed out. A participant link that does not work shows no staff form, and the
server log carries no Streamlit deprecation warning (the cookie hand-over uses st.iframe)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ADMIN, choose_option

pytestmark = pytest.mark.browser
SHOTS = Path("/tmp/shots/staff")
EXPERT = ("eve-expert", "eve's own password")


def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _sign_in(page: Page, name: str, password: str) -> None:
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def _act_on(page: Page, person: str, button: str) -> None:
    choose_option(page, "Person", person)
    page.get_by_role("button", name=button).click()


def test_an_invited_expert_signs_up_and_is_signed_out_and_deactivated_by_the_admin(page, browser, server):
    page.goto(server["url"])
    _sign_in(page, *ADMIN)
    expect(page.get_by_text(f"Signed in as {ADMIN[0]} (admin)")).to_be_visible()
    page.get_by_role("link", name="Staff").click()
    expect(page.get_by_role("heading", name="Staff")).to_be_visible()
    page.get_by_label("Name", exact=True).fill(EXPERT[0])
    page.get_by_role("button", name="Make a sign-up link").click()
    code = page.get_by_test_id("stCode")
    expect(code).to_contain_text("?invite=")
    link = re.search(r"https?://\S+\?invite=[\w-]+", code.inner_text()).group(0)
    _shot(page, "1-admin-made-a-link")

    expert_context = browser.new_context(viewport={"width": 1280, "height": 900})
    expert = expert_context.new_page()
    try:
        expert.goto(link)
        expect(expert.get_by_text(f"You were invited as expert '{EXPERT[0]}'")).to_be_visible()
        expect(expert.get_by_label("Name", exact=True)).to_have_count(0)  # no staff sign-in form here
        _shot(expert, "2-expert-opens-the-link")
        expert.get_by_label("New password", exact=True).fill(EXPERT[1])
        expert.get_by_label("New password again", exact=True).fill(EXPERT[1])
        expert.get_by_role("button", name="Set password and sign in").click()
        expect(expert.get_by_text(f"Signed in as {EXPERT[0]} (expert)")).to_be_visible()
        assert "invite=" not in expert.url  # the used token leaves the address bar
        _shot(expert, "3-expert-signed-in")

        # The link works once.
        other = expert_context.new_page()
        other.goto(link)
        expect(other.get_by_text("This sign-up link does not work")).to_be_visible()
        expect(other.get_by_label("New password", exact=True)).to_have_count(0)
        other.close()

        page.get_by_role("button", name="I have copied the link").click()
        expect(page.get_by_test_id("stCode")).to_have_count(0)
        _act_on(page, f"{EXPERT[0]} (expert)", "Sign out everywhere")
        expect(page.get_by_text(f"{EXPERT[0]} signed out everywhere")).to_be_visible()
        expert.get_by_role("link", name="Transcripts").click()
        expect(expert.get_by_text("You were signed out")).to_be_visible()
        expect(expert.get_by_label("Password", exact=True)).to_be_visible()

        _sign_in(expert, *EXPERT)
        expect(expert.get_by_text(f"Signed in as {EXPERT[0]} (expert)")).to_be_visible()
        _act_on(page, f"{EXPERT[0]} (expert)", "Deactivate")
        expect(page.get_by_text(f"{EXPERT[0]} deactivated")).to_be_visible()
        _shot(page, "4-admin-deactivated-the-expert")
        expert.get_by_role("link", name="Results").click()
        expect(expert.get_by_text("You were signed out")).to_be_visible()
        _sign_in(expert, *EXPERT)
        expect(expert.get_by_text("This account has been deactivated")).to_be_visible()
        _shot(expert, "5-deactivated-expert-cannot-sign-in")
    finally:
        expert_context.close()


def test_a_bad_participant_link_shows_the_error_and_no_staff_form(page, server):
    page.goto(f"{server['url']}/?t=not-a-real-link")
    expect(page.get_by_text("This participation link is not valid or has been withdrawn.")).to_be_visible()
    expect(page.get_by_text("ask the researcher who invited you for a new link")).to_be_visible()
    expect(page.get_by_label("Password", exact=True)).to_have_count(0)
    expect(page.get_by_role("button", name="Sign in")).to_have_count(0)
    _shot(page, "6-bad-participant-link")


def test_the_cookie_hand_over_works_and_the_server_log_carries_no_deprecation_warning(page, server):
    # A staff sign-in renders the cookie hand-over (the call that used to warn) on its runs.
    page.goto(server["url"])
    _sign_in(page, *ADMIN)
    expect(page.get_by_text(f"Signed in as {ADMIN[0]} (admin)")).to_be_visible()
    # The hand-over still works: the route set the session cookie.
    for _ in range(100):
        if any(c["name"] == "oversight_staff" for c in page.context.cookies()):
            break
        page.wait_for_timeout(200)
    assert any(c["name"] == "oversight_staff" for c in page.context.cookies())
    page.get_by_role("link", name="Staff").click()
    expect(page.get_by_role("heading", name="Staff")).to_be_visible()
    log = (Path(server["tmp"]) / "streamlit.log").read_text()
    assert "will be removed after" not in log and "components.v1" not in log, log[-2000:]
    # ... from a frame that takes no room (an empty st.iframe is 150 px high unless sized).
    heights = page.evaluate("Array.from(document.querySelectorAll('iframe[title=\"sign-in hand-over\"]'))"
                            ".map(f => f.getBoundingClientRect().height)")
    assert heights and max(heights) <= 1, heights
