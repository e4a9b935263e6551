"""Which client address the sign-in and link limits see through the production server: X-Forwarded-For is believed
only from OVERSIGHT_TRUSTED_PROXIES (observed: any loopback peer could name any address).

The header is added by a small reverse proxy in front of the server, as nginx would add it: Chromium (150) no longer
sends a context's extra headers on the websocket handshake, which is where Streamlit reads the client's address."""

from __future__ import annotations

import hashlib
import socket
import socketserver
import sqlite3
import threading
from contextlib import contextmanager

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ADMIN, _free_port, app_env, cli, start_streamlit, stop_streamlit

pytestmark = pytest.mark.browser


def _addr_key(address: str) -> str:
    return hashlib.sha256("\x1f".join(("addr", address)).encode()).hexdigest()  # oversight.access.auth._key


@contextmanager
def _forwarding_proxy(listen: int, upstream: int, forwarded_for: str):
    """A reverse proxy on `listen` that adds `X-Forwarded-For` to the first request of each connection (a page
    load, an asset, the websocket handshake) and then passes bytes both ways. Threads, not asyncio: Playwright's
    sync API runs an event loop in this thread."""
    header = f"X-Forwarded-For: {forwarded_for}\r\n".encode()

    def pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = self.request.recv(65536)
                if not chunk:
                    return
                head += chunk
            first, _, rest = head.partition(b"\r\n")
            with socket.create_connection(("127.0.0.1", upstream)) as up:
                up.sendall(first + b"\r\n" + header + rest)
                back = threading.Thread(target=pipe, args=(up, self.request), daemon=True)
                back.start()
                pipe(self.request, up)
                back.join(5)

    server = socketserver.ThreadingTCPServer(("127.0.0.1", listen), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


def _address_seen(browser, tmp, forwarded_for: str, trusted: str | None) -> set[str]:
    """One wrong password through a fresh server behind a proxy that sends this X-Forwarded-For; returns the
    address keys of the sign-in throttle the server wrote."""
    port, proxy = _free_port(), _free_port()
    env = app_env(tmp, port)
    env["STREAMLIT_SERVER_ADDRESS"] = "127.0.0.1"  # as behind a reverse proxy on the same machine
    env["OVERSIGHT_PUBLIC_URL"] = f"http://127.0.0.1:{proxy}"
    if trusted is not None:
        env["OVERSIGHT_TRUSTED_PROXIES"] = trusted
    cli(env, "seed-demo", "--password-stdin", "--json", "--simulated", "0", stdin=ADMIN[1] + "\n")
    proc = start_streamlit(env, port, tmp / "streamlit.log")
    context = browser.new_context()
    try:
        with _forwarding_proxy(proxy, port, forwarded_for):
            page = context.new_page()
            page.goto(f"http://127.0.0.1:{proxy}")
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
