"""`worker` and `jobs list|cancel`: the job queue (batch runs, AI judging, training) from the command line."""

from __future__ import annotations

import argparse

from oversight.cli.common import add_command, add_group, emit, known_study


def cmd_worker(args) -> None:
    import signal
    import threading

    from oversight.db import init_db
    from oversight.jobs import run_worker

    init_db()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        ran = run_worker(stop=stop, poll_s=args.poll, once=args.once)
    except KeyboardInterrupt:
        ran = None
    emit(args, {"ran": ran}, f"ran {ran} jobs" if ran is not None else "stopped")


def cmd_jobs_list(args) -> None:
    from oversight.jobs import list_jobs

    rows = [{"id": j.id, "kind": j.kind, "state": j.state, "progress": round(j.progress, 2), "message": j.message,
             "worker": j.worker, "attempts": j.attempts, "error": j.error} for j in
            list_jobs(study_id=known_study(args.study), limit=args.limit)]
    text = "\n".join(f"{r['id']:>5} {r['kind']:<20} {r['state']:<10} {r['progress']:>4.0%} {r['message']}"
                     + (f" error: {r['error']}" if r["error"] else "") for r in rows) or "no jobs in this study"
    emit(args, rows, text)


def cmd_jobs_cancel(args) -> None:
    from oversight.jobs import cancel

    state = cancel(job_id=args.job)
    emit(args, {"job": args.job, "state": state},
         f"job {args.job} " + ("will stop at its next progress report" if state == "running" else f"is {state}"))


def register(sub: argparse._SubParsersAction) -> None:
    sp = add_command(sub, "worker", cmd_worker, "run queued jobs (batch runs, AI judging, training) until stopped; as "
                                                "many workers as you like may share one PostgreSQL database")
    sp.add_argument("--once", action="store_true", help="stop when the queue is empty")
    sp.add_argument("--poll", type=float, default=1.0, help="seconds between looks at an empty queue")
    jobs = add_group(sub, "jobs", "queued and finished jobs", "jobs_cmd")
    sp = add_command(jobs, "list", cmd_jobs_list, "a study's recent jobs")
    sp.add_argument("--study", type=int, required=True)
    sp.add_argument("--limit", type=int, default=20)
    sp = add_command(jobs, "cancel", cmd_jobs_cancel,
                     "cancel a job (at once if queued, at its next progress report if running)")
    sp.add_argument("job", type=int)
