"""Streamlit side of staff sessions (`oversight/access/staff_sessions.py`): restore a sign-in from the cookie,
hand a new sign-in's cookie to the browser, end it on sign-out. Used by `app.py` and `views/sign_in.py`.
"""

from __future__ import annotations

import json

import streamlit as st
import streamlit.components.v1 as components

from oversight.access import staff_sessions
from oversight.settings import get_settings
from storage.models import User

SESSION_KEY = "staff_session_id"
HANDOFF_KEY = "staff_session_handoff"
CLEAR_KEY = "staff_session_clear"


def client_address() -> str | None:
    """The browser's address as Streamlit sees it (behind a proxy: the proxy's, unless it forwards it)."""
    try:
        address = st.context.ip_address
    except Exception:  # noqa: BLE001 - bare scripts have no connection
        return None
    return address if isinstance(address, str) else None  # AppTest answers with a mock


def oidc_ready() -> bool:
    """Institution sign-in is on (setting) and configured ([auth] in .streamlit/secrets.toml)."""
    if not get_settings().staff_oidc:
        return False
    try:
        return "auth" in st.secrets
    except Exception:  # noqa: BLE001 - no secrets file at all
        return False


def active() -> bool:
    return staff_sessions.enabled() and staff_sessions.ROUTES_SERVED


def restore(signed_in: bool) -> User | None:
    """At the top of every run: a tab with no sign-in yet picks up a live session from the cookie (or an
    institution sign-in through st.login). Returns the staff user to sign in, if any."""
    if signed_in or not active():
        return None
    token = st.context.cookies.get(staff_sessions.COOKIE)
    found = staff_sessions.lookup(token if isinstance(token, str) else None)
    if found is not None:
        st.session_state[SESSION_KEY] = found[0]
        return found[1]
    if oidc_ready():
        try:
            email = st.user.get("email") if st.user.is_logged_in else None
        except Exception:  # noqa: BLE001 - no [auth] configured
            email = None
        return staff_sessions.staff_for_email(email) if email else None
    return None


def begin(user_id: int) -> None:
    """After a password sign-in: make the session and queue the cookie hand-over for the next run."""
    if active():
        session_id, code = staff_sessions.start(user_id=user_id, client=client_address())
        st.session_state[SESSION_KEY] = session_id
        st.session_state[HANDOFF_KEY] = code
        st.session_state.pop(CLEAR_KEY, None)


def _post(path: str, body: str) -> None:
    # A zero-height component: its iframe shares the app's origin, so the cookie lands on the app.
    components.html(f"<script>fetch({json.dumps(path)}, {{method: 'POST', credentials: 'same-origin', "
                    f"headers: {{'Content-Type': 'application/x-www-form-urlencoded'}}, "
                    f"body: {json.dumps(body)}}});</script>", height=0)


def hand_over() -> None:
    """Render on every run of a signed-in page: posts the one-time code so the route sets the cookie
    (same arguments each run, so the frame is not reloaded)."""
    code = st.session_state.get(HANDOFF_KEY)
    if code:
        _post("/oversight/session", f"code={code}")
    if st.session_state.get(CLEAR_KEY):
        _post("/oversight/sign-out", "")


def end() -> None:
    """Sign-out: revoke the session on the server now; the next run clears the browser's cookie."""
    session_id = st.session_state.get(SESSION_KEY)
    if session_id is not None:
        staff_sessions.end(session_id=session_id)
    try:
        if oidc_ready() and st.user.is_logged_in:
            st.logout()
    except Exception:  # noqa: BLE001 - no [auth] configured
        pass


def after_sign_out() -> None:
    """Call after the session state was cleared: the next run posts to the route that clears the cookie."""
    if active():
        st.session_state[CLEAR_KEY] = True
