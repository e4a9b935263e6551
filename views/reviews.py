"""Experts and admins: the Review queue. One finished assignment at a time with everything needed to judge it
(source, question, gold, transcript or chat, the participant's answer), the study's rubric as a form; then the
adjudication of disagreements, the agreement between experts, and (admins) the rubric and review settings.
The rules live in `oversight.sandwiching.reviews`, `oversight.sandwiching.rubrics` and `oversight.sandwiching.agreement`; every piece of user or
model text is shown as text."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from oversight.sandwiching.agreement import KAPPAS, Agreement, agreement, inputs_stamp
from oversight.sandwiching.reviews import (ReviewContext, adjudicate, adjudication_queue, empty_queue_reason,
                                           review_context, review_filters, review_queue, set_review_settings,
                                           submit_review)
from oversight.sandwiching.rubrics import asked, current_rubric, new_rubric_version, rubric_versions
from oversight.study.studies import get_study
from web.rubric_form import rubric_editor, rubric_inputs, show_review
from web.gold_gate import gold_gate_section
from web.ui import attempt, escape_markdown, pick_study, require_role, speech_markdown

user = require_role("admin", "expert")
st.title("Review queue")
study_id = pick_study()
study = get_study(study_id)
gold_gate_section(study_id, user.id)  # an expert answering first sees no gold (web/gold_gate.py)
rubric = current_rubric(study_id)
ALL = "All"
HOLDING = "rq-holding"  # (study, assignment) whose review form is open in this tab

# Always one element here, so that the tabs below keep their place (and the chosen tab) when the message goes on
# the next rerun (e.g. after saving the rubric, the admin stays on its tab).
flash_box = st.empty()
if flash := st.session_state.pop("review_flash", None):
    flash_box.success(flash)  # the page's own words (numbers, field names)


def show_context(ctx: ReviewContext) -> None:
    if ctx.blind:
        st.caption("Blind review: the strategy version, the participant and the condition's name are not "
                   "shown.")
    else:
        st.text(f"Strategy version: {ctx.strategy or 'none'} · participant: {ctx.participant or 'unknown'}")
    if ctx.simulated:
        st.caption("This answer comes from a simulated participant.")
    st.text(f"Condition: {ctx.condition or 'none'}")
    st.markdown("**Question**")
    st.text(ctx.question)
    for n, option in enumerate(ctx.options):
        marks = (" ✓ gold" if n == ctx.gold_index else "") + (" ← participant's answer" if n == ctx.answer_index
                                                               else "")
        p = f" (p = {ctx.probabilities[n]:.2f})" if n < len(ctx.probabilities) else ""
        st.text(f"{chr(65 + n)}. {option}{p}{marks}")
    if ctx.explanation:
        st.caption("Gold explanation")
        st.text(ctx.explanation)
    conf = f"{ctx.confidence:.0%}" if ctx.confidence is not None else "not given"
    st.text(f"Confidence in the answer: {conf}")
    st.markdown("**The participant's rationale**")
    st.text(ctx.rationale or "(none)")
    if ctx.source_text:
        with st.expander(f"Source{': ' + escape_markdown(ctx.source_title) if ctx.source_title else ''}"):
            st.text(ctx.source_text)
    if ctx.transcript is not None:
        with st.expander("Transcript", expanded=True):
            if not ctx.transcript.rounds:
                st.text("No turns.")
            for rnd in ctx.transcript.rounds:
                for turn in rnd.speeches:
                    st.markdown(f"**{escape_markdown(turn.label)}**")
                    st.markdown(speech_markdown(turn.text, turn.quotes))
                for note in rnd.notes:
                    st.markdown(f"**{escape_markdown(note.label)}**")
                    st.text(note.text)
    else:
        st.caption("No transcript: the participant answered without a model.")


names = ["Review", "Adjudication", "Agreement"] + (["Rubric and settings"] if user.role == "admin" else [])
tabs = dict(zip(names, st.tabs(names)))

with tabs["Review"]:
    filters = review_filters(study_id=study_id, expert_id=user.id)
    cols = st.columns(2)
    conditions = dict(filters.conditions)
    condition = cols[0].selectbox("Condition", [ALL, *conditions], key="rq_condition",
                                  format_func=lambda c: c if c == ALL else conditions[c])
    strategy = ALL
    if filters.strategies:
        strategies = dict(filters.strategies)
        strategy = cols[1].selectbox("Strategy version", [ALL, *strategies], key="rq_strategy",
                                     format_func=lambda c: c if c == ALL else strategies[c])
    queue = review_queue(study_id=study_id, expert_id=user.id, condition_id=None if condition == ALL else condition,
                         strategy_id=None if strategy == ALL else strategy)
    # The assignment whose form this expert has open stays theirs until they submit it: if another expert reviews
    # it meanwhile, it leaves the queue, and without this the submit would rerun onto the next assignment's form
    # and the review typed here would be lost without a word (it is stored as a second review instead).
    holding = st.session_state.get(HOLDING)
    held = holding is not None and holding[0] == study_id and holding[1] not in {e.assignment_id for e in queue}
    if not queue and not held:
        st.session_state.pop(HOLDING, None)
        st.info(escape_markdown(empty_queue_reason(
            study_id=study_id, expert_id=user.id, condition_id=None if condition == ALL else condition,
            strategy_id=None if strategy == ALL else strategy, answering_checked=True).message))
    else:
        assignment_id, second = (holding[1], False) if held else (queue[0].assignment_id, queue[0].second)
        st.session_state[HOLDING] = (study_id, assignment_id)
        st.caption(f"{len(queue)} waiting for you · assignment #{assignment_id}"
                   f"{' · a second review' if second else ''} · rubric v{rubric.version}")
        ok, ctx = attempt(review_context, assignment_id=assignment_id, expert_id=user.id)
        if not ok:
            st.session_state.pop(HOLDING, None)  # e.g. reviewed in another tab: the next run shows the next one
        else:
            show_context(ctx)
            with st.form(f"review-{assignment_id}"):
                labels = rubric_inputs(asked(rubric.fields, with_model=ctx.with_model), key=f"rq-{assignment_id}")
                notes = st.text_area("Notes for the study designers (what went wrong or well, and why)")
                if st.form_submit_button("Submit review", type="primary"):
                    with st.spinner("Saving your review…"):
                        saved, _ = attempt(submit_review, assignment_id=assignment_id, expert_id=user.id,
                                           labels=labels, notes=notes)
                    if saved:
                        st.session_state.pop(HOLDING, None)
                        left = len([e for e in queue if e.assignment_id != assignment_id])
                        st.session_state["review_flash"] = (f"Review of assignment #{assignment_id} saved."
                                                            + (" Next one below." if left else ""))
                        st.rerun()

with tabs["Adjudication"]:
    pending = adjudication_queue(study_id=study_id, expert_id=user.id)
    if not pending:
        st.info("No disagreements waiting for you: nothing two experts reviewed differently is unsettled "
                "(you never adjudicate a disagreement you are part of).")
    else:
        entry = pending[0]
        st.caption(f"{len(pending)} waiting · assignment #{entry.assignment_id} · the reviews disagree on "
                   f"{', '.join(entry.disputed)}")
        ok, ctx = attempt(review_context, assignment_id=entry.assignment_id, expert_id=user.id)
        if ok:
            for review in entry.reviews:
                show_review(review, rubric.fields)
            with st.expander("The assignment"):
                show_context(ctx)
            disputed = [f for f in rubric.fields if f["name"] in entry.disputed]
            with st.form(f"adjudicate-{entry.assignment_id}"):
                labels = rubric_inputs(disputed, key=f"adj-{entry.assignment_id}")
                notes = st.text_area("Why", key=f"adj-notes-{entry.assignment_id}")
                if st.form_submit_button("Settle", type="primary"):
                    with st.spinner("Saving…"):
                        saved, _ = attempt(adjudicate, assignment_id=entry.assignment_id, expert_id=user.id,
                                           labels=labels, notes=notes)
                    if saved:
                        st.session_state["review_flash"] = f"Assignment #{entry.assignment_id} settled."
                        st.rerun()

@st.cache_data(max_entries=32, show_spinner="Computing agreement and its intervals…")
def cached_agreement(study: int, stamp: tuple) -> Agreement:
    """The bootstrap takes a moment: computed again only when reviews, the rubric or who is left out change."""
    return agreement(study_id=study)


with tabs["Agreement"]:
    result = cached_agreement(study_id, inputs_stamp(study_id))
    if result.message:
        st.info(result.message)
    else:
        if result.includes_simulated:
            st.warning("These figures include simulated participants or experts.")
        st.caption(f"Over {result.n_double} assignments that two or more experts reviewed (results only: no "
                   "practice, attention checks or left-out participants). Alpha: Krippendorff's, at each field's "
                   "level. Kappa: Cohen's where one fixed pair of experts reviewed them all (linearly weighted for "
                   "ordinal fields), otherwise Fleiss'. Intervals: " + result.method + ". Empty: undefined (every "
                   "review gave the same value, or too few reviews for an interval). Ordinal fields keep one scale "
                   "across rubric versions.")

        def ci(low: float | None, high: float | None) -> str:
            return "" if low is None or high is None else f"[{low:.2f}, {high:.2f}]"

        table = pd.DataFrame([{"field": f.name, "level": f.level, "n": f.n, "experts": f.n_experts,
                               "alpha": f.alpha, "alpha 95% CI": ci(f.alpha_ci_low, f.alpha_ci_high),
                               "kappa": f.kappa, "kappa 95% CI": ci(f.kappa_ci_low, f.kappa_ci_high),
                               "kappa kind": KAPPAS.get(f.kappa_kind, ""),
                               "unanimous": f.unanimous, "adjudicated": f.adjudicated, "open": f.open,
                               "note": f.note} for f in result.fields])
        st.dataframe(table, hide_index=True)
        plotted = [f for f in result.fields if f.alpha is not None]
        if plotted:
            low = min(-0.1, *(f.alpha_ci_low if f.alpha_ci_low is not None else f.alpha for f in plotted))
            fig = go.Figure(go.Bar(
                x=[f.name for f in plotted], y=[f.alpha for f in plotted],
                error_y={"type": "data", "symmetric": False,
                         "array": [f.alpha_ci_high - f.alpha if f.alpha_ci_high is not None else 0 for f in plotted],
                         "arrayminus": [f.alpha - f.alpha_ci_low if f.alpha_ci_low is not None else 0
                                        for f in plotted]}))
            fig.update_layout(title="Krippendorff's alpha per rubric field (95% CI)", yaxis_range=[low, 1])
            st.plotly_chart(fig)

if "Rubric and settings" in tabs:
    with tabs["Rubric and settings"]:
        st.subheader(f"Rubric v{rubric.version}")
        st.dataframe(pd.DataFrame([{**f, "choices": ", ".join(map(str, f["choices"]))} for f in rubric.fields]),
                     hide_index=True)
        with st.expander("Earlier versions"):
            for version in rubric_versions(study_id):
                st.text(f"v{version.version} · {version.created_at:%Y-%m-%d %H:%M} · {version.reason}")
        with st.form("rubric-version"):
            st.caption("A new version: edit, remove or add fields. Reviews keep the version they were made under; "
                       "every choice and scale field must be answered, a flag left unticked is “no”.")
            # Keys carry the version: after a save the form starts again from the new version's fields.
            fields = rubric_editor(rubric.fields, key=f"rubric-v{rubric.version}")
            reason = st.text_input("Why the rubric changes", key=f"rubric-reason-v{rubric.version}")
            if st.form_submit_button("Save new version"):
                saved, row = attempt(new_rubric_version, study_id=study_id, fields=fields, reason=reason,
                                     user_id=user.id, base_version=rubric.version)
                if saved:
                    st.session_state["review_flash"] = f"Rubric v{row.version} saved."
                    st.rerun()
        st.subheader("Review settings")
        with st.form("review-settings"):
            share = st.number_input("Share of assignments a second expert reviews", 0.0, 1.0,
                                    float(study.review_share), step=0.05)
            blind = st.checkbox("Blind review: experts see neither the strategy version nor the participant, and "
                                "conditions by neutral names (Condition A, B, ...)",
                                value=study.blind_review)
            if st.form_submit_button("Save settings"):
                saved, changed = attempt(set_review_settings, study_id=study_id, user_id=user.id,
                                         review_share=share, blind_review=blind)
                if saved:
                    st.session_state["review_flash"] = ("Saved: " + ", ".join(changed)) if changed else "No change."
                    st.rerun()
