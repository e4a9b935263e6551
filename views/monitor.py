"""Admin: a live session at a glance — who is active and where, drop-outs, attention flags, answers per minute,
jobs, model errors."""

import plotly.graph_objects as go
import streamlit as st

from oversight.study.monitor import ACTIVE_WINDOW, snapshot
from oversight.jobs import cancel
from web.ui import attempt, pick_study, require_role, staff_fragment

require_role("admin")
st.title("Monitor")
study_id = pick_study()
every = st.select_slider("Update every", options=[2, 5, 10, 30, 60], value=5, format_func=lambda s: f"{s} s")


@staff_fragment(run_every=every)
def live_view() -> None:
    snap = snapshot(study_id=study_id)
    cols = st.columns(5)
    for col, status in zip(cols, ("active", "finished", "dropped out", "not started", "withdrawn")):
        col.metric(status.capitalize(), snap.count(status))
    st.caption(f"Updated {snap.at:%H:%M:%S} UTC. Dropped out: started, not finished, and nothing done for "
               f"{int(ACTIVE_WINDOW.total_seconds() // 60)} minutes (they can still come back).")
    if any(p.simulated for p in snap.people):
        st.caption("Includes simulated participants.")
    # Someone an admin already included is not "warned": they were looked at (their flags stay in the table).
    warned = sum(p.attention == "warn" and p.override is None for p in snap.people)
    excluded = sum(p.attention == "excluded" for p in snap.people)
    decided = sum(p.override is not None for p in snap.people)
    st.caption(f"Attention checks: {snap.thresholds} (flags: wrong catch answers + too-fast answers). {warned} "
               f"warned, {excluded} excluded ({decided} by an admin's decision); include or exclude someone on the "
               "Participants page.")
    if not snap.people:
        st.info("Nobody has joined this study yet. Create links or open enrolment on the Participants page.")
    else:
        st.dataframe([{"participant": p.name, "Prolific ID": p.prolific_id or "", "status": p.status,
                       "task": p.task, "on this task (s)": round(p.on_task_s) if p.on_task_s is not None else None,
                       "idle (s)": round(p.idle_s) if p.idle_s is not None else None, "done": f"{p.done}/{p.total}",
                       "flags": p.flags, "attention": p.attention_shown,
                       "preview": "preview: not counted" if p.preview else ""}
                      for p in snap.people], hide_index=True, width="stretch")
    st.subheader(f"Answers per minute ({snap.answers_last_10_min} in the last 10 minutes)")
    fig = go.Figure(go.Bar(x=[t for t, _ in snap.answers_per_minute], y=[n for _, n in snap.answers_per_minute]))
    fig.update_layout(height=220, margin=dict(l=10, r=10, t=10, b=10), yaxis_title="final answers")
    st.plotly_chart(fig, width="stretch")
    left, right = st.columns(2)
    with left:
        st.subheader("Jobs")
        if snap.jobs:
            st.dataframe(snap.jobs, hide_index=True, width="stretch")
            open_jobs = [j["job"] for j in snap.jobs if j["state"] in ("queued", "running")]
            if open_jobs:
                c1, c2 = st.columns([2, 1])
                which = c1.selectbox("Job", open_jobs, format_func=lambda j: f"#{j}", label_visibility="collapsed")
                if c2.button("Cancel job", help="A queued job is cancelled at once; a running one stops at its "
                                                "next progress report."):
                    attempt(cancel, job_id=which)
        else:
            st.caption("No batch runs or AI judging in this study.")
    with right:
        st.subheader("Model errors")
        if snap.model_errors:
            st.dataframe(snap.model_errors, hide_index=True, width="stretch")
        else:
            st.caption("No model has failed in this study.")


live_view()
