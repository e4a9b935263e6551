"""Managing admins and experts without the command line: one-time staff links, deactivation, the staff list.

A staff link is an invite (an admin names a new admin or expert; the invitee opens the link, sets their own
password, and the account exists from then on) or a password reset for an existing account (the same link, for a
person who is there already). Like participant links, only the token's sha256 is stored and the link is shown
once. A link works once, for `LINK_DAYS`, and an admin can revoke it; a newer link for the same name replaces an
older unused one. Links that do not work count against the client address like participant links do
(`auth.link_missed`), so the `?invite=` path cannot be used to guess tokens.

Deactivating an account ends its sessions and stops it from signing in (`auth.authenticate`,
`staff_sessions.check`); reactivating lets it sign in again with its password. An admin cannot deactivate
themselves, and the last active admin cannot be deactivated (nobody could manage staff any more).

The Staff page (views/staff.py) and the `staff ...` commands (oversight/cli/access.py) call these functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from sqlalchemy import func
from sqlmodel import col, select

from oversight.access import staff_sessions
from oversight.access.auth import (STAFF_ROLES, AuthError, hasher, link_missed, plausible_token, check_password,
                                   hash_token, new_token)
from oversight.audit import log_event
from oversight.db import session_scope
from oversight.settings import get_settings
from storage.models import StaffLink, StaffSession, User, utcnow

LINK_DAYS = 7
INVITE_PARAM = "invite"
LINK_BROKEN = ("This sign-up link does not work: it may have expired, been used already, or been withdrawn. "
               "Ask the admin who sent it for a new link.")
MAX_NAME = 200


@dataclass(frozen=True)
class IssuedLink:
    """A link as shown once to the admin who made it (the token itself is never stored)."""

    link_id: int
    purpose: str
    name: str
    role: str
    link: str
    expires_at: datetime


@dataclass(frozen=True)
class OpenLink:
    """What the sign-up page needs to know about a working link."""

    purpose: str
    name: str
    role: str
    expires_at: datetime


@dataclass(frozen=True)
class StaffRow:
    id: int
    name: str
    role: str
    active: bool
    last_sign_in: datetime | None
    live_sessions: int
    created_at: datetime


def staff_link(token: str) -> str:
    return f"{get_settings().public_url.rstrip('/')}/?{urlencode({INVITE_PARAM: token})}"


def _staff(s, name: str) -> User | None:
    return s.exec(select(User).where(User.name == name, col(User.role).in_(STAFF_ROLES))).first()


def _known(s, name: str) -> User:
    user = _staff(s, name.strip())
    if user is None:
        raise AuthError(f"no admin or expert named {name!r}")
    return user


def _issue(s, *, purpose: str, name: str, role: str, user_id: int | None, by: int | None) -> IssuedLink:
    now = utcnow()
    # One working link per name and purpose: a new one replaces the one that may have been lost or leaked.
    for old in s.exec(select(StaffLink).where(StaffLink.name == name, StaffLink.purpose == purpose,
                                              col(StaffLink.used_at).is_(None),
                                              col(StaffLink.revoked_at).is_(None))).all():
        old.revoked_at = now
    token = new_token()
    row = StaffLink(purpose=purpose, token_hash=hash_token(token), name=name, role=role, user_id=user_id,
                    created_by=by, expires_at=now + timedelta(days=LINK_DAYS))
    s.add(row)
    s.flush()
    log_event(s, f"staff.{purpose}", user_id=by, link=row.id, name=name, role=role)
    return IssuedLink(row.id, purpose, name, role, staff_link(token), row.expires_at)


def invite(*, name: str, role: str, by: int | None = None) -> IssuedLink:
    """A sign-up link for a new admin or expert called `name`; the account is made when they set a password."""
    name = name.strip()
    if role not in STAFF_ROLES:
        raise AuthError(f"role must be one of {', '.join(STAFF_ROLES)} (participants join by study links)")
    if not name:
        raise AuthError("a name is required")
    if len(name) > MAX_NAME or "\x00" in name:
        raise AuthError(f"a name has at most {MAX_NAME} characters")
    with session_scope() as s:
        if _staff(s, name) is not None:
            raise AuthError(f"an admin or expert named {name!r} already exists (send them a password reset link "
                            "instead)")
        return _issue(s, purpose="invite", name=name, role=role, user_id=None, by=by)


def reset_link(*, name: str, by: int | None = None) -> IssuedLink:
    """A one-time link with which an existing admin or expert sets a new password (their sessions end then)."""
    with session_scope() as s:
        user = _known(s, name)
        if user.deactivated_at is not None:
            raise AuthError(f"{user.name!r} is deactivated: reactivate the account first")
        return _issue(s, purpose="reset", name=user.name, role=user.role, user_id=user.id, by=by)


def _working(s, token: str) -> StaffLink | None:
    if not plausible_token(token):
        return None
    row = s.exec(select(StaffLink).where(StaffLink.token_hash == hash_token(token))).first()
    if row is None or row.used_at is not None or row.revoked_at is not None or row.expires_at <= utcnow():
        return None
    return row


def open_link(token: str, client: str | None = None) -> OpenLink | None:
    """The link behind `?invite=TOKEN` if it works (a read), else None. A link that does not work counts as a miss
    against the client address; raises AuthError once that address missed too often in the minute."""
    with session_scope(write=False) as s:
        row = _working(s, token)
        found = OpenLink(row.purpose, row.name, row.role, row.expires_at) if row is not None else None
    if found is None:
        link_missed(client)
    return found


def use_link(*, token: str, password: str, repeated: str, client: str | None = None) -> User:
    """Set the password through a link, once: an invite creates the account, a reset replaces the password and ends
    the person's sessions. Returns the user to sign in."""
    if password != repeated:
        raise AuthError("the two passwords differ")
    with session_scope(write=False) as s:
        row = _working(s, token)
        name = row.name if row is not None else ""
    if row is None:
        link_missed(client)
        raise AuthError(LINK_BROKEN)
    check_password(name=name, password=password)
    password_hash = hasher.hash(password)  # slow: outside the transaction
    with session_scope() as s:
        # Re-read under the write lock: two tabs submitting the same link cannot both use it.
        row = s.exec(select(StaffLink).where(StaffLink.token_hash == hash_token(token)).with_for_update()).first()
        now = utcnow()
        if row is None or row.used_at is not None or row.revoked_at is not None or row.expires_at <= now:
            raise AuthError(LINK_BROKEN)
        if row.purpose == "invite":
            if _staff(s, row.name) is not None:
                raise AuthError(f"an account named {row.name!r} exists already: sign in, or ask an admin for a "
                                "password reset link")
            user = User(role=row.role, name=row.name, password_hash=password_hash, last_seen_at=now)
            s.add(user)
            s.flush()
            row.user_id = user.id
            log_event(s, "user.create", user_id=user.id, role=row.role, by_link=row.id)
        else:
            user = s.get(User, row.user_id)
            if user is None or user.deactivated_at is not None:
                raise AuthError(LINK_BROKEN)
            user.password_hash, user.failed_logins, user.last_seen_at = password_hash, 0, now
            log_event(s, "user.password", user_id=user.id, by_link=row.id)
        row.used_at = now
        user_id = user.id
    if row.purpose == "reset":
        staff_sessions.end_all(user_id=user_id)  # a new password signs the account out everywhere
    with session_scope(write=False) as s:
        return s.get(User, user_id)


def revoke_link(*, link_id: int, by: int | None = None) -> None:
    with session_scope() as s:
        row = s.get(StaffLink, link_id)
        if row is None:
            raise AuthError(f"no staff link with id {link_id}")
        if row.used_at is not None or row.revoked_at is not None:
            raise AuthError("that link was used or withdrawn already")
        row.revoked_at = utcnow()
        log_event(s, "staff.link_revoke", user_id=by, link=link_id, name=row.name)


def pending_links() -> list[dict]:
    """Links not used, withdrawn or expired, newest first (no tokens: those were shown once)."""
    with session_scope(write=False) as s:
        rows = s.exec(select(StaffLink, User.name).join(User, User.id == StaffLink.created_by, isouter=True)
                      .where(col(StaffLink.used_at).is_(None), col(StaffLink.revoked_at).is_(None),
                             StaffLink.expires_at > utcnow())
                      .order_by(col(StaffLink.id).desc())).all()
        return [{"id": r.id, "for": r.name, "role": r.role, "purpose": r.purpose, "made by": by or "",
                 "made": r.created_at, "expires": r.expires_at} for r, by in rows]


def set_active(*, name: str, active: bool, by: int | None = None) -> int:
    """Deactivate (sessions end, no sign-in) or reactivate an admin or expert; returns the sessions ended."""
    with session_scope() as s:
        user = _known(s, name)
        if active == (user.deactivated_at is None):
            raise AuthError(f"{user.name!r} is {'active' if active else 'deactivated'} already")
        if not active:
            if by is not None and user.id == by:
                raise AuthError("you cannot deactivate your own account")
            if user.role == "admin":
                others = s.exec(select(func.count()).select_from(User).where(
                    User.role == "admin", col(User.deactivated_at).is_(None), User.id != user.id)).one()
                if not others:
                    raise AuthError("the last active admin cannot be deactivated")
            user.deactivated_at = utcnow()
            # Reset links of a deactivated account stop working.
            for row in s.exec(select(StaffLink).where(StaffLink.user_id == user.id, col(StaffLink.used_at).is_(None),
                                                      col(StaffLink.revoked_at).is_(None))).all():
                row.revoked_at = utcnow()
        else:
            user.deactivated_at = None
        log_event(s, "user.deactivate" if not active else "user.reactivate", user_id=by, target=user.id)
        user_id = user.id
    return staff_sessions.end_all(user_id=user_id) if not active else 0


def sign_out_everywhere(*, name: str, by: int | None = None) -> int:
    """End every session of an admin or expert (audited); returns how many were live."""
    with session_scope(write=False) as s:
        user = _known(s, name)
    ended = staff_sessions.end_all(user_id=user.id)
    with session_scope() as s:
        log_event(s, "user.sign_out_everywhere", user_id=by, target=user.id, sessions=ended)
    return ended


def staff_list() -> list[StaffRow]:
    """Every admin and expert: role, active, last sign-in, live sessions."""
    now = utcnow()
    with session_scope(write=False) as s:
        users = s.exec(select(User).where(col(User.role).in_(STAFF_ROLES)).order_by(User.role, User.name)).all()
        live = dict(s.exec(select(StaffSession.user_id, func.count()).where(
            col(StaffSession.revoked_at).is_(None), StaffSession.expires_at > now).group_by(StaffSession.user_id)).all())
        started = dict(s.exec(select(StaffSession.user_id, func.max(StaffSession.created_at))
                              .group_by(StaffSession.user_id)).all())
        rows = []
        for u in users:
            last = max((t for t in (started.get(u.id), u.last_seen_at) if t is not None), default=None)
            rows.append(StaffRow(u.id, u.name, u.role, u.deactivated_at is None, last, live.get(u.id, 0),
                                 u.created_at))
        return rows
