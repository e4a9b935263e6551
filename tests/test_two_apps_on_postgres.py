"""Jobs at scale (issue 10): two app processes and two `python -m oversight worker` processes on one PostgreSQL.

Participants work through direct-QA tasks and extractive debates on both servers (half on each, websocket clients
of `bench/wsclient.py`) while batch jobs run in the two workers. Every job runs once (one claim, one transcript
per item), the workers share the queue, the apps run no jobs (OVERSIGHT_EMBEDDED_WORKER=0), and every answer a
participant saw confirmed is stored exactly once.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import select

from bench.load import DEBATE, DIRECT, Tally, check_database, free_port, run_person, setup, start_server
from oversight import jobs
from oversight.db import session_scope
from storage import db as storage_db
from storage.models import Job, Strategy, Study, Transcript
from tests.conftest import _configure, _fresh_postgres_database

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
FINISHED = ("done", "failed", "cancelled")


@pytest.fixture
def pg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh PostgreSQL database for this test (skips without OVERSIGHT_TEST_POSTGRES_URL)."""
    url = _fresh_postgres_database()
    _configure(monkeypatch, url, tmp_path)
    yield url
    storage_db.dispose_engines()


@pytest.fixture
def processes():
    """Every server and worker this test starts; stopped at the end, whatever happened."""
    procs: list[subprocess.Popen] = []
    yield procs
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(10)


def _tail(path: Path, n: int = 2000) -> str:
    return path.read_text(errors="replace")[-n:] if path.exists() else ""


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def _study_and_strategy(kind: str) -> tuple[int, int]:
    with session_scope(write=False) as s:
        return tuple(s.exec(select(Study.id, Strategy.id).join(Strategy, Strategy.study_id == Study.id)
                            .where(Study.name == f"Load: {kind}")).one())


def _connected_apps() -> set[str]:
    """application_name of every connection to this database (the workers set theirs through PGAPPNAME)."""
    with session_scope(write=False) as s:
        return set(s.exec(text("SELECT application_name FROM pg_stat_activity "
                               "WHERE datname = current_database()")).scalars())


def test_two_apps_and_two_workers_on_one_postgres(pg, tmp_path, processes):
    people, _ = setup(participants=6, direct_items=2, debate_items=1)
    ports = [free_port(), free_port()]
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    env = {**os.environ, "OVERSIGHT_EMBEDDED_WORKER": "0", "OVERSIGHT_PUBLIC_URL": urls[0], "HF_HUB_OFFLINE": "1"}

    # Workers first, so that both are polling before the first job is queued (a worker's first connection is
    # made by its `init_db()`, just before it starts claiming).
    worker_logs = [tmp_path / f"worker{i}.log" for i in range(2)]
    workers = []
    for i, log in enumerate(worker_logs):
        with open(log, "w") as out:
            workers.append(subprocess.Popen(
                [sys.executable, "-m", "oversight", "worker", "--poll", "0.2"], cwd=REPO,
                env={**env, "PGAPPNAME": f"twoapps-worker-{i}"}, stdout=out, stderr=subprocess.STDOUT))
    processes.extend(workers)
    server_logs = [tmp_path / f"server{i}.log" for i in range(2)]
    with ThreadPoolExecutor(2) as pool:
        servers = list(pool.map(lambda i: start_server(env, ports[i], server_logs[i]), range(2)))
    processes.extend(servers)
    _wait(lambda: {"twoapps-worker-0", "twoapps-worker-1"} <= _connected_apps(), 120, "both workers to connect")

    # Batch runs over both studies: some queued before the participants start, some while they work.
    plans = [(DEBATE, 2), (DIRECT, 3)] * 3
    targets = {kind: _study_and_strategy(kind) for kind in (DEBATE, DIRECT)}
    job_ids: list[int] = []

    def enqueue(kind: str, limit: int) -> None:
        study_id, strategy_id = targets[kind]
        job_ids.append(jobs.enqueue(kind="batch", study_id=study_id,
                                    params={"strategy_id": strategy_id, "limit": limit}))

    for kind, limit in plans[:4]:
        enqueue(kind, limit)

    async def later_jobs() -> None:
        await asyncio.sleep(1.0)
        for kind, limit in plans[4:]:
            await asyncio.to_thread(enqueue, kind, limit)

    tally = Tally()

    async def session() -> None:
        await asyncio.gather(later_jobs(), *(
            # Speeches wait behind the batch jobs on 2 shared cores: what this test checks is that every answer
            # and job lands once, not how fast (bench/load.py measures that), so a slow speech is no failure.
            run_person(urls[i % 2], person, tally, think=0.2, seed=i, delay=0.2 * i, speech_wait_s=240)
            for i, person in enumerate(people)))

    asyncio.run(session())

    def all_finished() -> bool:
        with session_scope(write=False) as s:
            return all(s.get(Job, j).state in FINISHED for j in job_ids)

    _wait(all_finished, 240, "every job to finish")
    for w in workers:  # SIGTERM: a worker stops between jobs and says how many it ran
        w.terminate()
    outs = []
    for w, log in zip(workers, worker_logs):
        w.wait(60)
        outs.append(_tail(log))
    logs = "\n".join(outs) + "\n".join(_tail(log) for log in server_logs)

    # Every participant's work landed, once.
    assert tally.errors == [], (tally.errors, logs)
    assert tally.finished == len(people)
    stored = check_database(people, tally)
    assert stored["confirmed"] == 3 * 2 + 3 * 2  # 3 direct-QA people x 2 answers, 3 debaters x 2 rounds
    assert stored["lost"] == 0 and stored["duplicates"] == 0 and stored["stored"] == stored["confirmed"], stored

    # Every job ran once, in a worker process (never in an app). Which worker takes which job is up to the race for
    # the queue (SKIP LOCKED); on a loaded 2-core machine one may take them all, so the split is not asserted.
    with session_scope(write=False) as s:
        rows = [s.get(Job, j) for j in job_ids]
        tagged = s.exec(select(Transcript.tags, Transcript.item_id, Transcript.status)).all()
    assert [(r.state, r.attempts) for r in rows] == [("done", 1)] * len(rows), [(r.state, r.error) for r in rows]
    pids = {str(w.pid) for w in workers}
    by_worker = [r.worker.split(":")[1] for r in rows]
    assert set(by_worker) <= pids, (by_worker, pids)
    ran = [[int(n) for n in re.findall(r"ran (\d+) jobs", out)] for out in outs]
    assert ran == [[by_worker.count(str(w.pid))] for w in workers], outs  # each says what the rows say
    for (_, limit), row in zip(plans, rows):
        mine = [(item, status) for tags, item, status in tagged if f"job:{row.id}" in (tags or [])]
        items = {item for item, _ in mine}  # one transcript per item, every one run to its end
        assert len(mine) == len(items) == limit and {st for _, st in mine} == {"complete"}, (row.id, mine)
        assert row.result["n"] == limit and row.result["errors"] == 0, row.result
