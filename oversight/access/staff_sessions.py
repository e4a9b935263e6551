"""Staff sign-ins that survive a browser refresh.

Streamlit keeps a sign-in in the tab's session state, which a refresh drops. Here a sign-in also makes
a `StaffSession` row; the browser holds its token in an HttpOnly cookie (set by the `/oversight/session`
route of `serve.py`, so page scripts never see the token), and the database holds only its sha256.
Every page run looks the cookie up (a read); sign-out revokes the row on the server.

The page cannot set a cookie itself, so the hand-over takes one step: `start` returns a one-time code
(valid for a minute, stored hashed), the signed-in page posts it to the route, and `redeem` swaps it for
the session token the route puts in the cookie.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import delete
from sqlmodel import select

from oversight.db import session_scope
from oversight.settings import get_settings
from storage.models import StaffSession, User, utcnow

COOKIE = "oversight_staff"
HANDOFF_SECONDS = 60
STAFF_ROLES = ("admin", "expert")
# Set by serve.py, whose routes set the cookie; under a bare `streamlit run app.py` sessions stay in the tab.
ROUTES_SERVED = False


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def enabled() -> bool:
    return get_settings().staff_session_hours > 0


def lifetime() -> timedelta:
    return timedelta(hours=get_settings().staff_session_hours)


def start(*, user_id: int, client: str | None = None) -> tuple[int, str]:
    """A new session for a user who just signed in: (session id, one-time hand-over code)."""
    code = secrets.token_urlsafe(32)
    now = utcnow()
    with session_scope() as s:
        # Sessions that ended a month ago are only clutter.
        s.exec(delete(StaffSession).where(StaffSession.expires_at < now - timedelta(days=30)))
        row = StaffSession(user_id=user_id, handoff_hash=_hash(code), client=(client or "")[:64],
                           handoff_expires_at=now + timedelta(seconds=HANDOFF_SECONDS), expires_at=now + lifetime())
        s.add(row)
        s.flush()
        return row.id, code


def redeem(code: str) -> tuple[str, int] | None:
    """Swap a hand-over code (once, within the minute) for the session token; (token, seconds it lives)."""
    if not code or len(code) > 128 or "\x00" in code:
        return None
    token = secrets.token_urlsafe(32)
    with session_scope() as s:
        row = s.exec(select(StaffSession).where(StaffSession.handoff_hash == _hash(code)).with_for_update()).first()
        now = utcnow()
        if row is None or row.revoked_at is not None or row.handoff_expires_at is None \
                or row.handoff_expires_at < now or row.expires_at <= now:
            return None
        row.handoff_hash, row.handoff_expires_at, row.token_hash = None, None, _hash(token)
        return token, int((row.expires_at - now).total_seconds())


def lookup(token: str | None) -> tuple[int, User] | None:
    """(session id, staff user) for a live session token, else None. A read."""
    if not token or len(token) > 128 or "\x00" in token:
        return None
    with session_scope(write=False) as s:
        row = s.exec(select(StaffSession).where(StaffSession.token_hash == _hash(token))).first()
        if row is None or row.revoked_at is not None or row.expires_at <= utcnow():
            return None
        user = s.get(User, row.user_id)
        if user is None or user.role not in STAFF_ROLES:
            return None
        return row.id, user


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
        return s.exec(select(User).where(User.name == email.strip(), User.role.in_(STAFF_ROLES))).first()
