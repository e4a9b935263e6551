"""The Plan section of the Study settings page: power before paying (oversight/study/power.py), as inputs, a progress
bar, a plot and a table. Streamlit, so in web/; the page has checked the role (admins only)."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from oversight.study.power import Planted, PowerError, check_design, plan, study_design
from web.ui import attempt


def _counts(raw: str) -> list[int] | None:
    try:
        counts = sorted({int(x) for x in raw.replace(";", ",").split(",") if x.strip()})
    except ValueError:
        return None
    return counts or None


def _chart(data: dict) -> go.Figure:
    x = [r["participants"] for r in data["rows"]]
    fig = go.Figure()
    fig.add_scatter(x=x, y=[r["power"] for r in data["rows"]], mode="lines+markers", name="power")
    fig.add_scatter(x=x, y=[r["coverage"] for r in data["rows"]], mode="lines+markers", name="coverage")
    fig.add_hline(y=0.8, line_dash="dot", annotation_text="80 % power", line_color="grey")
    fig.add_hline(y=0.95, line_dash="dash", annotation_text="95 % (nominal coverage)", line_color="grey")
    fig.update_layout(xaxis_title="participants", yaxis_title="share of simulated studies", yaxis_tickformat=".0%",
                      yaxis_range=[0, 1.05], height=360, margin=dict(t=30, b=40))
    return fig


def _table(data: dict) -> list[dict]:
    def pct(v: float | None) -> str:
        return "—" if v is None else f"{100 * v:.0f} %"

    return [{"participants": r["participants"], "power": pct(r["power"]), "coverage": pct(r["coverage"]),
             "median interval width": "unbounded" if r["ci_width_median"] is None else f"{r['ci_width_median']:.2f}",
             "median gap closed": "—" if r["gap_closed_median"] is None else f"{r['gap_closed_median']:.2f}",
             "unbounded intervals": pct(r["unbounded"]), "simulated studies": r["sims"]} for r in data["rows"]]


def plan_section(study_id: int) -> None:
    """How many participants the study needs: simulate its design with planted accuracies (writes nothing)."""
    st.header("Plan: how many participants?")
    st.caption("Simulated studies with this study's design (items it can deal, items per participant, within or "
               "between, its conditions) and the accuracies you expect. Each simulated study's gap closed gets its "
               "95 % interval from the same engine as the Results pages (a two-way bootstrap over items and "
               "people). Power: the share of studies whose interval excludes 0; coverage: the share whose interval "
               "contains the planted gap closed. Nothing is written to the study.")
    try:
        design = study_design(study_id)
        check_design(design)
    except PowerError as exc:
        st.info(f"Nothing to plan yet: {exc}.")  # written by the code (oversight.study.power), no names in it
        return
    st.text(f"Design: {design.describe()}.")
    key = f"plan-{study_id}"
    with st.form(key):
        counts = st.text_input("Participant counts (comma-separated)", "10, 20, 40", key=f"{key}-counts")
        c1, c2, c3 = st.columns(3)
        alone = c1.number_input("Accuracy alone", 0.0, 1.0, 0.6, 0.01, key=f"{key}-alone",
                                help="Planted population accuracy of a non-expert answering alone.")
        assisted = c2.number_input("Accuracy with the model", 0.0, 1.0, 0.75, 0.01, key=f"{key}-assisted",
                                   help="Planted population accuracy of a non-expert with the model (every "
                                        "assisted condition). Equal to 'alone': power is the false-positive rate.")
        expert = c3.number_input("Expert accuracy", 0.0, 1.0, 0.9, 0.01, key=f"{key}-expert",
                                 disabled=not design.expert_conditions,
                                 help="Without an expert condition the gold stands in (accuracy 1).")
        d1, d2, d3, d4, d5 = st.columns(5)
        skill_sd = d1.number_input("Person skill sd (logit)", 0.0, 5.0, 0.5, 0.1, key=f"{key}-skill",
                                   help="How much people differ: the sd of a person effect on the logit scale.")
        item_sd = d2.number_input("Item difficulty sd (logit)", 0.0, 5.0, 1.0, 0.1, key=f"{key}-item",
                                  help="How much items differ in difficulty, on the logit scale.")
        experts = d3.number_input("Simulated experts", 1, 200, 10, key=f"{key}-experts",
                                  disabled=not design.expert_conditions)
        sims = d4.number_input("Simulated studies per count", 10, 1000, 200, 10, key=f"{key}-sims")
        seed = d5.number_input("Seed", 0, 1_000_000, 0, key=f"{key}-seed")
        submitted = st.form_submit_button("Simulate power")
    if submitted:
        wanted = _counts(counts)
        if wanted is None:
            st.error("Participant counts are whole numbers separated by commas, e.g. 10, 20, 40.")
        else:
            bar = st.progress(0.0, text="Simulating…")

            def progress(done: int, total: int, message: str) -> None:
                bar.progress(done / max(total, 1), text=f"{done} of {total} simulated studies ({message})")

            ok, result = attempt(plan, study_id=study_id, participants=wanted, sims=int(sims), seed=int(seed),
                                 experts=int(experts), progress=progress,
                                 planted=Planted(alone=float(alone), assisted=float(assisted), expert=float(expert),
                                                 skill_sd=float(skill_sd), item_sd=float(item_sd)))
            bar.empty()
            if ok:
                st.session_state[f"{key}-result"] = result.to_json()
    data = st.session_state.get(f"{key}-result")
    if not data:
        st.caption("Choose the numbers and press Simulate power: 3 counts × 200 studies took about 12 s on a 2-core machine.")
        return
    who = "the gold stands in for experts" if data["gold_stands_in"] else f"{data['experts']} simulated experts"
    st.text(f"Planted gap closed {data['planted_gap_closed']:.2f} ({who}); {data['rows'][0]['sims']} simulated "
            f"studies per count, {data['resamples']} bootstrap resamples each, seed {data['seed']}.")
    st.plotly_chart(_chart(data), width="stretch", key=f"{key}-chart")
    st.dataframe(_table(data), hide_index=True, width="stretch")
    if any(r["unbounded"] > 0.2 for r in data["rows"]):
        st.warning("Many intervals are unbounded: in more than 2.5 % of their resamples experts did no better than "
                   "non-experts alone. More experts (or more of their answers) narrow the gap closed.")
