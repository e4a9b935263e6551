"""Sign-in for every role.

Admins and experts: name + password, argon2-hashed, with a growing wait after repeated failures (per
name and address, and per address; enforced by row locks, see `_claim`).
Participants: a personal link carrying an unguessable token. Only the token's sha256 is stored (a
256-bit random token needs no slow hash), so a leaked database does not leak working links.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlencode

from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import col, select

from oversight.access import staff_sessions
from oversight.audit import log_event
from oversight.db import session_scope
from oversight.access.ratelimit import link_misses
from oversight.settings import get_settings
from storage.db import StorageUnavailable
from storage.models import EnrolmentCap, SignInThrottle, Study, User, utcnow

STAFF_ROLES = ("admin", "expert")
MIN_PASSWORD_LENGTH = 8
hasher = PasswordHasher()
# Verified against for unknown names so that a wrong name costs as long as a wrong password.


@functools.cache
def _dummy_hash() -> str:
    """A hash to verify against when the name is unknown. Made once per process, not at import: an argon2 hash
    takes about 0.2 s, which every command paid at start. The server makes it at start (`warm`), so its first
    unknown-name sign-in costs what the others do."""
    return hasher.hash("not-a-real-password")


def warm() -> None:
    _dummy_hash()


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


def check_password(*, name: str, password: str) -> None:
    """The rules every staff password meets, however it is set (command line, Staff page link): long enough, and not
    the person's name (the first thing a guesser tries)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AuthError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if name.strip() and password.strip().casefold() == name.strip().casefold():
        raise AuthError("the password must not be the name")


def create_user(*, role: str, name: str, password: str) -> User:
    """Create an admin or expert. Names are unique among staff."""
    name = name.strip()
    if role not in STAFF_ROLES:
        raise AuthError(f"role must be one of {', '.join(STAFF_ROLES)} (participants join by link)")
    if not name:
        raise AuthError("a name is required")
    check_password(name=name, password=password)
    with session_scope() as s:
        taken = s.exec(select(User).where(User.name == name, User.role.in_(STAFF_ROLES))).first()
        if taken:
            raise AuthError(f"a user named {name!r} already exists")
        user = User(role=role, name=name, password_hash=hasher.hash(password))
        s.add(user)
        s.flush()
        log_event(s, "user.create", user_id=user.id, role=role)
        return user


def set_password(*, name: str, password: str) -> None:
    check_password(name=name, password=password)
    with session_scope() as s:
        user = s.exec(select(User).where(User.name == name, User.role.in_(STAFF_ROLES))).first()
        if user is None:
            raise AuthError(f"no admin or expert named {name!r}")
        user.password_hash = hasher.hash(password)
        user.failed_logins = 0
        log_event(s, "user.password", user_id=user.id)
        user_id = user.id
    # A new password signs the account out everywhere.
    staff_sessions.end_all(user_id=user_id)


def end_staff_sessions(*, name: str) -> int:
    """Sign an admin or expert out on every browser; returns how many sessions were live."""
    with session_scope(write=False) as s:
        user = s.exec(select(User).where(User.name == name, User.role.in_(STAFF_ROLES))).first()
    if user is None:
        raise AuthError(f"no admin or expert named {name!r}")
    return staff_sessions.end_all(user_id=user.id)


DEACTIVATED = "This account has been deactivated: ask an admin if you need it again."
THROTTLED = "Too many attempts: try again in {:.0f} s."
_THROTTLE_MEMORY = timedelta(days=1)


def _key(*parts: str) -> str:
    # Hashed so that a password typed into the name field never lands in the database.
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _throttle_keys(name: str, client: str | None) -> list[tuple[str, int]]:
    """(key, free failures): the name as tried from this address, and the address across all names.

    A name's wait is per address, so someone guessing from elsewhere cannot lock its owner out;
    the address limit stops one client from spraying guesses over many names."""
    cfg = get_settings()
    address = client or ""
    return [(_key("name", name.casefold(), address), cfg.login_free_failures),
            (_key("addr", address), cfg.login_address_free_failures)]


def _claim(keys: list[tuple[str, int]]) -> float:
    """Claim the right to check one password; 0 when granted, else the seconds still to wait.

    The claim counts as a failure up front (a correct password gives it back in `_settle`), inside a
    transaction that holds the throttle rows (SQLite: the write lock from BEGIN IMMEDIATE; PostgreSQL:
    SELECT ... FOR UPDATE), so parallel attempts see each other's claims and cannot all slip through a wait."""
    cap = get_settings().login_max_delay_s
    # Forget rows untouched for a day (guessed names would otherwise pile up): a transaction of its own,
    # holding no other row, so it cannot deadlock with a claim.
    with session_scope() as s:
        s.exec(delete(SignInThrottle).where(SignInThrottle.last_at < utcnow() - _THROTTLE_MEMORY))
    for attempt in range(2):
        try:
            with session_scope() as s:
                now = utcnow()
                rows = []
                for key, free in sorted(keys):  # one lock order everywhere: no deadlocks
                    row = s.exec(select(SignInThrottle).where(SignInThrottle.key == key).with_for_update()).first()
                    if row is None:
                        row = SignInThrottle(key=key, last_at=now)
                        s.add(row)
                        s.flush()
                    rows.append((row, free))
                wait = max(((r.blocked_until - now).total_seconds() for r, _ in rows
                            if r.blocked_until is not None and r.blocked_until > now), default=0.0)
                if wait > 0:
                    return wait
                for row, free in rows:
                    row.failures += 1
                    row.last_at = now
                    extra = row.failures - free
                    row.blocked_until = now + timedelta(seconds=min(2.0**extra, cap)) if extra >= 0 else None
                return 0.0
        except IntegrityError:
            if attempt:  # two first attempts on PostgreSQL inserted the same new row; the retry finds it
                raise
    return 0.0


def _settle(keys: list[tuple[str, int]], *, user_id: int | None, ok: bool, new_hash: str | None = None) -> None:
    """After the password check: a success clears the name's count and gives the address its claim back."""
    with session_scope() as s:
        if ok:
            name_key, addr_key = keys[0][0], keys[1][0]
            for row in s.exec(select(SignInThrottle).where(col(SignInThrottle.key).in_([name_key, addr_key]))
                              .with_for_update()).all():
                if row.key == name_key:
                    row.failures, row.blocked_until = 0, None
                else:
                    row.failures = max(0, row.failures - 1)
                    if row.failures < keys[1][1]:
                        row.blocked_until = None
            user = s.get(User, user_id)
            if new_hash:
                user.password_hash = new_hash
            user.failed_logins = 0
            user.last_seen_at = utcnow()
            log_event(s, "signin.ok", user_id=user_id)
        elif user_id is not None:
            user = s.get(User, user_id)
            user.failed_logins += 1
            user.last_failed_at = utcnow()
            log_event(s, "signin.fail", user_id=user_id, failures=user.failed_logins)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def authenticate(*, name: str, password: str, client: str | None = None) -> User:
    """Return the staff user, or raise AuthError with a message safe to show.

    `client` is the browser's address (the throttle counts per name and address, and per address).
    Unknown names are throttled and answered exactly like known ones. The slow password check runs
    outside any transaction."""
    name = name.strip()
    keys = _throttle_keys(name, client)
    wait = _claim(keys)
    if wait > 0:
        raise AuthError(THROTTLED.format(max(1.0, wait)))
    user = None
    if name and "\x00" not in name and len(name) <= 200:
        with session_scope(write=False) as s:
            user = s.exec(select(User).where(User.name == name, User.role.in_(STAFF_ROLES))).first()
    if user is None or not user.password_hash:
        _verify(_dummy_hash(), password + "x")  # a wrong name costs as long as a wrong password
        _settle(keys, user_id=None, ok=False)
        raise AuthError("wrong name or password")
    if not _verify(user.password_hash, password):
        _settle(keys, user_id=user.id, ok=False)
        raise AuthError("wrong name or password")
    if user.deactivated_at is not None:
        # Said only after the right password: a guesser learns nothing about which names exist.
        _settle(keys, user_id=user.id, ok=False)
        raise AuthError(DEACTIVATED)
    new_hash = hasher.hash(password) if hasher.check_needs_rehash(user.password_hash) else None
    _settle(keys, user_id=user.id, ok=True, new_hash=new_hash)
    return get_user(user.id)


def create_invites(*, study_id: int, count: int, created_by: int | None = None) -> list[Invite]:
    """Make `count` participants for a study, each with a personal link (shown now, never again)."""
    if not 1 <= count <= 10_000:
        raise AuthError("count must be between 1 and 10000")
    invites = []
    with session_scope() as s:
        study = s.get(Study, study_id)
        if study is None:
            raise AuthError(f"no study with id {study_id}")
        if study.status == "archived":
            raise AuthError(f"study #{study_id} is archived: unarchive it to invite people")
        for _ in range(count):
            token = new_token()
            user = User(role="participant", name=f"P-{secrets.token_hex(3)}", study_id=study_id,
                        token_hash=hash_token(token))
            s.add(user)
            s.flush()
            invites.append(Invite(user.id, user.name, participant_link(token)))
        log_event(s, "invite.create", user_id=created_by, study_id=study_id, count=count)
    return invites


LINK_THROTTLED = "Too many links that do not work were tried from here: wait a minute and try again."
# A signed-in participant's last_seen_at is refreshed at most this often (page runs are reads).
_SEEN_EVERY = timedelta(minutes=5)


def link_missed(client: str | None) -> None:
    """A link that does not work: counted against the client address, and refused with a wait once the address
    has missed `link_misses_per_minute` times in the minute. Only misses count and only per address, so a link
    that works always works: someone else's (or one's own) mistyped links never lock out a valid one."""
    keys = [f"addr:{client or ''}"]
    if link_misses.wait_seconds(keys, get_settings().link_misses_per_minute) > 0:
        raise AuthError(LINK_THROTTLED)
    link_misses.miss(keys)


def plausible_token(token: str) -> bool:
    return bool(token) and len(token) <= 128 and "\x00" not in token


def _touch(user: User) -> None:
    """Record that a participant was seen: rarely, and on a background thread, so that a page run never
    waits for the write lock (a long writer elsewhere must not stall every participant's page)."""
    if user.last_seen_at is not None and utcnow() - user.last_seen_at < _SEEN_EVERY:
        return
    with _touch_lock:
        if user.id in _touch_pending:
            return
        _touch_pending.add(user.id)
    _toucher.submit(_write_seen, user.id)


def _write_seen(user_id: int) -> None:
    try:
        with session_scope() as s:
            s.exec(update(User).where(User.id == user_id).values(last_seen_at=utcnow()))
    except (OperationalError, StorageUnavailable):
        pass  # best effort: a busy or read-only database must not stop a participant from reading their task
    except Exception:  # noqa: BLE001 - a background write must never take a thread down
        logging.getLogger(__name__).exception("could not record last_seen_at of user %s", user_id)
    finally:
        with _touch_lock:
            _touch_pending.discard(user_id)


_toucher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="last-seen")
_touch_lock = threading.Lock()
_touch_pending: set[int] = set()


ARCHIVED_LINK = "This study has been archived: its links no longer work. Thank you for your interest."


def participant_for_token(token: str, client: str | None = None) -> User | None:
    """The participant a link belongs to, or None for an unknown or revoked link (a read).

    Raises AuthError for a link that does not work when this client address tried too many of them in the last
    minute (`link_misses_per_minute`), and for the link of a participant whose study is archived
    (oversight.study.lifecycle)."""
    if not token:
        return None
    user, archived = None, False
    if plausible_token(token):
        with session_scope(write=False) as s:
            # The study's status in the same statement: a page run's statement budget counts each one.
            row = s.exec(select(User, Study.status).outerjoin(Study, Study.id == User.study_id)
                         .where(User.token_hash == hash_token(token))).first()
            user, archived = (row[0], row[1] == "archived") if row is not None else (None, False)
    if user is None or user.token_revoked or user.role != "participant":
        link_missed(client)
        return None
    if archived:
        raise AuthError(ARCHIVED_LINK)
    _touch(user)
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
        if study.status == "archived":
            raise AuthError(f"study #{study_id} is archived: unarchive it to open an enrolment link")
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


def set_enrolment_cap(*, study_id: int, max_per_minute: int | None, max_total: int | None,
                      by: int | None = None) -> EnrolmentCap:
    """Limit how many participants the study's shared enrolment link creates (None: no limit)."""
    for label, value in (("participants per minute", max_per_minute), ("participants in total", max_total)):
        if value is not None and value < 0:
            raise AuthError(f"{label} must be 0 or more (leave it empty for no limit)")
    with session_scope() as s:
        if s.get(Study, study_id) is None:
            raise AuthError(f"no study with id {study_id}")
        cap = s.get(EnrolmentCap, study_id) or EnrolmentCap(study_id=study_id)
        cap.max_per_minute, cap.max_total = max_per_minute, max_total
        s.add(cap)
        log_event(s, "enrolment.cap", user_id=by, study_id=study_id, max_per_minute=max_per_minute,
                  max_total=max_total)
        return cap


def enrolment_cap(study_id: int) -> EnrolmentCap:
    with session_scope(write=False) as s:
        return s.get(EnrolmentCap, study_id) or EnrolmentCap(study_id=study_id)


def _enrolled(s, study_id: int, since=None) -> int:
    query = select(func.count()).select_from(User).where(
        User.study_id == study_id, User.role == "participant", col(User.external_id).is_not(None))
    if since is not None:
        query = query.where(User.created_at >= since)
    return s.exec(query).one()


def enrol(*, enrol_token: str, external_id: str, external_study_id: str = "",
          external_session_id: str = "", client: str | None = None) -> User:
    """Create or resume the participant with this platform id in the study the link opens.

    Resuming is a read. Creating one takes the study's row lock, so the enrolment caps hold under
    parallel arrivals; bad enrolment tokens count against the client address."""
    external_id = external_id.strip()
    if not external_id or len(external_id) > 64 or not external_id.replace("-", "").replace("_", "").isalnum():
        raise AuthError("this link needs a valid participant id (PROLIFIC_PID)")
    study = user = None
    if plausible_token(enrol_token):
        with session_scope(write=False) as s:
            study = s.exec(select(Study).where(Study.enrol_token_hash == hash_token(enrol_token))).first()
            if study is not None:
                user = s.exec(select(User).where(User.study_id == study.id, User.role == "participant",
                                                 User.external_id == external_id)).first()
    if study is None:
        link_missed(client)
    if study is not None and study.status == "archived":  # archiving drops the link; this is belt and braces
        raise AuthError(ARCHIVED_LINK)
    if study is not None and study.status == "draft":
        raise AuthError("This study is not open yet. Please come back when the researchers open it.")
    if study is None or study.status != "open":
        raise AuthError("this enrolment link is not valid or the study is closed")
    if user is not None and user.token_revoked:
        raise AuthError("this participation has been withdrawn")
    if user is not None and external_study_id in ("", user.external_study_id) and \
            external_session_id in ("", user.external_session_id):
        _touch(user)
        return user
    with session_scope() as s:
        study = s.exec(select(Study).where(Study.id == study.id).with_for_update()).one()
        user = s.exec(select(User).where(User.study_id == study.id, User.role == "participant",
                                         User.external_id == external_id)).first()
        if user is None:
            cap = s.get(EnrolmentCap, study.id)
            if cap is not None and cap.max_total is not None and _enrolled(s, study.id) >= cap.max_total:
                raise AuthError("this study has all the participants it needs")
            if cap is not None and cap.max_per_minute is not None and \
                    _enrolled(s, study.id, since=utcnow() - timedelta(minutes=1)) >= cap.max_per_minute:
                raise AuthError("many people are joining right now: please try again in a minute")
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
