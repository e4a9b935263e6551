"""Staff stay signed in across a refresh (HttpOnly session cookie), deep links survive, sign-out ends it."""

from __future__ import annotations

import sqlite3
import time

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ADMIN

pytestmark = pytest.mark.browser
COOKIE = "oversight_staff"


def _fill_sign_in(page: Page, name: str, password: str) -> None:
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def _session_cookie(page: Page, timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [c for c in page.context.cookies() if c["name"] == COOKIE]
        if found:
            return found[0]
        time.sleep(0.2)
    raise AssertionError("the session cookie was never set")


def _db(server) -> sqlite3.Connection:
    return sqlite3.connect(server["env"]["OVERSIGHT_DATABASE_URL"].removeprefix("sqlite:///"))


def test_a_refresh_keeps_staff_signed_in_on_a_deep_link_and_sign_out_ends_it(page, server):
    study_id = server["seed"]["study_id"]
    page.goto(server["url"])
    _fill_sign_in(page, *ADMIN)
    expect(page.get_by_text(f"Signed in as {ADMIN[0]} (admin)")).to_be_visible()
    cookie = _session_cookie(page)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    # The browser holds the token; the database only its hash.
    assert _db(server).execute("select count(*) from staffsession where token_hash = ?",
                               (cookie["value"],)).fetchone()[0] == 0

    page.goto(f"{server['url']}/study_items?study={study_id}")
    expect(page.get_by_role("heading", name="Items")).to_be_visible()
    page.reload()
    expect(page.get_by_role("heading", name="Items")).to_be_visible()
    expect(page.get_by_text(f"Signed in as {ADMIN[0]} (admin)")).to_be_visible()
    assert f"study={study_id}" in page.url and "/study_items" in page.url

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("Password", exact=True)).to_be_visible()
    row = _db(server).execute("select revoked_at from staffsession order by id desc limit 1").fetchone()
    assert row[0] is not None  # ended on the server, whatever the browser still holds
    deadline = time.monotonic() + 20  # the sign-in page asks the route to clear the cookie
    while any(c["name"] == COOKIE for c in page.context.cookies()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(c["name"] == COOKIE for c in page.context.cookies())
    page.reload()
    expect(page.get_by_label("Password", exact=True)).to_be_visible()
    expect(page.get_by_text("Signed in as")).not_to_be_visible()
    # A stolen copy of the old cookie is worth nothing now.
    page.context.add_cookies([{"name": COOKIE, "value": cookie["value"], "url": server["url"]}])
    page.goto(f"{server['url']}/study_items?study={study_id}")
    expect(page.get_by_label("Password", exact=True)).to_be_visible()
    expect(page.get_by_text("Signed in as")).not_to_be_visible()


def test_a_deep_link_opened_signed_out_lands_on_its_page_after_sign_in(page, server):
    study_id = server["seed"]["study_id"]
    page.goto(f"{server['url']}/study_people?study={study_id}")
    expect(page.get_by_label("Password", exact=True)).to_be_visible()
    expect(page.get_by_text("Page not found")).not_to_be_visible()
    _fill_sign_in(page, *ADMIN)
    expect(page.get_by_role("heading", name="Participants")).to_be_visible()
    assert f"study={study_id}" in page.url and "/study_people" in page.url
