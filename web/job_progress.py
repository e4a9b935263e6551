"""Live progress of jobs (oversight/jobs.py) started from a page: one fragment that polls while a job is queued or
running, stops polling once none is, and reruns the whole page when a job it watched ends, so the page's tables
(counters, lists, results) show what the job wrote without a reload. Streamlit, so in web/; the page has checked
the role.

    job_progress(lambda: my_jobs(study_id), key=f"runs-{study_id}", title=lambda j: f"Job #{j.id} …",
                 finished=show_result)
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from storage.models import Job
from web.ui import escape_markdown, staff_fragment

ACTIVE = ("queued", "running")  # the job states that still change
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


def job_progress(jobs: Callable[[], list[Job]], *, key: str, title: Callable[[Job], str] = default_title,
                 finished: Callable[[Job], None] | None = None, empty: str | None = None,
                 every: float = POLL_S) -> None:
    """Show `jobs()` (newest first) live. The fragment polls every `every` seconds only while one of them is queued
    or running (an idle page costs the server nothing); when a job it saw active has ended, the whole page reruns
    once, so everything else on it shows the job's effect, and that rerun draws the fragment without polling."""
    watched = f"job-progress-{key}"
    st.session_state[watched] = [j.id for j in jobs() if j.state in ACTIVE]

    @staff_fragment(run_every=every if st.session_state[watched] else None)
    def live() -> None:
        current = jobs()
        if not current and empty:
            st.caption(empty)
        for job in current:
            show_job(job, title(job), finished)
        active = {j.id for j in current if j.state in ACTIVE}
        seen = set(st.session_state.get(watched, ()))
        if seen - active:
            st.session_state[watched] = sorted(active)
            st.rerun(scope="app")  # a watched job ended: redraw the page's tables, and stop polling if none runs
        st.session_state[watched] = sorted(seen | active)

    live()
