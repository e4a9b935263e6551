"""Live progress for the labs' jobs (Weak-to-strong, RLAIF): a part of the page that polls while something runs and
then brings the whole page up to date.

`live_rows` renders rows (jobs, runs) through `render`. While any row is active it is a fragment that reruns
every `every` seconds, so its progress bars move; when a row that was active is no longer active, it reruns the
whole page once, so the page's tables (results, reward models, agreement) show what the job stored, without a
reload. When nothing is active it draws once and polls nothing (an idle page costs the server nothing).
(The `settings` helper writes a general web/job_progress.py on another branch; the merger may fold this into it.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import streamlit as st

from web.ui import staff_fragment

Row = TypeVar("Row")
ACTIVE_JOB_STATES = ("queued", "running")


def live_rows(*, key: str, load: Callable[[], Sequence[Row]], is_active: Callable[[Row], bool],
              render: Callable[[Sequence[Row]], None], every: float = 1.0) -> None:
    """Draw `load()` with `render`; poll while any row `is_active`; rerun the page when an active row finishes.
    Rows are told apart by their `id`."""
    state_key = f"_lab_progress_{key}"
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
        if was - now:  # something finished: the page's other parts read what it stored
            st.rerun(scope="app")

    body()


def _id(row: Any) -> Any:
    return getattr(row, "id", row)
