"""The production entry point: `streamlit run serve.py` serves `app.py` plus two small routes that
Streamlit pages cannot provide themselves: setting and clearing the staff session's HttpOnly cookie
(see `oversight/access/staff_sessions.py`), and a middleware that gives every browser its pre-session nonce
cookie (what binds a hand-over code to the browser that signed in). `streamlit run app.py` still works; staff
sessions then end with the browser tab.

Client addresses: uvicorn, which serves the app, would take `X-Forwarded-For` from any loopback peer (its
FORWARDED_ALLOW_IPS defaults to 127.0.0.1,::1), so anyone on the machine could pose as any address to the link
and sign-in limits. Here it trusts only OVERSIGHT_TRUSTED_PROXIES (default: nobody) and takes the right-most
address that is not a trusted proxy (`TrustedProxiesOnly`).
"""

from __future__ import annotations

import secrets

from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import uvicorn.config
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

import streamlit as st

from oversight.access import staff_sessions
from oversight.settings import get_settings
from web import startup

staff_sessions.ROUTES_SERVED = True


class TrustedProxiesOnly(ProxyHeadersMiddleware):
    """uvicorn's own X-Forwarded-For handling (the right-most address that is not a trusted proxy, CIDRs allowed),
    trusting OVERSIGHT_TRUSTED_PROXIES instead of FORWARDED_ALLOW_IPS. Streamlit builds uvicorn's Config (which
    reads FORWARDED_ALLOW_IPS) before it imports this module, and Config.load wraps the app in the middleware
    named in uvicorn.config after the import: so the name is replaced here, the one hook there is.
    tests/browser/test_client_address_in_browser.py fails if a uvicorn upgrade moves it."""

    def __init__(self, app, trusted_hosts: object = None) -> None:
        super().__init__(app, trusted_hosts=get_settings().trusted_proxies)


uvicorn.config.ProxyHeadersMiddleware = TrustedProxiesOnly


def _secure() -> bool:
    return get_settings().public_url.startswith("https://")


async def _code(request: Request) -> str:
    form = await request.form()
    return str(form.get("code", ""))


def _same_origin(request: Request) -> bool:
    return staff_sessions.origin_allowed(origin=request.headers.get("origin"), referer=request.headers.get("referer"),
                                         host=request.headers.get("host"), scheme=request.url.scheme)


async def open_session(request: Request) -> Response:
    """POST code=<one-time code>: sets the session cookie (HttpOnly, SameSite=Strict). Only from the app's own
    origin, and only from the browser the code was issued to (its pre-session nonce cookie)."""
    if not _same_origin(request):
        return Response("cross-site request refused", status_code=403)
    redeemed = staff_sessions.redeem(await _code(request), request.cookies.get(staff_sessions.BROWSER_COOKIE))
    if redeemed is None:
        return Response("unknown or expired code", status_code=403)
    token, max_age = redeemed
    response = Response(status_code=204)
    response.set_cookie(staff_sessions.COOKIE, token, max_age=max_age, path="/", httponly=True,
                        samesite="strict", secure=_secure())
    return response


async def close_session(request: Request) -> Response:
    """POST: revokes the cookie's session (if any) and clears the cookie."""
    if not _same_origin(request):
        return Response("cross-site request refused", status_code=403)
    staff_sessions.end(token=request.cookies.get(staff_sessions.COOKIE))
    response = Response(status_code=204)
    response.delete_cookie(staff_sessions.COOKIE, path="/", httponly=True, samesite="strict", secure=_secure())
    return response


class BrowserNonce:
    """Pure ASGI (websockets pass through untouched): a page load from a browser without the pre-session nonce
    cookie gets one, so the tab's websocket (opened after the page loaded) carries it to the script. SameSite=Lax:
    not a credential, only a browser's name; a cross-site POST never carries it, and a link followed from another
    site keeps it rather than getting a new one."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope.get("method") != "GET" or \
                staff_sessions.BROWSER_COOKIE in Request(scope).cookies:
            await self.app(scope, receive, send)
            return

        async def send_with_nonce(message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if headers.get("content-type", "").startswith("text/html"):
                    cookie = Response()
                    cookie.set_cookie(staff_sessions.BROWSER_COOKIE, secrets.token_urlsafe(32), path="/",
                                      httponly=True, samesite="lax", secure=_secure())
                    headers.append("set-cookie", cookie.headers["set-cookie"])
            await send(message)

        await self.app(scope, receive, send_with_nonce)


async def readiness(_request: Request) -> Response:
    """GET: 200 once the database is migrated and the models are warm, 503 before: a proxy's health check, and
    what bench/load.py waits for before it sends people."""
    return Response("ready" if startup.ready() else "warming up", status_code=200 if startup.ready() else 503)


startup.start_in_background()
app = st.App("app.py", middleware=[Middleware(BrowserNonce)],
             routes=[Route("/oversight/session", open_session, methods=["POST"]),
                     Route("/oversight/sign-out", close_session, methods=["POST"]),
                     Route("/oversight/ready", readiness, methods=["GET"])])
