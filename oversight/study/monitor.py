"""What the admin watches during a live session: who is active and on which task, who dropped out, attention
flags and status (oversight/study/attention.py), answers per minute, jobs and model errors. Reads only; the Monitor page refreshes it every few seconds.

A participant's last activity is the latest of: their last page visit (`User.last_seen_at`, written at most every
few minutes), the start of their latest task and their latest answer. Someone who started but has done nothing for
`active_window` is counted as dropped out (they may still come back: the status changes when they do).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import select

from oversight.db import session_scope
from oversight.vocab import SIMULATED
from oversight.study.attention import describe_status, describe_thresholds, override_authors, study_attention
from storage.models import Assignment, Event, Job, Judgment, Study, User, utcnow

ACTIVE_WINDOW = timedelta(minutes=15)
RATE_MINUTES = 30  # answers per minute over this many recent minutes


@dataclass(frozen=True)
class PersonStatus:
    user_id: int
    name: str
    prolific_id: str | None
    status: str  # active | finished | dropped out | not started | withdrawn
    task: str  # "3 of 8" for the task they are on, "" otherwise
    on_task_s: float | None  # how long they have been on their current task
    idle_s: float | None  # since their last activity
    done: int
    total: int
    simulated: bool
    flags: int = 0  # attention-check flags (oversight/study/attention.py)
    attention: str = "ok"  # ok | warn | excluded, after the admin's override
    preview: bool = False  # a staff member's preview participant (oversight/study/launch.py): no result, never paid
    override: str | None = None  # the admin's decision (include | exclude), if any
    override_by: str | None = None  # who made it (the audit log)

    @property
    def attention_shown(self) -> str:
        """"warn", or "included by alice" where an admin decided (attention.describe_status)."""
        return describe_status(self.attention, self.override, self.override_by)


@dataclass
class Snapshot:
    at: datetime
    people: list[PersonStatus] = field(default_factory=list)
    answers_per_minute: list[tuple[datetime, int]] = field(default_factory=list)  # oldest first
    jobs: list[dict] = field(default_factory=list)
    model_errors: list[dict] = field(default_factory=list)
    thresholds: str = ""  # the study's attention thresholds in words

    def count(self, status: str) -> int:
        return sum(p.status == status for p in self.people)

    @property
    def answers_last_10_min(self) -> int:
        return sum(n for _, n in self.answers_per_minute[-10:])


def _aware(t: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes for timezone-aware columns; they are UTC.
    return t.replace(tzinfo=utcnow().tzinfo) if t is not None and t.tzinfo is None else t


def _status(user: User, tasks: list[Assignment], last: datetime | None, now: datetime,
            window: timedelta) -> str:
    if user.token_revoked:
        return "withdrawn"
    if tasks and all(a.state in ("done", "skipped") for a in tasks):
        return "finished"
    started = any(a.state != "pending" for a in tasks)
    if not started and user.last_seen_at is None:
        return "not started"
    return "active" if last is not None and now - last <= window else "dropped out"


def snapshot(*, study_id: int, now: datetime | None = None, active_window: timedelta = ACTIVE_WINDOW) -> Snapshot:
    now = now or utcnow()
    snap = Snapshot(now)
    with session_scope(write=False) as s:
        users = s.exec(select(User).where(User.study_id == study_id, User.role == "participant")
                       .order_by(User.id)).all()
        tasks: dict[int, list[Assignment]] = {}
        for a in s.exec(select(Assignment).where(Assignment.study_id == study_id)).all():
            tasks.setdefault(a.participant_id, []).append(a)
        answered = dict(s.exec(select(Judgment.judge_id, func.max(Judgment.created_at))
                               .join(Assignment, Assignment.id == Judgment.assignment_id)
                               .where(Assignment.study_id == study_id).group_by(Judgment.judge_id)).all())
        since = now - timedelta(minutes=RATE_MINUTES)
        finals = s.exec(select(Judgment.created_at).join(Assignment, Assignment.id == Judgment.assignment_id)
                        .where(Assignment.study_id == study_id, Judgment.is_final, Judgment.judge_kind == "human",
                               Judgment.created_at >= since)).all()
        jobs = s.exec(select(Job).where(Job.study_id == study_id).order_by(Job.id.desc()).limit(10)).all()
        errors = s.exec(select(Event).where(Event.study_id == study_id, Event.kind == "model.error")
                        .order_by(Event.id.desc()).limit(20)).all()
        study = s.get(Study, study_id)
        checks = {a.user_id: a for a in study_attention(s, study)} if study else {}
        snap.thresholds = describe_thresholds(study) if study else ""
        authors = override_authors(s, study_id) if any(u.attention_override for u in users) else {}
    for user in users:
        mine = sorted(tasks.get(user.id, []), key=lambda a: a.position)
        times = [_aware(t) for t in (user.last_seen_at, answered.get(user.id),
                                     *(a.started_at for a in mine)) if t is not None]
        last = max(times, default=None)
        status = _status(user, mine, last, now, active_window)
        current = next((a for a in mine if a.state == "active"), None)
        on_task = (now - _aware(current.started_at)).total_seconds() if current and current.started_at else None
        snap.people.append(PersonStatus(
            user.id, user.name, user.external_id, status,
            f"{current.position + 1} of {len(mine)}" if current and status == "active" else "",
            on_task if status == "active" else None, (now - last).total_seconds() if last else None,
            sum(a.state == "done" for a in mine), len(mine), user.external_study_id == SIMULATED,
            checks[user.id].flags if user.id in checks else 0,
            checks[user.id].status if user.id in checks else "ok", user.preview_by is not None,
            user.attention_override, authors.get(user.id)))
    per_minute = Counter(_aware(t).replace(second=0, microsecond=0) for t in finals)
    first = (now - timedelta(minutes=RATE_MINUTES - 1)).replace(second=0, microsecond=0)
    snap.answers_per_minute = [(first + timedelta(minutes=k), per_minute.get(first + timedelta(minutes=k), 0))
                               for k in range(RATE_MINUTES)]
    snap.jobs = [{"job": j.id, "kind": j.kind, "state": j.state, "progress": round(j.progress, 2),
                  "message": j.message, "error": j.error or ""} for j in jobs]
    snap.model_errors = [{"at": e.at, "transcript": e.detail.get("transcript"), "role": e.detail.get("role"),
                          "error": e.detail.get("error", "")} for e in errors]
    return snap


def record_model_error(*, transcript_id: int, role: str, error: str) -> None:
    """Put a failed model turn in the audit log, where the Monitor page (in any process) finds it."""
    from oversight.audit import log_event
    from storage.models import Transcript

    try:
        with session_scope() as s:
            t = s.get(Transcript, transcript_id)
            log_event(s, "model.error", study_id=t.study_id if t else None, transcript=transcript_id, role=role,
                      error=error[:500])
    except Exception:  # noqa: BLE001 - recording a failure must never become a second failure
        pass
