"""People's places (slots) in a study's design, stored in `DesignPlace`: given on a person's first deal, in arrival
order, per study; participants and experts have separate sequences. The rules (which slot a new arrival takes,
what a slot deals) are pure, in oversight.sandwiching.dealing; this module reads who holds what and writes the new place.

A holder vacates their slot when they withdrew (`User.token_revoked`), are excluded by the attention checks, or
left: dealt, not finished, and not seen for `design_slot_timeout_minutes` (their last page visit or, when later,
their tasks' latest activity). Only a slot's newest taker can vacate it: once someone took a slot over, the
earlier holder's leaving frees nothing. Preview participants (`User.preview_by`) are dealt as the next arrival
would be, but never hold a slot.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, func
from sqlmodel import Session, select

from oversight.study.attention import excluded_participants
from oversight.audit import log_event
from oversight.sandwiching.dealing import choose_slot
from oversight.settings import get_settings
from storage.models import Assignment, DesignPlace, User, utcnow

FINISHED = ("done", "skipped")


def _aware(t: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes for timezone-aware columns; they are UTC.
    return t.replace(tzinfo=utcnow().tzinfo) if t is not None and t.tzinfo is None else t


def places(s: Session, study_id: int, role: str) -> list[DesignPlace]:
    """Everyone who has taken a slot of the study's `role` sequence, oldest first."""
    return list(s.exec(select(DesignPlace).where(DesignPlace.study_id == study_id, DesignPlace.role == role)
                       .order_by(DesignPlace.id)).all())


def _adopt_earlier_deals(s: Session, study_id: int, role: str) -> None:
    """People dealt before places were stored keep the place they were dealt by then: their rank by id among the
    study's participants (experts: among all experts). Runs once per study in practice (then nobody is left)."""
    placed = select(DesignPlace.user_id).where(DesignPlace.study_id == study_id)
    dealt = select(Assignment.participant_id).where(Assignment.study_id == study_id)
    earlier = s.exec(select(User).where(User.id.in_(dealt), User.id.notin_(placed), User.role == role,
                                        User.preview_by == None).order_by(User.id)).all()  # noqa: E711
    for user in earlier:
        among = (User.role == "expert",) if role == "expert" else (User.role == "participant",
                                                                  User.study_id == study_id)
        rank = s.exec(select(func.count()).select_from(User).where(*among, User.id < user.id)).one()
        s.add(DesignPlace(study_id=study_id, user_id=user.id, role=role, slot=rank))
    if earlier:
        s.flush()


def vacated(s: Session, study_id: int, holders: list[int], now: datetime | None = None) -> set[int]:
    """Of `holders` (user ids holding slots of the study), those who vacated theirs."""
    if not holders:
        return set()
    now = _aware(now or utcnow())
    cutoff = now - timedelta(minutes=get_settings().design_slot_timeout_minutes)
    users = {u.id: u for u in s.exec(select(User).where(User.id.in_(holders))).all()}
    out = {uid for uid, u in users.items() if u.token_revoked}
    out |= set(holders) & excluded_participants(s, study_id)
    finished = func.sum(case((Assignment.state.in_(FINISHED), 1), else_=0))
    rows = s.exec(select(Assignment.participant_id, func.count(), finished, func.max(Assignment.created_at),
                         func.max(Assignment.started_at), func.max(Assignment.completed_at))
                  .where(Assignment.study_id == study_id, Assignment.participant_id.in_(holders))
                  .group_by(Assignment.participant_id)).all()
    for uid, total, n_finished, *times in rows:
        if int(n_finished or 0) >= total or uid in out:
            continue
        seen = [_aware(t) for t in (users[uid].last_seen_at, *times) if t is not None]
        if max(seen, default=now) < cutoff:
            out.add(uid)
    return out


def _next_slot(s: Session, study_id: int, role: str) -> int:
    taken = places(s, study_id, role)
    newest = {p.slot: p.user_id for p in taken}  # the newest taker of each slot (oldest first, so the last wins)
    gone = vacated(s, study_id, list(newest.values()))
    return choose_slot([(p.slot, p.user_id in gone) for p in taken])


def take_place(s: Session, user: User, study_id: int) -> int:
    """The person's slot in the study: theirs if they hold one, else the one a new arrival takes now (stored,
    unless they are a preview participant). Call it in the dealing transaction, with the study row locked on
    PostgreSQL, so two arrivals at once cannot take the same slot (SQLite serialises writers)."""
    mine = s.exec(select(DesignPlace).where(DesignPlace.study_id == study_id,
                                            DesignPlace.user_id == user.id)).first()
    if mine is not None:
        return mine.slot
    _adopt_earlier_deals(s, study_id, user.role)
    slot = _next_slot(s, study_id, user.role)
    if user.preview_by is None:
        s.add(DesignPlace(study_id=study_id, user_id=user.id, role=user.role, slot=slot))
        s.flush()
        log_event(s, "design.place", user_id=user.id, study_id=study_id, role=user.role, slot=slot)
    return slot
