"""Sign-in for every role.

Admins and experts: name + password, argon2-hashed, with a growing wait after repeated failures.
Participants: a personal link carrying an unguessable token. Only the token's sha256 is stored (a
256-bit random token needs no slow hash), so a leaked database does not leak working links.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import select

from oversight.audit import log_event
from oversight.db import session_scope
from oversight.settings import get_settings
from storage.models import Study, User, utcnow

STAFF_ROLES = ("admin", "expert")
MIN_PASSWORD_LENGTH = 8
_hasher = PasswordHasher()
# Verified against for unknown names so that a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


class AuthError(Exception):
    """A sign-in or account problem, phrased for the person at the keyboard."""


@dataclass(frozen=True)
class Invite:
    user_id: int
    name: str
    link: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def participant_link(token: str) -> str:
    return f"{get_settings().public_url.rstrip('/')}/?{urlencode({'t': token})}"


def create_user(*, role: str, name: str, password: str) -> User:
    """Create an admin or expert. Names are unique among staff."""
    name = name.strip()
    if role not in STAFF_ROLES:
        raise AuthError(f"role must be one of {', '.join(STAFF_ROLES)} (participants join by link)")
    if not name:
        raise AuthError("a name is required")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AuthError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    with session_scope() as s:
        taken = s.exec(select(User).where(User.name == name, User.role.in_(STAFF_ROLES))).first()
        if taken:
            raise AuthError(f"a user named {name!r} already exists")
        user = User(role=role, name=name, password_hash=_hasher.hash(password))
        s.add(user)
        s.flush()
        log_event(s, "user.create", user_id=user.id, role=role)
        return user


def set_password(*, name: str, password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AuthError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    with session_scope() as s:
        user = s.exec(select(User).where(User.name == name, User.role.in_(STAFF_ROLES))).first()
        if user is None:
            raise AuthError(f"no admin or expert named {name!r}")
        user.password_hash = _hasher.hash(password)
        user.failed_logins = 0
        log_event(s, "user.password", user_id=user.id)


def _wait_seconds(user: User) -> float:
    """How long this name must still wait before another try (0 when it may try now)."""
    cfg = get_settings()
    extra = user.failed_logins - cfg.login_free_failures
    if extra < 0 or user.last_failed_at is None:
        return 0.0
    delay = min(2.0**extra, cfg.login_max_delay_s)
    elapsed = (utcnow() - user.last_failed_at).total_seconds()
    return max(0.0, delay - elapsed)


def authenticate(*, name: str, password: str) -> User:
    """Return the staff user, or raise AuthError with a message safe to show."""
    with session_scope() as s:
        user = s.exec(select(User).where(User.name == name.strip(), User.role.in_(STAFF_ROLES))).first()
        if user is None or not user.password_hash:
            try:
                _hasher.verify(_DUMMY_HASH, password + "x")
            except VerificationError:
                pass
            raise AuthError("wrong name or password")
        wait = _wait_seconds(user)
        if wait > 0:
            raise AuthError(f"too many failed attempts: try again in {wait:.0f} s")
        try:
            _hasher.verify(user.password_hash, password)
        except (VerificationError, InvalidHashError):
            user.failed_logins += 1
            user.last_failed_at = utcnow()
            log_event(s, "signin.fail", user_id=user.id, failures=user.failed_logins)
            # Commit the failure count even though we raise: the throttle must survive.
            s.commit()
            raise AuthError("wrong name or password") from None
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = _hasher.hash(password)
        user.failed_logins = 0
        user.last_seen_at = utcnow()
        log_event(s, "signin.ok", user_id=user.id)
        return user


def create_invites(*, study_id: int, count: int, created_by: int | None = None) -> list[Invite]:
    """Make `count` participants for a study, each with a personal link (shown now, never again)."""
    if not 1 <= count <= 10_000:
        raise AuthError("count must be between 1 and 10000")
    invites = []
    with session_scope() as s:
        if s.get(Study, study_id) is None:
            raise AuthError(f"no study with id {study_id}")
        for _ in range(count):
            token = new_token()
            user = User(role="participant", name=f"P-{secrets.token_hex(3)}", study_id=study_id,
                        token_hash=hash_token(token))
            s.add(user)
            s.flush()
            invites.append(Invite(user.id, user.name, participant_link(token)))
        log_event(s, "invite.create", user_id=created_by, study_id=study_id, count=count)
    return invites


def participant_for_token(token: str) -> User | None:
    """The participant a link belongs to, or None for an unknown or revoked link."""
    if not token:
        return None
    with session_scope() as s:
        user = s.exec(select(User).where(User.token_hash == hash_token(token))).first()
        if user is None or user.token_revoked or user.role != "participant":
            return None
        user.last_seen_at = utcnow()
        return user


def revoke_participant(*, user_id: int, by: int | None = None) -> None:
    with session_scope() as s:
        user = s.get(User, user_id)
        if user is None or user.role != "participant":
            raise AuthError(f"no participant with id {user_id}")
        user.token_revoked = True
        log_event(s, "invite.revoke", user_id=by, study_id=user.study_id, participant=user_id)


def reissue_link(*, user_id: int, by: int | None = None) -> str:
    """A new personal link for a participant who lost theirs; the old link stops working."""
    token = new_token()
    with session_scope() as s:
        user = s.get(User, user_id)
        if user is None or user.role != "participant":
            raise AuthError(f"no participant with id {user_id}")
        user.token_hash, user.token_revoked = hash_token(token), False
        log_event(s, "invite.reissue", user_id=by, study_id=user.study_id, participant=user_id)
    return participant_link(token)


def open_enrolment(*, study_id: int, by: int | None = None) -> str:
    """(Re)issue the study's open enrolment link, e.g. for Prolific; an older link stops working."""
    token = new_token()
    with session_scope() as s:
        study = s.get(Study, study_id)
        if study is None:
            raise AuthError(f"no study with id {study_id}")
        study.enrol_token_hash = hash_token(token)
        log_event(s, "enrolment.open", user_id=by, study_id=study_id)
    base = get_settings().public_url.rstrip("/")
    # Prolific substitutes these placeholders with the participant's own ids.
    return (f"{base}/?enrol={token}&PROLIFIC_PID={{{{%PROLIFIC_PID%}}}}"
            f"&STUDY_ID={{{{%STUDY_ID%}}}}&SESSION_ID={{{{%SESSION_ID%}}}}")


def close_enrolment(*, study_id: int, by: int | None = None) -> None:
    with session_scope() as s:
        study = s.get(Study, study_id)
        if study is not None:
            study.enrol_token_hash = None
            log_event(s, "enrolment.close", user_id=by, study_id=study_id)


def enrol(*, enrol_token: str, external_id: str, external_study_id: str = "",
          external_session_id: str = "") -> User:
    """Create or resume the participant with this platform id in the study the link opens."""
    external_id = external_id.strip()
    if not external_id or len(external_id) > 64 or not external_id.replace("-", "").replace("_", "").isalnum():
        raise AuthError("this link needs a valid participant id (PROLIFIC_PID)")
    with session_scope() as s:
        study = s.exec(select(Study).where(Study.enrol_token_hash == hash_token(enrol_token))).first()
        if study is None or study.status != "open":
            raise AuthError("this enrolment link is not valid or the study is closed")
        user = s.exec(select(User).where(User.study_id == study.id, User.role == "participant",
                                         User.external_id == external_id)).first()
        if user is not None and user.token_revoked:
            raise AuthError("this participation has been withdrawn")
        if user is None:
            user = User(role="participant", name=f"P-{secrets.token_hex(3)}", study_id=study.id,
                        external_id=external_id)
            s.add(user)
            s.flush()
            log_event(s, "enrolment.join", user_id=user.id, study_id=study.id)
        user.external_study_id = external_study_id or user.external_study_id
        user.external_session_id = external_session_id or user.external_session_id
        user.last_seen_at = utcnow()
        return user


def get_user(user_id: int) -> User | None:
    with session_scope(write=False) as s:
        return s.get(User, user_id)
