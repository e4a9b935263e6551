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


def _signed_in_tab(context, server) -> Page:
    tab = context.new_page()
    tab.goto(f"{server['url']}/study_items?study={server['seed']['study_id']}")
    expect(tab.get_by_text(f"Signed in as {ADMIN[0]} (admin)")).to_be_visible()
    return tab


def _next_click_is_signed_out(tab: Page) -> None:
    """A person in the old tab clicks another page of the menu: the sign-in form, not the page."""
    tab.get_by_role("link", name="Participants").click()
    expect(tab.get_by_label("Password", exact=True)).to_be_visible()
    expect(tab.get_by_text("Signed in as")).not_to_be_visible()
    expect(tab.get_by_role("heading", name="Participants")).not_to_be_visible()


def test_sign_out_a_new_password_or_sign_out_by_name_end_an_open_tab_at_its_next_click(page, server):
    from tests.browser.conftest import cli

    page.goto(server["url"])
    _fill_sign_in(page, *ADMIN)
    expect(page.get_by_text(f"Signed in as {ADMIN[0]} (admin)")).to_be_visible()
    _session_cookie(page)
    other = _signed_in_tab(page.context, server)  # the second tab picks the sign-in up from the cookie
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("Password", exact=True)).to_be_visible()
    _next_click_is_signed_out(other)

    for end in (lambda: cli(server["env"], "set-password", "--name", ADMIN[0], stdin=ADMIN[1] + "\n"),
                lambda: cli(server["env"], "sign-out", "--name", ADMIN[0])):
        page.goto(server["url"])
        _fill_sign_in(page, *ADMIN)
        expect(page.get_by_text(f"Signed in as {ADMIN[0]} (admin)")).to_be_visible()
        _session_cookie(page)
        other = _signed_in_tab(page.context, server)
        end()
        _next_click_is_signed_out(other)
        _next_click_is_signed_out(page)
        other.close()


def _attacker_site(html: str):
    """A page served from another site (127.0.0.2: another address is another site, not just another origin)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Page(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            body = html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    site = ThreadingHTTPServer(("127.0.0.2", 0), Page)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    return site


def test_a_cross_site_page_cannot_sign_a_browser_in_as_the_attackers_account(browser, page, server):
    """Login CSRF: the attacker signs in to their own expert account, keeps the one-time code their page would
    have posted, and serves a page that auto-posts it to the app from the victim's browser."""
    from tests.browser.conftest import cli

    cli(server["env"], "create-user", "--role", "expert", "--name", "mallory", stdin="mallory-pass-long\n")
    attacker = browser.new_context()
    codes: list[str] = []

    def keep_code(route):
        codes.append(route.request.post_data or "")
        route.abort()

    own = attacker.new_page()
    own.route("**/oversight/session", keep_code)  # the page's own route: Playwright misses a srcdoc frame's otherwise
    own.goto(server["url"])
    _fill_sign_in(own, "mallory", "mallory-pass-long")
    expect(own.get_by_text("Signed in as mallory (expert)")).to_be_visible()
    deadline = time.monotonic() + 20
    while not codes and time.monotonic() < deadline:
        own.wait_for_timeout(200)  # not time.sleep: Playwright runs the route handler only while it is called
    attacker.close()
    assert codes and codes[0].startswith("code=")
    code = codes[0].removeprefix("code=")

    site = _attacker_site(f"""<html><body><form method="POST" action="{server['url']}/oversight/session">
        <input type="hidden" name="code" value="{code}"></form>
        <script>document.forms[0].submit()</script></body></html>""")
    try:
        page.goto(server["url"])  # the victim has used the app before (their browser has its nonce)
        expect(page.get_by_label("Password", exact=True)).to_be_visible()
        with page.expect_response(lambda r: "/oversight/session" in r.url) as posted:
            try:
                page.goto(f"http://127.0.0.2:{site.server_address[1]}/")
            except Exception:  # noqa: BLE001 - a 204 answer aborts the navigation, which is fine
                pass
        assert posted.value.status == 403
        assert not any(c["name"] == COOKIE for c in page.context.cookies())
        page.goto(server["url"])
        expect(page.get_by_label("Password", exact=True)).to_be_visible()
        expect(page.get_by_text("Signed in as")).not_to_be_visible()
    finally:
        site.shutdown()


def test_a_monitor_left_open_stops_showing_the_study_once_the_session_ends(page, server):
    """The Monitor refreshes itself (a timed fragment, which skips app.py): after `sign-out --name` it signs the tab
    out by itself instead of showing who is active on."""
    from tests.browser.conftest import cli

    page.goto(f"{server['url']}/monitor?study={server['seed']['study_id']}")
    _fill_sign_in(page, *ADMIN)
    expect(page.get_by_role("heading", name="Monitor")).to_be_visible()
    expect(page.get_by_text("Updated ")).to_be_visible()
    cli(server["env"], "sign-out", "--name", ADMIN[0])
    expect(page.get_by_label("Password", exact=True)).to_be_visible()  # within a refresh or two, no click
    expect(page.get_by_text("Updated ")).not_to_be_visible()


def test_signing_in_again_in_one_tab_is_not_undone_by_the_tab_left_open(page, server):
    """Sign out in tab A, sign in again there: tab B, still on the old session, is signed out at its next click,
    and must not clear the browser's new cookie or end the new session, which would sign tab A out again."""
    page.goto(server["url"])
    _fill_sign_in(page, *ADMIN)
    expect(page.get_by_text(f"Signed in as {ADMIN[0]} (admin)")).to_be_visible()
    _session_cookie(page)
    other = _signed_in_tab(page.context, server)
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("Password", exact=True)).to_be_visible()
    deadline = time.monotonic() + 20  # the sign-in page clears the old cookie
    while any(c["name"] == COOKIE for c in page.context.cookies()) and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    page.goto(server["url"])
    _fill_sign_in(page, *ADMIN)
    expect(page.get_by_text(f"Signed in as {ADMIN[0]} (admin)")).to_be_visible()
    fresh = _session_cookie(page)
    _next_click_is_signed_out(other)
    other.wait_for_timeout(2000)  # time for any post the signed-out tab makes
    page.get_by_role("link", name="Participants").click()
    expect(page.get_by_role("heading", name="Participants")).to_be_visible()
    expect(page.get_by_text(f"Signed in as {ADMIN[0]} (admin)")).to_be_visible()
    assert any(c["name"] == COOKIE and c["value"] == fresh["value"] for c in page.context.cookies())
    other.reload()  # and the old tab, reloaded, picks up the new sign-in
    expect(other.get_by_text(f"Signed in as {ADMIN[0]} (admin)")).to_be_visible()
