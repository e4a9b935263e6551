"""Jobs: enqueued by pages, claimed and run by workers, with progress, heartbeats, cancel and retry."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from oversight import jobs
from oversight.protocols import strategies
from oversight.db import session_scope
from storage.models import Item, ItemGold, Job, Transcript, utcnow

REPO = Path(__file__).resolve().parents[1]
CALLS: list[int] = []


def counting_job(ctx: jobs.JobContext) -> dict:
    for i in range(3):
        ctx.progress(i, 3, f"step {i}")
    CALLS.append(ctx.job_id)
    ctx.progress(3, 3, "done")
    return {"answer": 42, "asked": ctx.params.get("question")}


def failing_job(ctx: jobs.JobContext) -> dict:
    raise ValueError("no items")


GATE = threading.Event()


def waiting_job(ctx: jobs.JobContext) -> dict:
    while True:  # until cancelled: each progress report may raise Cancelled
        ctx.progress(0, 1, "waiting")
        GATE.wait(0.05)


@pytest.fixture
def test_kinds(monkeypatch):
    monkeypatch.setattr(jobs, "HANDLERS", {**jobs.HANDLERS, "count": f"{__name__}:counting_job",
                                            "fail": f"{__name__}:failing_job", "wait": f"{__name__}:waiting_job"})
    monkeypatch.setattr(jobs, "RETRYABLE", {*jobs.RETRYABLE, "count"})
    monkeypatch.setattr(jobs, "MIN_WRITE_INTERVAL_S", 0.0)
    CALLS.clear()


def test_a_worker_runs_a_job_with_progress_and_stores_its_result(study, test_kinds):
    job_id = jobs.enqueue(kind="count", study_id=study.id, params={"question": "life"})
    assert jobs.get_job(job_id).state == "queued"  # the page only enqueues
    assert jobs.run_worker(once=True) == 1
    job = jobs.get_job(job_id)
    assert job.state == "done" and job.result == {"answer": 42, "asked": "life"} and job.progress == 1.0
    assert job.attempts == 1 and job.worker and job.heartbeat_at is not None
    assert [j.id for j in jobs.list_jobs(study_id=study.id)] == [job_id]


def test_a_failing_job_keeps_its_error(study, test_kinds):
    job_id = jobs.enqueue(kind="fail", study_id=study.id)
    jobs.run_worker(once=True)
    job = jobs.get_job(job_id)
    assert job.state == "failed" and "no items" in job.error


def test_unknown_kinds_are_refused(study):
    with pytest.raises(jobs.JobError, match="unknown job kind"):
        jobs.enqueue(kind="mine-bitcoin", study_id=study.id)


def test_cancel_a_queued_job_at_once_and_a_running_one_at_its_next_report(study, test_kinds):
    queued = jobs.enqueue(kind="count", study_id=study.id)
    assert jobs.cancel(job_id=queued) == "cancelled"
    running = jobs.enqueue(kind="wait", study_id=study.id)
    worker = threading.Thread(target=jobs.run_worker, kwargs={"once": True})
    worker.start()
    deadline = time.monotonic() + 20
    while jobs.get_job(running).state != "running":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert jobs.cancel(job_id=running) == "running"
    worker.join(20)
    assert not worker.is_alive()
    assert jobs.get_job(running).state == "cancelled" and CALLS == []  # the queued one never ran


def _stale(job_id: int, kind: str, attempts: int) -> None:
    with session_scope() as s:
        job = s.get(Job, job_id)
        job.kind, job.state, job.worker, job.attempts = kind, "running", "dead-host:1:1", attempts
        job.heartbeat_at = utcnow() - timedelta(minutes=5)


def test_a_job_whose_worker_died_is_retried_or_failed(study, test_kinds):
    retried = jobs.enqueue(kind="count", study_id=study.id)
    _stale(retried, "count", attempts=1)
    exhausted = jobs.enqueue(kind="count", study_id=study.id)
    _stale(exhausted, "count", attempts=jobs.MAX_ATTEMPTS)
    training = jobs.enqueue(kind="w2s-run", study_id=study.id)
    _stale(training, "w2s-run", attempts=1)
    alive = jobs.enqueue(kind="count", study_id=study.id)
    with session_scope() as s:  # running elsewhere, beating: left alone
        job = s.get(Job, alive)
        job.state, job.heartbeat_at, job.worker = "running", utcnow(), "busy-host:2:2"
    assert jobs.run_worker(once=True) == 1
    assert jobs.get_job(retried).state == "done" and jobs.get_job(retried).attempts == 2
    assert jobs.get_job(exhausted).state == "failed" and "stopped" in jobs.get_job(exhausted).error
    assert jobs.get_job(training).state == "failed"  # training is not retried: it would redo its work
    assert jobs.get_job(alive).state == "running"


def _study_with_items(study_id: int, n: int) -> None:
    with session_scope() as s:
        for k in range(n):
            item = Item(study_id=study_id, external_id=f"q{k}", question=f"Which is right, {k}?",
                        options=["the first", "the second"],
                        source_text=f"Item {k}. The first answer is right, as the text says.")
            s.add(item)
            s.flush()
            s.add(ItemGold(item_id=item.id, gold_index=0))


def test_two_worker_processes_run_every_job_once(any_db, tmp_path):
    """Several workers on one database (PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite: its write lock) share the
    queue: six batch jobs, each runs once, every item of each gets exactly one transcript."""
    from oversight.study.studies import create_study

    models_file = tmp_path / "models.toml"
    models_file.write_text('[models.scripted]\nbackend = "scripted"\nresponses = ["The first, says the text."]\n'
                           '[roles]\ndebater = "scripted"\nconsultant = "scripted"\nassistant = "scripted"\n'
                           'judge = "scripted"\nfeedback = "scripted"\n')
    study = create_study(name="Queue", user_id=None)
    _study_with_items(study.id, 3)
    sid = strategies.create_strategy(study_id=study.id, name="model alone", protocol="model-alone").id
    ids = [jobs.enqueue(kind="batch", study_id=study.id, params={"strategy_id": sid}) for _ in range(6)]
    env = {**os.environ, "OVERSIGHT_MODELS_FILE": str(models_file)}
    workers = [subprocess.Popen([sys.executable, "-m", "oversight", "worker", "--once"], cwd=REPO, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [w.communicate(timeout=240) for w in workers]
    assert all(w.returncode == 0 for w in workers), outs
    ran = sum(int(out.strip().split()[1]) for out, _ in outs)  # "ran N jobs"
    assert ran == 6
    with session_scope(write=False) as s:
        states = [s.get(Job, j).state for j in ids]
        transcripts = s.exec(select(Transcript).where(Transcript.study_id == study.id)).all()
    assert states == ["done"] * 6, [jobs.get_job(j).error for j in ids]
    per_job = {j: sum(f"job:{j}" in t.tags for t in transcripts) for j in ids}
    assert per_job == {j: 3 for j in ids}


def test_a_requeued_batch_job_resumes_the_transcript_its_dead_attempt_opened(study, tmp_path, monkeypatch):
    """A worker killed mid-job left item 1 finished and item 2 open (its debate half spoken); the retry resumes
    that transcript: one transcript per item at the end (not 13 for 12), all complete, one final answer each."""
    from oversight.protocols import batch, live
    from oversight.protocols.bots import ModelBot
    from oversight.protocols.driver import drive
    from oversight.settings import reset_settings
    from storage.models import Judgment, Strategy, Turn

    models_file = tmp_path / "models.toml"
    models_file.write_text('[models.scripted]\nbackend = "scripted"\nresponses = ["The first, says the text."]\n'
                           '[roles]\ndebater = "scripted"\nconsultant = "scripted"\nassistant = "scripted"\n'
                           'judge = "scripted"\nfeedback = "scripted"\n')
    monkeypatch.setenv("OVERSIGHT_MODELS_FILE", str(models_file))
    reset_settings()
    _study_with_items(study.id, 3)
    sid = strategies.create_strategy(study_id=study.id, name="debate", protocol="debate").id
    job_id = jobs.enqueue(kind="batch", study_id=study.id, params={"strategy_id": sid})
    ctx = jobs.claim("doomed-host:1:1")
    assert ctx.job_id == job_id
    with session_scope(write=False) as s:
        items = batch.eligible_items(study_id=study.id, strategy=s.get(Strategy, sid))
    tag = f"job:{job_id}"
    # The dead attempt: the first item run to its end, the second opened and its first round spoken.
    batch.run_item(item_id=items[0], strategy_id=sid, judge_name="scripted", tags=(tag,))
    opened = live.start_transcript(item_id=items[1], strategy_id=sid, tags=[batch.BATCH_TAG, tag], seed=items[1])
    moves = iter(range(2))

    class Dying(ModelBot):
        def answer(self, state, final):
            next(moves)  # the worker dies during the second report
            return super().answer(state, final)

    with pytest.raises(StopIteration):
        drive(opened, Dying("scripted", True))
    with session_scope() as s:  # its heartbeat stops
        s.get(Job, job_id).heartbeat_at = utcnow() - timedelta(minutes=5)

    assert jobs.run_worker(once=True) == 1
    job = jobs.get_job(job_id)
    assert (job.state, job.attempts) == ("done", 2), job.error
    with session_scope(write=False) as s:
        transcripts = s.exec(select(Transcript).where(Transcript.study_id == study.id)).all()
        finals = s.exec(select(Judgment.transcript_id).where(Judgment.is_final == True)).all()  # noqa: E712
        resumed_turns = s.exec(select(Turn).where(Turn.transcript_id == opened)).all()
    assert sorted(t.item_id for t in transcripts) == sorted(items)  # today: 4 transcripts for 3 items
    assert {t.status for t in transcripts} == {"complete"}
    assert sorted(finals) == sorted(t.id for t in transcripts)
    assert opened in {t.id for t in transcripts} and resumed_turns
