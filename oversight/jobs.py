"""Long work (AI batch runs, AI judging) as jobs: a Job row that pages can poll for progress, run on a
background thread of this process. A restart ends such threads; `recover_interrupted` marks their rows
failed at start-up, so no job claims to be running when nothing runs it."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlmodel import select

from oversight.db import session_scope
from storage.models import Job, utcnow

log = logging.getLogger(__name__)
Progress = Callable[[int, int, str], None]
MIN_WRITE_INTERVAL_S = 0.5  # progress is written at most this often: a job must not hammer the database


def start_job(*, kind: str, fn: Callable[[Progress], dict[str, Any]], params: dict | None = None,
              study_id: int | None = None, user_id: int | None = None) -> int:
    with session_scope() as s:
        job = Job(kind=kind, params=params or {}, study_id=study_id, created_by=user_id)
        s.add(job)
        s.flush()
        job_id = job.id
    threading.Thread(target=_run, args=(job_id, fn), name=f"job-{job_id}", daemon=True).start()
    return job_id


def _update(job_id: int, **fields: Any) -> None:
    with session_scope() as s:
        job = s.get(Job, job_id)
        for k, v in fields.items():
            setattr(job, k, v)


def _run(job_id: int, fn: Callable[[Progress], dict[str, Any]]) -> None:
    _update(job_id, state="running", started_at=utcnow())
    last = 0.0

    def progress(done: int, total: int, message: str) -> None:
        nonlocal last
        now = time.monotonic()
        if done == total or now - last >= MIN_WRITE_INTERVAL_S:
            last = now
            _update(job_id, progress=done / total if total else 1.0, message=f"{done}/{total} {message}")

    try:
        result = fn(progress)
    except Exception as exc:  # noqa: BLE001 - the error is the job's result
        log.exception("job %s failed", job_id)
        _update(job_id, state="failed", error=str(exc), finished_at=utcnow())
        return
    _update(job_id, state="done", progress=1.0, result=result, finished_at=utcnow())


def get_job(job_id: int) -> Job | None:
    with session_scope(write=False) as s:
        return s.get(Job, job_id)


def list_jobs(*, study_id: int, limit: int = 20) -> list[Job]:
    with session_scope(write=False) as s:
        return list(s.exec(select(Job).where(Job.study_id == study_id).order_by(Job.id.desc()).limit(limit)).all())


def recover_interrupted() -> int:
    """Mark jobs left queued or running by a previous process as failed; returns how many."""
    with session_scope() as s:
        stale = s.exec(select(Job).where(Job.state.in_(("queued", "running")))).all()
        for job in stale:
            job.state, job.error, job.finished_at = "failed", "interrupted by a server restart", utcnow()
        return len(stale)
