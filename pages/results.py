"""Admins and experts: judge accuracy per setting and judge kind, with 95% intervals."""

import plotly.graph_objects as go
import streamlit as st

from oversight.report import study_report
from ui import pick_study, require_role

require_role("admin", "expert")
st.title("Results")
study_id = pick_study()
if study_id is None:
    st.stop()
tag = st.text_input("Only transcripts tagged (e.g. paper)", "").strip() or None
report = study_report(study_id=study_id, tag=tag)

cols = st.columns(4)
for col, key in zip(cols, ("items", "participants", "transcripts", "judgments")):
    col.metric(key.capitalize(), report.get("counts", {}).get(key, 0))

rows = report.get("by_setting", [])
if not rows:
    st.info("No final judgments yet: results appear here as participants and AI judges finish.")
    st.stop()

labels = [f"{r['setting']} · {r['judge_kind']}" for r in rows]
fig = go.Figure(go.Bar(
    x=[r["accuracy"] for r in rows], y=labels, orientation="h",
    error_x={"type": "data", "symmetric": False,
             "array": [r["ci_high"] - r["accuracy"] for r in rows],
             "arrayminus": [r["accuracy"] - r["ci_low"] for r in rows]},
    text=[f"{r['accuracy']:.3f} (n={r['n']})" for r in rows], textposition="inside",
))
fig.update_layout(xaxis={"range": [0, 1], "title": "judge accuracy (final p(correct) > 0.5), 95% CI"},
                  height=120 + 48 * len(rows), margin={"l": 10, "r": 10, "t": 10, "b": 40})
st.plotly_chart(fig, width="stretch")
st.dataframe(rows, hide_index=True, width="stretch")
