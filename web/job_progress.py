"""Live progress of jobs (oversight/jobs.py) started from a page: one fragment that polls while a job is queued or
running, stops polling once none is, and reruns the whole page when a job it watched ends, so the page's tables
(counters, lists, results) show what the job wrote without a reload. Streamlit, so in web/; the page has checked
the role.

    job_progress(lambda: my_jobs(study_id), key=f"runs-{study_id}", title=lambda j: f"Job #{j.id} …",
                 finished=show_result)

`live_rows` is the same for rows that are not jobs (the labs' W2S runs, reward models): Study settings, the dry
run panel, Weak-to-strong and RLAIF all use it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import streamlit as st

from storage.models import Job
from web.ui import escape_markdown, staff_fragment

ACTIVE = ("queued", "running")  # the job states that still change
ACTIVE_JOB_STATES = ACTIVE
Row = TypeVar("Row")
POLL_S = 1.0


def default_title(job: Job) -> str:
    return f"Job #{job.id} {job.kind}"


def show_job(job: Job, title: str, finished: Callable[[Job], None] | None = None) -> None:
    """One job: a bar while it is queued or running, then how it ended (its error as text; `finished` draws a
    done job's result)."""
    said = f"{title} · {job.state}" + (f" · {job.message}" if job.message else "")
    if job.state in ACTIVE:
        st.progress(min(max(job.progress, 0.0), 1.0), text=escape_markdown(said))
    elif job.state == "done":
        st.progress(1.0, text=escape_markdown(said))
        if finished is not None:
            finished(job)
    else:  # failed or cancelled
        st.error(escape_markdown(f"{title} · {job.state}: {job.error or ''}"))


def live_rows(*, key: str, load: Callable[[], Sequence[Row]], is_active: Callable[[Row], bool],
              render: Callable[[Sequence[Row]], None], every: float = POLL_S) -> None:
    """Draw `load()` with `render`; poll every `every` seconds while any row `is_active` (an idle page costs the
    server nothing); when a row that was active no longer is, rerun the whole page once, so its other parts
    (tables, counters, results) read what the job stored. Rows (jobs, W2S runs, ...) are told apart by `id`."""
    state_key = f"job-progress-{key}"
    rows = load()
    st.session_state[state_key] = {_id(r) for r in rows if is_active(r)}
    first = [True]  # the call below, in this page run, draws the rows just read; timed reruns read afresh

    @staff_fragment(run_every=every if st.session_state[state_key] else None)
    def body() -> None:
        was: set = st.session_state.get(state_key, set())
        current = rows if first[0] else load()
        first[0] = False
        now = {_id(r) for r in current if is_active(r)}
        st.session_state[state_key] = now
        render(current)
        if was - now:  # something finished: redraw the page, and stop polling if nothing else runs
            st.rerun(scope="app")

    body()


def job_progress(jobs: Callable[[], list[Job]], *, key: str, title: Callable[[Job], str] = default_title,
                 finished: Callable[[Job], None] | None = None, empty: str | None = None,
                 every: float = POLL_S) -> None:
    """Show `jobs()` (newest first) live: a bar per job while it runs, how it ended after (see `live_rows`)."""
    def render(current: Sequence[Job]) -> None:
        if not current and empty:
            st.caption(empty)
        for job in current:
            show_job(job, title(job), finished)

    live_rows(key=key, load=jobs, is_active=lambda j: j.state in ACTIVE, render=render, every=every)


def _id(row: Any) -> Any:
    return getattr(row, "id", row)
