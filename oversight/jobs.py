"""Long work (AI batch runs, AI judging, training, simulations) as jobs run by workers.

Pages and the CLI only enqueue: a Job row with a kind and JSON params. Workers claim queued jobs from the
database and run the kind's handler: `python -m oversight worker` processes, and by default one worker thread
inside each app process (`Settings.embedded_worker`), so the embedded install needs nothing more. Claims take
`FOR UPDATE SKIP LOCKED` on PostgreSQL, so any number of workers on any number of machines run each job once;
on SQLite the write lock serialises claims.

A running job beats a heartbeat. When a worker dies, its job's heartbeat goes stale: the next claim requeues it
if its kind can safely run again (the handler skips what is already stored and resumes what it left open, e.g.
a batch run's open transcript) and it has attempts left, and fails it otherwise ("its worker stopped").
Cancelling a queued job is immediate; a running one stops at its next progress report. Progress, result and
error live in the Job row, where pages poll them.
"""

from __future__ import annotations

import importlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, or_
from sqlmodel import select

from oversight.db import session_scope
from storage.models import Job, utcnow

log = logging.getLogger(__name__)
Progress = Callable[[int, int, str], None]
MIN_WRITE_INTERVAL_S = 0.5  # progress is written at most this often: a job must not hammer the database
HEARTBEAT_S = 5.0
STALE_AFTER = timedelta(seconds=60)  # a running job whose heartbeat is older than this lost its worker
MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class JobContext:
    job_id: int
    params: dict[str, Any]
    study_id: int | None
    user_id: int | None
    progress: Progress


# kind -> "module:function" taking a JobContext and returning the result dict; `retry`: whether a job whose
# worker died may run again (its handler skips what an earlier attempt stored).
HANDLERS: dict[str, str] = {
    "batch": "oversight.protocols.batch:batch_job",
    "ai-judge": "oversight.protocols.ai_judge:ai_judge_job",
    "rlaif-label": "oversight.rlaif.jobs:label_job",
    "rlaif-reward-model": "oversight.rlaif.jobs:reward_model_job",
    "rlaif-improve": "oversight.rlaif.jobs:improve_job",
    "w2s-run": "oversight.w2s.experiments:run_job",
    "simulate": "oversight.sandwiching.simulate:simulate_job",  # a dry run (its copy is made inside the job)
    "crossplay": "oversight.protocols.crossplay:crossplay_job",  # debater ratings (in a copy, made inside the job)
}
RETRYABLE = {"batch", "ai-judge", "rlaif-label"}


class JobError(Exception):
    """A job that cannot be enqueued or cancelled; the message is safe to show."""


class Cancelled(Exception):
    """Raised inside a handler at its next progress report once the job is cancelled."""


def enqueue(*, kind: str, params: dict | None = None, study_id: int | None = None,
            user_id: int | None = None) -> int:
    if kind not in HANDLERS:
        raise JobError(f"unknown job kind {kind!r}")
    with session_scope() as s:
        job = Job(kind=kind, params=params or {}, study_id=study_id, created_by=user_id)
        s.add(job)
        s.flush()
        return job.id


def cancel(*, job_id: int) -> str:
    """Cancel a job: at once while queued, at its next progress report while running. Returns its state."""
    with session_scope() as s:
        job = s.exec(select(Job).where(Job.id == job_id).with_for_update()).first()
        if job is None:
            raise JobError(f"no job with id {job_id}")
        if job.state == "queued":
            job.state, job.finished_at, job.error = "cancelled", utcnow(), "cancelled before it started"
        elif job.state == "running":
            job.cancel_requested = True
        return job.state


def _requeue_stale(s) -> None:
    stale = s.exec(select(Job).where(Job.state == "running", Job.heartbeat_at < utcnow() - STALE_AFTER)
                   .with_for_update(skip_locked=True)).all()
    for job in stale:
        if job.kind in RETRYABLE and job.attempts < MAX_ATTEMPTS and not job.cancel_requested:
            job.state, job.worker, job.message = "queued", None, f"requeued: worker {job.worker} stopped"
        else:
            job.state, job.finished_at = "failed", utcnow()
            job.error = f"its worker ({job.worker}) stopped; start it again"


def _anything_to_claim() -> bool:
    """A read first: an idle worker polls often, and on SQLite a write transaction takes the database's one write
    lock, which participants' answers must not wait behind."""
    with session_scope(write=False) as s:
        return s.exec(select(Job.id).where(or_(Job.state == "queued", and_(
            Job.state == "running", Job.heartbeat_at < utcnow() - STALE_AFTER))).limit(1)).first() is not None


def claim(worker: str) -> JobContext | None:
    """Take the oldest queued job (requeuing any whose worker died first); None when there is none."""
    if not _anything_to_claim():
        return None
    with session_scope() as s:
        _requeue_stale(s)
        job = s.exec(select(Job).where(Job.state == "queued").order_by(Job.id).limit(1)
                     .with_for_update(skip_locked=True)).first()
        if job is None:
            return None
        now = utcnow()
        job.state, job.worker, job.attempts = "running", worker, job.attempts + 1
        job.started_at, job.heartbeat_at = job.started_at or now, now
        return JobContext(job.id, dict(job.params), job.study_id, job.created_by, lambda *_: None)


def _update(job_id: int, **fields: Any) -> bool:
    """Write fields; True when the job was cancelled meanwhile."""
    with session_scope() as s:
        job = s.get(Job, job_id)
        for k, v in fields.items():
            setattr(job, k, v)
        return job.cancel_requested


def _handler(kind: str) -> Callable[[JobContext], dict[str, Any]]:
    module, _, name = HANDLERS[kind].partition(":")
    return getattr(importlib.import_module(module), name)


def run(ctx: JobContext, kind: str) -> None:
    """Run a claimed job to its end: done with its result, failed with its error, or cancelled."""
    last = 0.0
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(HEARTBEAT_S):
            _update(ctx.job_id, heartbeat_at=utcnow())

    def progress(done: int, total: int, message: str) -> None:
        nonlocal last
        now = time.monotonic()
        if done == total or now - last >= MIN_WRITE_INTERVAL_S:
            last = now
            if _update(ctx.job_id, progress=done / total if total else 1.0, message=f"{done}/{total} {message}",
                       heartbeat_at=utcnow()):
                raise Cancelled()

    beater = threading.Thread(target=beat, name=f"heartbeat-{ctx.job_id}", daemon=True)
    beater.start()
    try:
        result = _handler(kind)(JobContext(ctx.job_id, ctx.params, ctx.study_id, ctx.user_id, progress))
    except Cancelled:
        _update(ctx.job_id, state="cancelled", error="cancelled while running", finished_at=utcnow())
    except Exception as exc:  # noqa: BLE001 - the error is the job's result
        log.exception("job %s failed", ctx.job_id)
        _update(ctx.job_id, state="failed", error=str(exc), finished_at=utcnow())
    else:
        _update(ctx.job_id, state="done", progress=1.0, result=result or {}, finished_at=utcnow())
    finally:
        stop.set()


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 10_000}"


def run_worker(*, stop: threading.Event | None = None, poll_s: float = 1.0, once: bool = False,
               name: str | None = None) -> int:
    """Claim and run jobs until `stop` is set (or, with `once`, until the queue is empty); returns jobs run."""
    stop = stop or threading.Event()
    name = name or worker_name()
    ran = 0
    while not stop.is_set():
        try:
            ctx = claim(name)
        except Exception:  # noqa: BLE001 - a database hiccup must not end the worker
            log.exception("worker %s could not claim a job", name)
            ctx = None
        if ctx is None:
            if once:
                return ran
            stop.wait(poll_s)
            continue
        with session_scope(write=False) as s:
            kind = s.get(Job, ctx.job_id).kind
        run(ctx, kind)
        ran += 1
    return ran


_embedded: threading.Thread | None = None
_embedded_lock = threading.Lock()


def start_embedded_worker() -> None:
    """The app's own worker thread (one per process), so the embedded install runs jobs with no other process."""
    global _embedded
    with _embedded_lock:
        if _embedded is None or not _embedded.is_alive():
            _embedded = threading.Thread(target=run_worker, kwargs={"poll_s": 0.5}, name="job-worker",
                                         daemon=True)
            _embedded.start()


def get_job(job_id: int) -> Job | None:
    with session_scope(write=False) as s:
        return s.get(Job, job_id)


def list_jobs(*, study_id: int, limit: int = 20) -> list[Job]:
    with session_scope(write=False) as s:
        return list(s.exec(select(Job).where(Job.study_id == study_id).order_by(Job.id.desc()).limit(limit)).all())
