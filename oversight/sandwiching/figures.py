"""The sandwich chart (Bowman et al. 2022, Table 1 as bars) and the paired per-item comparison, as plotly figures.

Built from an `oversight.sandwiching.analysis.SandwichResult`, so the page, a notebook and an export draw the same picture.
Condition and strategy names come from users: plotly reads a few HTML tags in labels, so they are escaped.
"""

from __future__ import annotations

import html

import plotly.graph_objects as go

from oversight.sandwiching.analysis import ConditionAccuracy, GapClosed, SandwichResult

COLORS = {"model": "#7f7f7f", "alone": "#d62728", "assisted": "#1f77b4", "expert": "#2ca02c"}


def _plain(label: object) -> str:
    return html.escape(str(label), quote=False)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _signed(value: float | None) -> str:
    return "—" if value is None else f"{value:+.3f}"


def gap_text(gap: GapClosed) -> str:
    """'66.7% [40.1%, 93.0%]', or '50.0%, unbounded (undefined in 31% of resamples)'."""
    if gap.unbounded:
        return f"{_pct(gap.estimate)}, unbounded (undefined in {100 * gap.gap.undefined_share:.0f}% of resamples)"
    if gap.ci_low is None or gap.ci_high is None:
        return _pct(gap.estimate)
    return f"{_pct(gap.estimate)} [{_pct(gap.ci_low)}, {_pct(gap.ci_high)}]"


def chart_rows(result: SandwichResult) -> list[ConditionAccuracy]:
    """The bars: every condition; for an assisted condition its versions, and the pooled bar only where it
    has more than one version (with one, the pooled bar would repeat it)."""
    versions: dict[int | None, int] = {}
    for c in result.conditions:
        if c.kind == "assisted" and c.strategy_id is not None:
            versions[c.condition_id] = versions.get(c.condition_id, 0) + 1
    return [c for c in result.conditions
            if not (c.kind == "assisted" and c.strategy_id is None and versions.get(c.condition_id, 0) == 1)]


def _title(text: str, result: SandwichResult) -> str:
    notes = []
    if result.dry_run:
        notes.append("dry run: figures from simulated people")
    if result.gold_stands_in:
        notes.append("gold stands in for experts")
    return text + (f"<br><sup>{'; '.join(notes)}</sup>" if notes else "")


def sandwich_figure(result: SandwichResult, *, standalone: bool = False) -> go.Figure:
    """Accuracy of model alone, non-expert alone, non-expert + model per version and experts, with 95 % intervals
    (`oversight.results.intervals`: two-way cluster bootstrap over items and people); the gap between alone and expert
    shaded, the share closed annotated (unbounded said in words). `standalone` (an exported figure): the title
    names the intervals' method, which the page names once at its top."""
    rows = chart_rows(result)
    fig = go.Figure()
    x = [_plain(c.name) for c in rows]
    y = [c.estimate if c.estimate is not None else 0 for c in rows]
    fig.add_trace(go.Bar(
        x=x, y=y, name="accuracy",
        marker={"color": [COLORS.get(c.kind, "#9467bd") for c in rows],
                "pattern": {"shape": ["/" if c.gold_stands_in else "" for c in rows]}},
        error_y={"type": "data", "symmetric": False,
                 "array": [(c.ci_high - c.estimate) if c.estimate is not None and c.ci_high is not None else 0
                           for c in rows],
                 "arrayminus": [(c.estimate - c.ci_low) if c.estimate is not None and c.ci_low is not None else 0
                                for c in rows]},
        text=[f"{_pct(c.estimate)}<br>n={c.n}" + (f"<br>{c.n_timed_out} timed out" if c.n_timed_out else "")
              + ("<br>(gold)" if c.gold_stands_in else "") for c in rows],
        textposition="inside", insidetextanchor="start",
        customdata=[[_pct(c.ci_low), _pct(c.ci_high)] for c in rows],
        hovertemplate="%{x}: %{y:.1%} [%{customdata[0]}, %{customdata[1]}]<extra></extra>",
    ))
    alone = next((c.estimate for c in rows if c.kind == "alone" and c.estimate is not None), None)
    expert = next((c.estimate for c in rows if c.kind == "expert" and c.estimate is not None), None)
    if alone is not None and expert is not None and expert > alone:
        # The gap the assistance should close: from non-experts alone up to experts.
        fig.add_hrect(y0=alone, y1=expert, fillcolor="#ffdd57", opacity=0.2, line_width=0, layer="below")
        for level, label in ((alone, "non-expert<br>alone"), (expert, "expert")):
            fig.add_hline(y=level, line={"dash": "dot", "color": "gray", "width": 1})
            # Labelled in the right margin, where no bar or error bar can hide them.
            fig.add_annotation(text=label, xref="paper", x=1.005, xanchor="left", y=level, yanchor="middle",
                               showarrow=False, font={"size": 11, "color": "gray"}, align="left")
    gap = result.gap_closed
    if gap is not None:
        text = f"gap closed: {gap_text(gap)}" if gap.estimate is not None else f"gap closed: — ({_plain(gap.note)})"
        fig.add_annotation(text=text, xref="paper", yref="paper", x=1, y=1.0, xanchor="right", yanchor="bottom",
                           showarrow=False, font={"size": 13})
    fig.update_layout(
        title=_title("Sandwich: accuracy per condition (95% CI)"
                     + (f"<br><sup>{_plain(result.method)}</sup>" if standalone else ""), result),
        yaxis={"range": [0, 1.05], "tickformat": ".0%", "title": "accuracy"}, showlegend=False,
        height=480, margin={"l": 10, "r": 80, "t": 90, "b": 40},
    )
    return fig


def paired_figure(result: SandwichResult) -> go.Figure:
    """Per item answered alone and with the model: the distribution of (assisted − alone) accuracy, one histogram
    per assisted condition or version, with its mean difference and 95 % interval in the legend."""
    fig = go.Figure()
    for p in result.paired:
        if not p.items:
            continue
        fig.add_trace(go.Histogram(
            x=[r.assisted - r.alone for r in p.items], xbins={"start": -1.05, "end": 1.05, "size": 0.1},
            name=_plain(f"{p.name}: mean {_signed(p.difference.estimate)} [{_signed(p.ci_low)}, {_signed(p.ci_high)}], "
                        f"{p.n_items} items, {p.difference.n_people} people"), opacity=0.6, showlegend=True))
    fig.add_vline(x=0, line={"dash": "dash", "color": "gray"})
    fig.update_layout(
        title=_title("Paired per item: accuracy with the model − accuracy alone", result), barmode="overlay",
        xaxis={"range": [-1.05, 1.05], "title": "per-item difference (assisted − alone)"},
        yaxis={"title": "items"}, height=420, margin={"l": 10, "r": 10, "t": 90, "b": 40},
        legend={"orientation": "h", "yanchor": "top", "y": -0.2, "x": 0},
    )
    return fig


def figure_html(result: SandwichResult) -> str:
    """Both figures as one self-contained HTML page (plotly.js inlined, so it opens offline)."""
    parts = [sandwich_figure(result, standalone=True).to_html(full_html=False, include_plotlyjs=True)]
    if any(p.items for p in result.paired):
        parts.append(paired_figure(result).to_html(full_html=False, include_plotlyjs=False))
    return "<!doctype html><html><head><meta charset='utf-8'><title>Sandwich</title></head><body>" + \
        "".join(parts) + "</body></html>"
