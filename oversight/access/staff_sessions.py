"""Staff sign-ins that survive a browser refresh.

Streamlit keeps a sign-in in the tab's session state, which a refresh drops. Here a sign-in also makes
a `StaffSession` row; the browser holds its token in an HttpOnly cookie (set by the `/oversight/session`
route of `serve.py`, so page scripts never see the token), and the database holds only its sha256.
A tab with no sign-in looks the cookie up (a read); sign-out revokes the row on the server.

Every staff sign-in has a row, cookie or not (a bare `streamlit run app.py`, institution sign-in), and every
run of a signed-in staff tab re-reads it (`check`, one read by primary key that also loads the user the run
needs anyway): sign-out in another tab, a new password or `python -m oversight sign-out --name` end the
session of every open tab at its next click.

The page cannot set a cookie itself, so the hand-over takes one step: `start` returns a one-time code
(valid for a minute, stored hashed), the signed-in page posts it to the route, and `redeem` swaps it for
the session token the route puts in the cookie. The code is bound to the browser that signed in: its hash
includes the browser's pre-session nonce (the `BROWSER_COOKIE` that serve.py sets on every page load,
HttpOnly and SameSite=Strict), which the tab's websocket carried to the server and the route's POST carries
again. A code posted from another browser (login CSRF: an attacker's own code auto-posted by a cross-site
page) finds no row.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from urllib.parse import urlsplit

from sqlalchemy import delete
from sqlmodel import select

from oversight.db import session_scope
from oversight.settings import get_settings
from storage.models import StaffSession, User, utcnow

COOKIE = "oversight_staff"
# The pre-session nonce that binds a hand-over code to the browser that signed in (set by serve.py).
BROWSER_COOKIE = "oversight_browser"
HANDOFF_SECONDS = 60
STAFF_ROLES = ("admin", "expert")
# Set by serve.py, whose routes set the cookie; under a bare `streamlit run app.py` sessions stay in the tab.
ROUTES_SERVED = False


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def enabled() -> bool:
    return get_settings().staff_session_hours > 0


# A sign-in kept to its tab (staff_session_hours = 0) still has a server-side row, so that sign-out and a new
# password end it; it lasts this long.
TAB_SESSION_HOURS = 12.0


def lifetime() -> timedelta:
    return timedelta(hours=get_settings().staff_session_hours or TAB_SESSION_HOURS)


def _plausible(value: str | None) -> bool:
    return bool(value) and len(value) <= 128 and "\x00" not in value


def _bound(code: str, browser: str) -> str:
    return _hash(f"{code}:{browser}")


def _origin_of(url: str) -> str | None:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    default = {"http": 80, "https": 443}[parts.scheme]
    try:
        port = parts.port or default
    except ValueError:
        return None
    return f"{parts.scheme}://{parts.hostname.lower()}:{port}"


def origin_allowed(*, origin: str | None, referer: str | None, host: str | None, scheme: str = "http") -> bool:
    """A POST to the session routes comes from the app's own pages: its Origin (or, without one, its Referer)
    is the origin of OVERSIGHT_PUBLIC_URL, or where that is not set, the request's own Host. A request that
    names neither is refused (every browser sends Origin with a POST)."""
    settings = get_settings()
    if "public_url" in settings.model_fields_set:
        expected = _origin_of(settings.public_url)
    else:
        expected = _origin_of(f"{scheme}://{host}") if host else None
    claimed = _origin_of(origin) if origin and origin != "null" else (_origin_of(referer) if referer and not origin
                                                                       else None)
    return expected is not None and claimed == expected


def start(*, user_id: int, client: str | None = None, browser: str | None = None) -> tuple[int, str | None]:
    """A new session for a user who just signed in: (session id, one-time hand-over code). The code is bound
    to `browser` (the browser's pre-session nonce); without one there is no code and the sign-in stays in
    its tab."""
    code = secrets.token_urlsafe(32) if _plausible(browser) else None
    now = utcnow()
    with session_scope() as s:
        # Sessions that ended a month ago are only clutter.
        s.exec(delete(StaffSession).where(StaffSession.expires_at < now - timedelta(days=30)))
        row = StaffSession(user_id=user_id, handoff_hash=_bound(code, browser) if code else None,
                           client=(client or "")[:64], expires_at=now + lifetime(),
                           handoff_expires_at=now + timedelta(seconds=HANDOFF_SECONDS) if code else None)
        s.add(row)
        s.flush()
        return row.id, code


def redeem(code: str, browser: str | None) -> tuple[str, int] | None:
    """Swap a hand-over code (once, within the minute, from the browser it was issued to) for the session
    token; (token, seconds it lives)."""
    if not _plausible(code) or not _plausible(browser):
        return None
    token = secrets.token_urlsafe(32)
    with session_scope() as s:
        row = s.exec(select(StaffSession).where(StaffSession.handoff_hash == _bound(code, browser))
                     .with_for_update()).first()
        now = utcnow()
        if row is None or row.revoked_at is not None or row.handoff_expires_at is None \
                or row.handoff_expires_at < now or row.expires_at <= now:
            return None
        row.handoff_hash, row.handoff_expires_at, row.token_hash = None, None, _hash(token)
        return token, int((row.expires_at - now).total_seconds())


def lookup(token: str | None) -> tuple[int, User] | None:
    """(session id, staff user) for a live session token, else None. A read."""
    if not _plausible(token):
        return None
    with session_scope(write=False) as s:
        row = s.exec(select(StaffSession).where(StaffSession.token_hash == _hash(token))).first()
        if row is None or row.revoked_at is not None or row.expires_at <= utcnow():
            return None
        user = s.get(User, row.user_id)
        if user is None or user.role not in STAFF_ROLES or user.deactivated_at is not None:
            return None
        return row.id, user


def check(session_id: int) -> User | None:
    """The staff user of a live session, else None: what every run of a signed-in staff tab asks. One read
    by primary key, which also loads the user (so the run's later `get_user` finds it in the session)."""
    with session_scope(write=False) as s:
        found = s.exec(select(StaffSession, User).join(User, User.id == StaffSession.user_id)
                       .where(StaffSession.id == session_id)).first()
        if found is None:
            return None
        row, user = found
        if row.revoked_at is not None or row.expires_at <= utcnow() or user.role not in STAFF_ROLES \
                or user.deactivated_at is not None:  # a deactivated account's tabs sign out at their next click
            return None
        return user


def end(*, session_id: int | None = None, token: str | None = None) -> None:
    """Sign-out: the session stops working on the server, whatever the browser still holds."""
    with session_scope() as s:
        query = select(StaffSession)
        if session_id is not None:
            query = query.where(StaffSession.id == session_id)
        elif token:
            query = query.where(StaffSession.token_hash == _hash(token))
        else:
            return
        for row in s.exec(query).all():
            if row.revoked_at is None:
                row.revoked_at = utcnow()
                row.handoff_hash = None


def end_all(*, user_id: int) -> int:
    """Revoke every session of a user (e.g. after a password change); returns how many were live."""
    with session_scope() as s:
        rows = s.exec(select(StaffSession).where(StaffSession.user_id == user_id,
                                                 StaffSession.revoked_at.is_(None))).all()
        for row in rows:
            row.revoked_at, row.handoff_hash = utcnow(), None
        return len(rows)


def staff_for_email(email: str) -> User | None:
    """The admin or expert whose name is this e-mail address (institution sign-in through st.login)."""
    with session_scope(write=False) as s:
        return s.exec(select(User).where(User.name == email.strip(), User.role.in_(STAFF_ROLES),
                                         User.deactivated_at.is_(None))).first()
