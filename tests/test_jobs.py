"""Jobs: long work runs on a thread, reports progress, stores its result or its error."""

from __future__ import annotations

import time

from oversight.db import session_scope
from oversight.jobs import get_job, list_jobs, recover_interrupted, start_job
from storage.models import Job


def wait(job_id: int):
    deadline = time.monotonic() + 20
    while (job := get_job(job_id)).state in ("queued", "running"):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    return job


def test_a_job_reports_progress_and_stores_its_result(study):
    def work(progress):
        for i in range(3):
            progress(i, 3, f"step {i}")
        progress(3, 3, "done")
        return {"answer": 42}

    job = wait(start_job(kind="test", fn=work, study_id=study.id))
    assert job.state == "done" and job.result == {"answer": 42} and job.progress == 1.0
    assert [j.id for j in list_jobs(study_id=study.id)] == [job.id]


def test_a_failing_job_keeps_its_error(study):
    def work(progress):
        raise ValueError("no items")

    job = wait(start_job(kind="test", fn=work, study_id=study.id))
    assert job.state == "failed" and "no items" in job.error


def test_jobs_left_running_by_a_dead_process_are_marked_failed(study):
    with session_scope() as s:
        s.add(Job(kind="batch", state="running", study_id=study.id))
    assert recover_interrupted() == 1
    assert list_jobs(study_id=study.id)[0].error == "interrupted by a server restart"
