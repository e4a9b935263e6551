"""Streamlit side of staff sessions (`oversight/access/staff_sessions.py`): restore a sign-in from the cookie,
re-check a signed-in tab's session on every run, hand a new sign-in's cookie to the browser, end it on sign-out.
Used by `app.py` and `views/sign_in.py`.
"""

from __future__ import annotations

import json

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from oversight.access import staff_sessions
from oversight.settings import get_settings
from storage.models import User

SESSION_KEY = "staff_session_id"
HANDOFF_KEY = "staff_session_handoff"
CLEAR_KEY = "staff_session_clear"
ENDED_KEY = "staff_session_ended"
HAND_OVER_TITLE = "sign-in hand-over"  # the hand-over frame's accessible name (tests find it by it)


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


def _cookie(name: str) -> str | None:
    value = st.context.cookies.get(name)
    return value if isinstance(value, str) else None


def session_checked(user_id: int | None) -> bool | None:
    """At the top of every run of a signed-in tab: re-read its staff session on the server (one read, which also
    loads the user). True: live; False: ended (signed out elsewhere, a new password, `sign-out --name`, expired);
    None: this tab has no staff session (nobody signed in, a participant, or a session of someone else)."""
    session_id = st.session_state.get(SESSION_KEY)
    if user_id is None or session_id is None:
        return None
    user = staff_sessions.check(session_id)
    if user is not None and user.id != user_id:
        st.session_state.pop(SESSION_KEY, None)  # a participant's link opened in a staff tab took it over
        return None
    return user is not None


def ended_in_fragment() -> bool:
    """In a staff page's timed fragment: has the tab's session ended? Fragment runs skip app.py and its check, so
    they ask themselves (one read), and only then: a full run's fragment call was checked by app.py already."""
    ctx = get_script_run_ctx()
    session_id = st.session_state.get(SESSION_KEY)
    if session_id is None or ctx is None or not getattr(ctx, "fragment_ids_this_run", None):
        return False
    return staff_sessions.check(session_id) is None


def signed_out_here() -> None:
    """A tab whose staff session ended elsewhere: forget its sign-in. It does not ask the route to clear the cookie:
    the browser may hold a newer sign-in by now (made in another tab), which that would end; an ended session's
    cookie is worth nothing and the next sign-in replaces it."""
    st.session_state.clear()
    st.session_state[ENDED_KEY] = True


def restore(signed_in: bool) -> User | None:
    """At the top of every run: a tab with no sign-in yet picks up a live session from the cookie (or an
    institution sign-in through st.login). Returns the staff user to sign in, if any."""
    if signed_in:
        return None
    if active():
        found = staff_sessions.lookup(_cookie(staff_sessions.COOKIE))
        if found is not None:
            st.session_state[SESSION_KEY] = found[0]
            # The cookie belongs to a live sign-in (say, made in another tab since this one was signed out): the
            # pending clear would end it.
            st.session_state.pop(CLEAR_KEY, None)
            return found[1]
    if oidc_ready():
        try:
            email = st.user.get("email") if st.user.is_logged_in else None
        except Exception:  # noqa: BLE001 - no [auth] configured
            email = None
        user = staff_sessions.staff_for_email(email) if email else None
        if user is not None:
            # A server-side session of the tab's own, so that every run can re-check it like any other.
            st.session_state[SESSION_KEY], _ = staff_sessions.start(user_id=user.id, client=client_address())
        return user
    return None


def begin(user_id: int) -> None:
    """After a password sign-in: make the server-side session (every sign-in has one, so every run can re-check
    it) and, where the routes are served, queue the cookie hand-over for the next run, bound to this browser."""
    browser = _cookie(staff_sessions.BROWSER_COOKIE) if active() else None
    session_id, code = staff_sessions.start(user_id=user_id, client=client_address(), browser=browser)
    st.session_state[SESSION_KEY] = session_id
    st.session_state.pop(CLEAR_KEY, None)
    st.session_state.pop(ENDED_KEY, None)
    if code:
        st.session_state[HANDOFF_KEY] = code


def _post(path: str, body: str) -> None:
    # An iframe of our own HTML (st.iframe, which replaced the deprecated components.v1.html): a srcdoc frame shares
    # the app's origin, so the POST carries the app's Origin and the cookie lands on the app. One pixel high (st.iframe
    # refuses 0, and "content" leaves an empty frame 150 px high). Never text from people in here: only our path and
    # the one-time code.
    st.iframe(f"<html><body style='margin:0'><script>fetch({json.dumps(path)}, {{method: 'POST', "
              f"credentials: 'same-origin', headers: {{'Content-Type': 'application/x-www-form-urlencoded'}}, "
              f"body: {json.dumps(body)}}});</script></body></html>", height=1, alt=HAND_OVER_TITLE)


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
