"""Admins and experts: judge accuracy per setting, strategy version and rounds, mean probability on the correct
answer, calibration, debater win rates, consultancy by honesty and time per judgment, and the sandwich (accuracy
per condition, gap closed, paired per-item comparison). Non-experts and experts are separate rows everywhere; every
interval is the one engine's (`oversight.results.intervals`: 95% two-way cluster bootstrap over items and people), named
once at the top; timed-out tasks are counted in every accuracy table. Everything is computed in `oversight.results.report`
and `oversight.sandwiching.analysis`; this page only draws it."""

import plotly.graph_objects as go
import streamlit as st

from oversight.results.export import export_zip
from oversight.sandwiching.outer_loop import adaptively_sampled
from oversight.results.report import dashboard, dashboard_options
from oversight.sandwiching.analysis import gap_rows, sandwich, table_rows, to_csv
from oversight.sandwiching.figures import figure_html, gap_text, paired_figure, sandwich_figure
from oversight.study.studies import get_study
from web.ui import pick_study, require_role

user = require_role("admin", "expert")
st.title("Results")
study_id = pick_study()
if user.role == "expert" and get_study(study_id).blind_review:
    # Per-version figures would tell a blind reviewer which strategy an answer came from, and how it fares.
    st.info("This study's expert review is blind: its results by strategy version are for admins until the "
            "review is done. The Review queue has your work.")
    st.stop()

ALL = "All"


def export_section() -> None:
    """Admins: the whole study as one zip (it holds the gold answers)."""
    if user.role != "admin":
        return
    st.divider()
    st.subheader("Export")
    st.caption("Everything needed to analyse the study elsewhere, gold answers included (admins only): items, "
               "transcripts, judgments, reviews and final labels, the design as dealt, participants with their "
               "attention status, questionnaires, proposals and version decisions. The same as "
               "`python -m oversight export`.")
    if st.button("Prepare the export"):
        with st.spinner("Exporting…"):
            st.session_state[f"export-{study_id}"] = export_zip(study_id=study_id)
    if prepared := st.session_state.get(f"export-{study_id}"):
        st.download_button(f"Download {prepared[0]}", data=prepared[1], file_name=prepared[0],
                           mime="application/zip", type="primary")


def plain(label: object) -> str:
    """Plotly reads a few HTML tags in labels: names from users and imports are shown as text."""
    return str(label).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def err(rows, value, low="ci_low", high="ci_high"):
    return {"type": "data", "symmetric": False,
            "array": [(r[high] - r[value]) if r[value] is not None and r[high] is not None else 0 for r in rows],
            "arrayminus": [(r[value] - r[low]) if r[value] is not None and r[low] is not None else 0 for r in rows]}


def value(v: float | None) -> float:
    """A bar's height: a row with only timed-out tasks has no accuracy (drawn at 0, labelled —)."""
    return 0 if v is None else v


def fmt(v: float | None) -> str:
    return "—" if v is None else f"{v:.3f}"


def layout(fig: go.Figure, *, height: int, x: str | None = None, y: str | None = None, **kwargs) -> go.Figure:
    # Legend above the plot: below it, it runs into the x-axis title.
    fig.update_layout(height=height, margin={"l": 10, "r": 10, "t": 50, "b": 40},
                      legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
                      xaxis_title=x, yaxis_title=y, **kwargs)
    return fig


# Columns shown first, in this order; what a row does not have is left out. judge_group is `judge` in words.
FIRST = ("name", "kind", "setting", "judge", "judge_kind", "label", "consultant", "rounds", "group", "n", "n_items",
         "n_people", "n_correct", "estimate", "accuracy", "ci_low", "ci_high", "n_timed_out", "itt_estimate",
         "accuracy_itt", "itt_ci_low", "itt_ci_high")


def table(rows: list[dict], drop: tuple[str, ...] = ()) -> None:
    drop = (*drop, "judge_group", "strategy_id")
    ordered = [{**{k: r[k] for k in FIRST if k in r}, **r} for r in rows]
    st.dataframe([{k: v for k, v in r.items() if k not in drop} for r in ordered], hide_index=True, width="stretch")


def section(rows: list, *, empty: str, caption: str, key: str, figure, drop: tuple[str, ...] = (),
            table_rows: list | None = None) -> None:
    """One tab: its empty state, or a caption, the chart `figure(rows)` and the table under it."""
    if not rows:
        st.info(empty)
        return
    st.caption(caption)
    st.plotly_chart(figure(rows), width="stretch", key=key)
    table(rows if table_rows is None else table_rows, drop)


def setting_label(r: dict) -> str:
    """'debate · non-experts': the setting and who judged (non-experts, experts, or the judge kind)."""
    return plain(f"{r['setting']} · {r['judge']}")


def counts_text(r: dict) -> str:
    """n answers, items and people, and timed-out tasks, under a bar."""
    people = f", {r['n_people']} people" if r.get("n_people") else ""
    timed_out = f", {r['n_timed_out']} timed out" if r.get("n_timed_out") else ""
    return f"n={r['n']} ({r.get('n_items', 0)} items{people}){timed_out}"


def grouped_bars(rows: list[dict], group, x, *, name=str, order=None, y: str = "accuracy") -> go.Figure:
    """Bars of `y` with 95% intervals and n, one trace per group (in `order`, else sorted)."""
    fig = go.Figure()
    for g in order or sorted({group(r) for r in rows}):
        part = [r for r in rows if group(r) == g]
        if part:
            fig.add_trace(go.Bar(name=plain(name(g)), x=[x(r) for r in part], y=[value(r[y]) for r in part],
                                 error_y=err(part, y), text=[counts_text(r) for r in part], textposition="inside",
                                 insidetextanchor="start"))
    return fig


options = dashboard_options(study_id=study_id)
f1, f2, f3 = st.columns(3)
tag = f1.selectbox("Tag (transcript or item)", [ALL, *options["tags"]], key="results_tag")
strategy_labels = {s["id"]: s["label"] for s in options["strategies"]}
strategy_ids = f2.multiselect("Strategy versions", list(strategy_labels), format_func=strategy_labels.__getitem__,
                              placeholder="All (imported rooms have none)", key="results_strategies")
judge_kinds = f3.multiselect("Judge kinds", options["judge_kinds"], placeholder="All", key="results_kinds")
data = dashboard(study_id=study_id, tag=None if tag == ALL else tag, strategy_ids=strategy_ids or None,
                 judge_kinds=judge_kinds or None)

if data["dry_run"]:
    st.warning("Dry run: this is a copy of a study, and every figure on this page is from simulated people.")
st.caption(f"Intervals: {data['interval']}. Non-experts (participants) and experts are separate rows, never pooled. "
           "Timed-out tasks count in every accuracy table: accuracy over the final answers, and counting them as "
           "incorrect (intention to treat).")

counts = data["counts"]
cols = st.columns(6)
for col, (key, label) in zip(cols, (("items", "Items"), ("participants", "Participants"),
                                    ("transcripts", "Transcripts"), ("final_judgments", "Final judgments (filtered)"),
                                    ("transcripts_judged", "Transcripts judged (filtered)"),
                                    ("timed_out", "Timed-out tasks (filtered)"))):
    col.metric(label, counts.get(key, 0))

rows = data["by_setting"]
if not any(r["n"] for r in rows) and not any(r["n_timed_out"] for r in rows):
    if counts.get("judgments"):
        st.info("No final judgments match these filters. Widen them to see results.")
    else:
        st.info("No final judgments yet: results appear here as participants and AI judges finish, "
                "or when you import judged transcripts (e.g. the NYU debates).")
    export_section()
    st.stop()

tabs = st.tabs(["Accuracy", "Strategy versions", "Calibration", "Rounds", "Debaters", "Consultancy",
                "Time per judgment", "Sandwich"])

with tabs[0]:
    st.caption("Final judgments per setting and judge; correct when the gold option has the largest probability "
               "(strictly: a tie is not correct). Bars: accuracy with its 95% interval; diamonds: mean probability "
               "on the correct answer; circles, where tasks timed out: accuracy counting them as incorrect.")
    labels = [setting_label(r) for r in rows]
    fig = go.Figure()
    fig.add_trace(go.Bar(name="accuracy", x=[value(r["accuracy"]) for r in rows], y=labels, orientation="h",
                         error_x=err(rows, "accuracy"),
                         text=[f"{fmt(r['accuracy'])} · {counts_text(r)}" for r in rows],
                         textposition="inside", insidetextanchor="start"))
    fig.add_trace(go.Scatter(name="mean p(correct)", x=[r["mean_p_correct"] for r in rows], y=labels, mode="markers",
                             marker={"symbol": "diamond", "size": 11, "color": "black"}))
    timed = [r for r in rows if r["n_timed_out"]]
    if timed:
        fig.add_trace(go.Scatter(name="counting timed-out as incorrect", x=[r["accuracy_itt"] for r in timed],
                                 y=[setting_label(r) for r in timed], mode="markers",
                                 error_x=err(timed, "accuracy_itt", "itt_ci_low", "itt_ci_high"),
                                 marker={"symbol": "circle-open", "size": 11, "color": "firebrick"}))
    layout(fig, height=140 + 48 * len(rows), x="judge accuracy, 95% CI", xaxis={"range": [0, 1]})
    st.plotly_chart(fig, width="stretch", key="chart_accuracy")
    table(rows)

with tabs[1]:
    section(
        data["by_strategy"], key="chart_strategy",
        empty="No live final judgments under a strategy version yet (imported rooms have no strategy). "
              "They appear when participants judge a strategy's arm or an AI batch run finishes.",
        caption="Live final judgments per strategy version: non-experts, experts, the AI judge of AI-only "
                "batch runs (ai) and AI judges run afterwards (ai-offline); timed-out tasks in the table.",
        figure=lambda rs: layout(grouped_bars(rs, lambda r: r["judge"], lambda r: plain(r["label"])),
                                 height=380, y="accuracy, 95% CI", barmode="group", yaxis={"range": [0, 1]}),
    )


def calibration_figure(groups: list[dict]) -> go.Figure:
    fig = go.Figure()
    fig.add_trace(go.Scatter(name="perfect calibration", x=[0, 1], y=[0, 1], mode="lines",
                             line={"dash": "dash", "color": "gray"}))
    for g in groups:
        bins = g["bins"]
        fig.add_trace(go.Scatter(
            name=plain(f"{g['group']} (n={g['n']}, ECE={g['ece']:.3f})"),
            x=[b["mean_confidence"] for b in bins], y=[b["fraction_correct"] for b in bins],
            mode="lines+markers", error_y=err(bins, "fraction_correct"),
            marker={"size": [6 + min(14, b["n"] ** 0.5) for b in bins]},
            customdata=[b["n"] for b in bins], hovertemplate="p(chosen) %{x:.2f}<br>correct %{y:.2f}<br>n=%{customdata}",
        ))
    return layout(fig, height=460, x="final p(chosen answer)", y="fraction correct",
                  xaxis={"range": [0, 1.02]}, yaxis={"range": [0, 1.02]})


with tabs[2]:
    groups = [g for g in data["calibration"] if g["bins"]]
    section(
        groups, key="chart_calibration", figure=calibration_figure,
        table_rows=[{"group": g["group"], **b} for g in groups for b in g["bins"]],
        empty="No final judgments with probabilities to calibrate.",
        caption="Final judgments per judge, binned by the probability put on the chosen answer, against the "
                "share of them whose chosen answer is correct (95% intervals). On the diagonal is calibrated; "
                "ECE = expected calibration error.",
    )


def rounds_figure(rrows: list[dict]) -> go.Figure:
    fig = go.Figure()
    for key in sorted({(r["setting"], r["judge"]) for r in rrows}):
        part = [r for r in rrows if (r["setting"], r["judge"]) == key and r["accuracy"] is not None]
        if not part:
            continue
        fig.add_trace(go.Scatter(name=plain(" · ".join(key)), x=[r["rounds"] for r in part],
                                 y=[r["accuracy"] for r in part], error_y=err(part, "accuracy"),
                                 mode="lines+markers", customdata=[r["n"] for r in part],
                                 hovertemplate="%{x} rounds: %{y:.2f} (n=%{customdata})"))
    return layout(fig, height=420, x="rounds", y="accuracy, 95% CI", yaxis={"range": [0, 1.05]}, xaxis={"dtick": 1})


with tabs[3]:
    section(data["by_rounds"], key="chart_rounds", figure=rounds_figure,
            empty="No final judgments on transcripts to count rounds for.",
            caption="Accuracy by the number of rounds the transcript ran (95% intervals); a timed-out debate counts "
                    "at the rounds it reached.")


def debaters_figure(drows: list[dict]) -> go.Figure:
    labels = [setting_label(r) for r in drows]
    fig = go.Figure()
    for name, value, low, high in (("honest debater", "honest_win_rate", "honest_ci_low", "honest_ci_high"),
                                   ("debater A", "a_win_rate", "a_ci_low", "a_ci_high"),
                                   ("debater B", "b_win_rate", "b_ci_low", "b_ci_high")):
        fig.add_trace(go.Bar(name=name, x=labels, y=[r[value] for r in drows], error_y=err(drows, value, low, high)))
    return layout(fig, height=400, y="win rate, 95% CI", barmode="group", yaxis={"range": [0, 1.05]})


with tabs[4]:
    section(data["debates"], key="chart_debaters", figure=debaters_figure,
            empty="No judged debates (transcripts with debaters A and B, one honest) match these filters.",
            caption="How often the judge's final answer sided with each debater (95% intervals). Siding with the "
                    "honest debater is being correct, so its win rate is the debate accuracy; timed-out debates are "
                    "in the table.")

with tabs[5]:
    section(
        data["consultancy"], key="chart_consultancy",
        empty="No judged consultancies match these filters.",
        caption="Judge accuracy when the consultant argued the correct answer (honest) and when not "
                "(95% intervals); the table also gives how often the judge sided with the consultant, and the "
                "timed-out consultancies.",
        figure=lambda rs: layout(
            grouped_bars(rs, lambda r: r["consultant"], setting_label, name=lambda who: f"{who} consultant",
                         order=("honest", "dishonest")),
            height=400, y="judge accuracy, 95% CI", barmode="group", yaxis={"range": [0, 1.05]}),
    )


def times_figure(trows: list[dict]) -> go.Figure:
    fig = go.Figure()
    for r in trows:
        fig.add_trace(go.Box(name=setting_label(r), y=r["seconds"], boxpoints="outliers"))
    return layout(fig, height=400, y="seconds", showlegend=False)


with tabs[6]:
    section(data["times"], key="chart_times", figure=times_figure, drop=("seconds",),
            empty="No timed judgments by human judges match these filters (imported NYU judgments carry no timings).",
            caption="Seconds per judgment of human judges (every timed judgment, final or not).")


def percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def interval_words(low: float | None, high: float | None, unbounded: bool, share: float) -> str:
    if unbounded:
        return f"unbounded (undefined in {100 * share:.0f}% of resamples)"
    return "—" if low is None or high is None else f"{percent(low)} to {percent(high)}"


def sandwich_section() -> None:
    result = sandwich(study_id=study_id)
    if result.empty:
        st.info(result.message)
        return
    st.caption("Accuracy per condition (final answers; practice and catch items excluded; the filters above do not "
               "apply), with n answers, items and people; intervals as named at the top. Non-expert conditions "
               "count non-experts' answers only, the expert condition experts' only. Timed-out tasks: counted per "
               "row, and the accuracy counting them as incorrect (itt_). "
               "Gap closed = (assisted − alone) / (expert − alone).")
    if result.gold_stands_in:
        st.caption("Gold stands in for experts: no expert answers yet, so the expert bar is the gold answer "
                   "(100%), not a measured accuracy.")
    if adaptively_sampled(study_id):
        st.warning("Versions were dealt by Thompson sampling: who saw which version depended on earlier outcomes, "
                   "so the per-version rows are adaptively sampled. Loops → Outer loop shows inverse-probability-"
                   "weighted figures beside them.")
    st.plotly_chart(sandwich_figure(result), width="stretch", key="chart_sandwich")
    table(table_rows(result), drop=("dry_run", "unbounded", "undefined_share", "note"))
    gap = result.gap_closed
    if gap is not None:
        st.metric("Gap closed (all assisted conditions)", percent(gap.estimate),
                  help="95% interval: " + interval_words(gap.ci_low, gap.ci_high, gap.unbounded,
                                                          gap.gap.undefined_share))
        if gap.estimate is not None:
            st.caption(f"Gap closed: {gap_text(gap)}.")
        if gap.note and not gap.unbounded:
            st.caption(gap.note)
        st.dataframe([{"assisted": g["name"], "gap_closed": g["estimate"],
                       "95% interval": interval_words(g["ci_low"], g["ci_high"], g["unbounded"],
                                                      g["undefined_share"]),
                       "n": g["n"], "n_items": g["n_items"], "n_people": g["n_people"],
                       "gap_closed_itt": g["itt_estimate"], "note": g["note"]}
                      for g in gap_rows(result)[1:]], hide_index=True, width="stretch")
    if any(p.items for p in result.paired):
        st.subheader("Paired per item")
        st.caption("Items answered both alone and with the model: per item, accuracy with the model minus "
                   "accuracy alone; the mean difference (every item weighs the same) with its 95% interval.")
        st.plotly_chart(paired_figure(result), width="stretch", key="chart_paired")
        st.dataframe([{"assisted": p.name, "n_items": p.n_items, "n_people": p.difference.n_people,
                       "mean_alone": p.mean_alone, "mean_assisted": p.mean_assisted,
                       "difference": p.difference.estimate,
                       "95% interval": interval_words(p.ci_low, p.ci_high, p.difference.unbounded,
                                                      p.difference.undefined_share)}
                      for p in result.paired], hide_index=True, width="stretch")
    c1, c2 = st.columns(2)
    c1.download_button("Download table (CSV)", data=to_csv(result), file_name=f"sandwich-study-{study_id}.csv",
                       mime="text/csv", key="sandwich_csv")
    c2.download_button("Download figure (HTML)", data=lambda: figure_html(result),
                       file_name=f"sandwich-study-{study_id}.html", mime="text/html", key="sandwich_html")


with tabs[7]:
    sandwich_section()

export_section()
