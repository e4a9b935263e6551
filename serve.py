"""The production entry point: `streamlit run serve.py` serves `app.py` plus two small routes that
Streamlit pages cannot provide themselves: setting and clearing the staff session's HttpOnly cookie
(see `oversight/access/staff_sessions.py`). `streamlit run app.py` still works; staff sessions then end with
the browser tab.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import streamlit as st

from oversight.access import staff_sessions
from oversight.settings import get_settings

staff_sessions.ROUTES_SERVED = True


def _secure() -> bool:
    return get_settings().public_url.startswith("https://")


async def _code(request: Request) -> str:
    form = await request.form()
    return str(form.get("code", ""))


async def open_session(request: Request) -> Response:
    """POST code=<one-time code>: sets the session cookie (HttpOnly, SameSite=Strict)."""
    redeemed = staff_sessions.redeem(await _code(request))
    if redeemed is None:
        return Response("unknown or expired code", status_code=403)
    token, max_age = redeemed
    response = Response(status_code=204)
    response.set_cookie(staff_sessions.COOKIE, token, max_age=max_age, path="/", httponly=True,
                        samesite="strict", secure=_secure())
    return response


async def close_session(request: Request) -> Response:
    """POST: revokes the cookie's session (if any) and clears the cookie."""
    staff_sessions.end(token=request.cookies.get(staff_sessions.COOKIE))
    response = Response(status_code=204)
    response.delete_cookie(staff_sessions.COOKIE, path="/", httponly=True, samesite="strict", secure=_secure())
    return response


app = st.App("app.py", routes=[Route("/oversight/session", open_session, methods=["POST"]),
                               Route("/oversight/sign-out", close_session, methods=["POST"])])
