"""Which client address the sign-in and link limits see through the production server: X-Forwarded-For is believed
only from OVERSIGHT_TRUSTED_PROXIES (observed: any loopback peer could name any address)."""

from __future__ import annotations

import hashlib
import sqlite3

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ADMIN, _free_port, app_env, cli, start_streamlit, stop_streamlit

pytestmark = pytest.mark.browser


def _addr_key(address: str) -> str:
    return hashlib.sha256("\x1f".join(("addr", address)).encode()).hexdigest()  # oversight.access.auth._key


def _address_seen(browser, tmp, forwarded_for: str, trusted: str | None) -> set[str]:
    """One wrong password through a fresh server, the browser sending this X-Forwarded-For; returns the
    address keys of the sign-in throttle the server wrote."""
    port = _free_port()
    env = app_env(tmp, port)
    env["STREAMLIT_SERVER_ADDRESS"] = "127.0.0.1"  # as behind a reverse proxy on the same machine
    if trusted is not None:
        env["OVERSIGHT_TRUSTED_PROXIES"] = trusted
    cli(env, "seed-demo", "--password-stdin", "--json", "--simulated", "0", stdin=ADMIN[1] + "\n")
    proc = start_streamlit(env, port, tmp / "streamlit.log")
    context = browser.new_context(extra_http_headers={"X-Forwarded-For": forwarded_for})
    try:
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{port}")
        page.get_by_label("Name", exact=True).fill(ADMIN[0])
        page.get_by_label("Password", exact=True).fill("not the password")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_text("wrong name or password")).to_be_visible(timeout=20_000)
    finally:
        context.close()
        stop_streamlit(proc)
    with sqlite3.connect(tmp / "app.db") as db:
        return {key for (key,) in db.execute("select key from signinthrottle")}


def test_x_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(browser, tmp_path):
    keys = _address_seen(browser, tmp_path / "untrusted", "203.0.113.7", trusted=None)
    assert _addr_key("203.0.113.7") not in keys
    assert _addr_key("") in keys  # the peer itself: loopback, which Streamlit reports as no address


def test_behind_trusted_proxies_the_client_is_the_right_most_untrusted_address(browser, tmp_path):
    keys = _address_seen(browser, tmp_path / "trusted", "6.6.6.6, 198.51.100.9, 10.0.0.3",
                         trusted="127.0.0.1,10.0.0.0/8")
    assert _addr_key("198.51.100.9") in keys  # not the spoofable left-most one, nor the inner proxy
    assert _addr_key("6.6.6.6") not in keys and _addr_key("") not in keys
