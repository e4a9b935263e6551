"""Admins: the sandwiching loops of a study. Inner loop: where each strategy version stands against the study's
convergence thresholds, the questionnaires, and participants' proposals (made into candidate versions here).
Outer loop: per-version figures with 95% intervals, the lineage of versions, promoting or retiring a version, and
every decision. Everything is computed in `oversight.sandwiching.inner_loop` and `oversight.sandwiching.outer_loop`; this page draws it."""

import plotly.graph_objects as go
import streamlit as st

from oversight.sandwiching.inner_loop import (
    PROPOSAL_KINDS, PROPOSAL_STATUSES, accept_proposal, convergence, decline_proposal, list_proposals,
    questionnaire_summaries, set_convergence, thresholds,
)
from oversight.results.intervals import METHOD
from oversight.sandwiching.outer_loop import decision_history, lineage, promote, retire, study_reviews, version_figures
from oversight.protocols.registry import get_protocol
from oversight.protocols.strategies import field_meta, list_strategies, rule_label
from oversight.study.studies import get_study
from web.rules_form import rules_inputs
from web.ui import attempt, escape_markdown, pick_study, require_role

user = require_role("admin")
st.title("Loops")
study_id = pick_study()
FLASH = "loops-flash"
# Always one element here, so that the tabs below keep their place (and the chosen tab) when the message goes on
# the next rerun (e.g. choosing a version to promote right after making it a candidate).
flash_box = st.empty()
if FLASH in st.session_state:
    flash_box.success(escape_markdown(st.session_state.pop(FLASH)))  # names in it are people's text


def done(message: str) -> None:
    st.session_state[FLASH] = message
    st.rerun()


def plain(label: object) -> str:
    """Plotly reads a few HTML tags in labels: names from users are shown as text."""
    return str(label).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def interval(d: dict, key: str = "rate", fmt: str = "{:.0%}") -> str:
    if d.get(key) is None:
        return "n/a"
    if d.get("unbounded"):
        ci = f" [no interval: undefined in {d['undefined_share']:.0%} of resamples]"
    else:
        ci = "" if d.get("ci_low") is None else f" [{fmt.format(d['ci_low'])}, {fmt.format(d['ci_high'])}]"
    return fmt.format(d[key]) + ci


def counted(d: dict) -> str:
    """A share with its interval and its n of answers, items and people."""
    return interval(d) + f" n={d['n']} ({d.get('n_items', 0)} items, {d.get('n_people', 0)} people)"


figures = version_figures(study_id)
states = convergence(study_id)
if any(f["simulated"] for f in figures) or any(c.simulated for c in states):
    st.warning("These figures include simulated participants.")

inner, outer = st.tabs(["Inner loop (non-experts)", "Outer loop (experts)"])

with inner:
    limits = thresholds(get_study(study_id))
    st.subheader("Convergence per version")
    with st.expander("When has a version's inner loop converged?"):
        with st.form("thresholds"):
            n = st.number_input("At least this many participants", 1, 100_000, int(limits["min_participants"]))
            conf = st.slider("Mean self-reported sureness (1-5 as 0-1) at least", 0.0, 1.0,
                             float(limits["min_confidence"]), 0.05)
            agree = st.slider("Agreement among non-experts (share matching the item's majority) at least", 0.0, 1.0,
                              float(limits["min_agreement"]), 0.05)
            if st.form_submit_button("Save thresholds"):
                ok, _ = attempt(set_convergence, study_id=study_id, user_id=user.id, min_participants=int(n),
                                min_confidence=conf, min_agreement=agree)
                if ok:
                    done("Thresholds saved.")
    if not states:
        st.info("No strategy version has been dealt yet: convergence appears once participants work under one.")
    else:
        st.caption(f"Converged: at least {int(limits['min_participants'])} participants, sureness ≥ "
                   f"{limits['min_confidence']:.2f} and agreement ≥ {limits['min_agreement']:.2f}.")
        st.dataframe([{"version": c.label, "participants": c.n_participants, "questionnaires": c.n_questionnaires,
                       "sureness": c.confidence, "agreement": c.agreement, "model helped (1-5)": c.helped,
                       "converged": "yes" if c.converged else "no", "missing": "; ".join(c.missing)}
                      for c in states], hide_index=True, width="stretch",
                     column_config={k: st.column_config.NumberColumn(format="%.2f")
                                    for k in ("sureness", "agreement", "model helped (1-5)")})
        fig = go.Figure()
        labels = [plain(c.label) for c in states]
        fig.add_bar(x=labels, y=[c.confidence for c in states], name="sureness")
        fig.add_bar(x=labels, y=[c.agreement for c in states], name="agreement")
        fig.add_hline(y=limits["min_confidence"], line_dash="dot", annotation_text="sureness threshold",
                      annotation_position="top left")
        fig.add_hline(y=limits["min_agreement"], line_dash="dash", annotation_text="agreement threshold",
                      annotation_position="bottom right")
        fig.update_layout(barmode="group", height=320, yaxis_range=[0, 1], margin={"l": 10, "r": 10, "t": 40, "b": 30},
                          legend={"orientation": "h", "y": 1.08})
        st.plotly_chart(fig, width="stretch", key="chart_convergence")

    st.subheader("Questionnaires")
    summaries = questionnaire_summaries(study_id)
    if not summaries:
        st.info("No participant has answered a questionnaire yet (they do after their last item).")
    else:
        names = {c.strategy_id: c.label for c in states}
        st.dataframe([{"condition": q.condition, "version": names.get(q.strategy_id, "—"), "answers": q.n,
                       "sure (1-5)": q.sure, "model helped (1-5)": q.helped, "suggestions": len(q.changes)}
                      for q in summaries], hide_index=True, width="stretch",
                     column_config={k: st.column_config.NumberColumn(format="%.2f")
                                    for k in ("sure (1-5)", "model helped (1-5)")})
        for q in summaries:
            if q.changes:
                with st.expander(f"What participants would change: {escape_markdown(q.condition)} · "
                                 f"{escape_markdown(names.get(q.strategy_id, 'no model'))} ({len(q.changes)})"):
                    for change in q.changes:
                        st.text(change)

    st.subheader("Proposals")
    versions = {v.id: v for v in list_strategies(study_id=study_id)}

    def rules_proposal_form(p) -> None:
        """The proposal's version's rules, labelled and prefilled, to edit as the proposal asks: accepting makes the
        candidate version with them, checked as `proposals accept --rules` checks them (accept_proposal)."""
        parent = versions[p.strategy_id]
        with st.form(f"rules-{p.id}"):
            st.caption(f"Accept: edit the rules of {parent.name} v{parent.version} as the proposal asks. The candidate "
                       "version gets these rules, with the proposal in its reason.")
            edited = rules_inputs(f"prop-{p.id}", get_protocol(parent.protocol).parse_rules(parent.rules))
            if st.form_submit_button("Accept with these rules", type="primary"):
                changed = {k: v for k, v in edited.items() if parent.rules.get(k) != v}
                with st.spinner("Making the version…"):
                    ok, made = attempt(accept_proposal, p.id, user.id, rules=changed or None)
                if ok:
                    what = ", ".join(rule_label(field_meta(parent.protocol, k), k) for k in changed)
                    done(f"Proposal #{p.id} is now candidate version {made.version}"
                         + (f" (changed: {what})." if what else f". {made.note}"))

    status = st.selectbox("Show", PROPOSAL_STATUSES, index=0, key="proposal-status")
    proposals = list_proposals(study_id, status=status)
    if not proposals:
        st.info(f"No {status} proposals.")
    for p in proposals:
        with st.container(border=True):
            who = p.participant + (" (simulated)" if p.simulated else "")
            st.markdown(f"**#{p.id} · {escape_markdown(PROPOSAL_KINDS.get(p.kind, p.kind))}** for "
                        f"{escape_markdown(p.strategy)} · from {escape_markdown(who)}")
            st.text(p.text)
            st.caption("Why:")
            st.text(p.reason)
            if p.child_strategy_id:
                st.caption(f"Made into strategy version id {p.child_strategy_id}.")
            if p.status == "open":
                if p.kind == "rules" and p.strategy_id in versions:
                    rules_proposal_form(p)
                left, right = st.columns(2)
                if p.kind != "rules" and left.button("Make candidate version", key=f"accept-{p.id}", type="primary"):
                    with st.spinner("Making the version…"):
                        ok, made = attempt(accept_proposal, p.id, user.id)
                    if ok:
                        done(f"Proposal #{p.id} is now candidate version {made.version}. {made.note}".strip())
                if right.button("Decline", key=f"decline-{p.id}"):
                    if attempt(decline_proposal, p.id, user.id)[0]:
                        done(f"Proposal #{p.id} declined.")

with outer:
    st.subheader("Figures per version")
    if not figures:
        st.info("No strategy version has been dealt yet.")
    else:
        st.caption("From non-experts' results: final answers, without practice items, attention checks, excluded, "
                   "preview or (outside a dry run) simulated people; experts' own answers are not pooled in. "
                   "Expert-judged success: the settled rubric outcome is “correct” (disagreements without "
                   "adjudication are left out). Accuracy excludes timed-out tasks; “counting timed out” scores "
                   f"them as incorrect. {METHOD}; calibration: Brier score of the probability on the chosen "
                   "answer, and ECE.")
        adaptive = any(f.get("adaptive") for f in figures)
        if adaptive:
            st.warning("Adaptively sampled: Thompson sampling dealt these versions, so who saw which version "
                       "depended on earlier outcomes and the plain (naive) figures can be biased. Beside them, "
                       "“IPW” weights each answer by 1 / the probability its version had of being drawn "
                       "(stored with each assignment).")
        st.dataframe([{"id": f["strategy_id"], "version": f["label"], "answers": f["n_judgments"],
                       "reviewed": f["n_reviewed"], "timed out": f.get("n_timed_out", 0),
                       "expert-judged success": counted(f["expert_success"]),
                       **({"expert-judged success, IPW": counted(f["expert_success_ipw"])} if adaptive else {}),
                       "accuracy": counted(f["accuracy"]),
                       **({"accuracy, IPW": counted(f["accuracy_ipw"])} if adaptive else {}),
                       "accuracy counting timed out": counted(f["accuracy_itt"]),
                       "Brier": interval(f["brier"], "mean", "{:.3f}"),
                       "ECE": "n/a" if f["ece"] is None else f"{f['ece']:.3f}",
                       "help quality": interval(f["help_quality"], "mean", "{:.2f}"),
                       **{flag: interval(share) for flag, share in f["flags"].items()}}
                      for f in figures], hide_index=True, width="stretch")
        fig = go.Figure()
        labels = [plain(f["label"]) for f in figures]
        series = [("expert_success", "expert-judged success"), ("accuracy", "non-expert accuracy")]
        if adaptive:
            series += [("expert_success_ipw", "expert-judged success, IPW"), ("accuracy_ipw", "accuracy, IPW")]
        for key, name in series:
            vals = [f[key] for f in figures]
            fig.add_scatter(x=labels, y=[v["rate"] for v in vals], mode="markers", name=name,
                            error_y={"type": "data", "symmetric": False,
                                     "array": [(v["ci_high"] - v["rate"]) if v["ci_high"] is not None else 0
                                               for v in vals],
                                     "arrayminus": [(v["rate"] - v["ci_low"]) if v["ci_low"] is not None else 0
                                                    for v in vals]})
        fig.update_layout(height=340, yaxis_range=[0, 1], yaxis_title="share (95% CI)", scattermode="group",
                          xaxis={"type": "category", "categoryorder": "array", "categoryarray": labels},
                          margin={"l": 10, "r": 10, "t": 40, "b": 30}, legend={"orientation": "h", "y": 1.08})
        st.plotly_chart(fig, width="stretch", key="chart_versions")

    st.subheader("Lineage")
    tree = lineage(study_id)
    if not tree:
        st.info("No strategies in this study yet.")
    for node in tree:
        badge = f" · **{node.status}**" if node.status else ""
        deals = f" · dealt by {escape_markdown(', '.join(node.conditions))}" if node.conditions else ""
        with st.expander(f"{'↳' * node.depth} {escape_markdown(node.name)} v{node.version}"
                         f"{' · ' + node.status if node.status else ''}".strip()):
            st.markdown(f"id {node.strategy_id} · {escape_markdown(node.protocol)}{badge}{deals} · "
                        f"{node.n_reviews} review(s) · {node.open_proposals} open proposal(s)")
            st.caption("Why this version:")
            st.text(node.reason)
            for prop in node.proposals:
                st.caption(f"Made from proposal #{prop['id']} ({PROPOSAL_KINDS.get(prop['kind'], prop['kind'])}):")
                st.text(prop["text"])
            for d in node.decisions:
                st.caption(f"{d['at'][:16]} {d['decision']}"
                           + (f", answering reviews {d['review_ids']}" if d["review_ids"] else ""))
                st.text(d["rationale"])

    st.subheader("Promote or retire a version")
    if tree:
        labels = {n.strategy_id: f"{n.name} v{n.version}" + (f" ({n.status})" if n.status else "") for n in tree}
        # Outside the form, so that choosing a version narrows the reviews at once; the form's widgets carry a
        # counter in their keys, bumped after a decision, so the next one starts empty.
        chosen = st.selectbox("Version", list(labels), format_func=labels.__getitem__, key="decide-version")
        reviews = {r["id"]: r for r in study_reviews(study_id, strategy_id=chosen)}
        round_ = st.session_state.setdefault("decide-round", 0)
        with st.form(f"decide-{chosen}-{round_}"):
            rationale = st.text_area("Rationale (kept with the decision)", max_chars=3000,
                                     key=f"decide-rationale-{round_}")
            linked = st.multiselect("The expert reviews it answers", list(reviews),
                                    format_func=lambda rid: f"#{rid} · "
                                    f"{labels.get(reviews[rid]['strategy_id'], 'no version')} · outcome "
                                    f"{reviews[rid]['outcome'] or '—'}",
                                    help="Reviews of this version and of the versions it descends from.",
                                    key=f"decide-reviews-{chosen}-{round_}")
            if not reviews:
                st.caption("No expert review of this version or the versions it descends from yet.")
            go_promote = st.form_submit_button("Promote", type="primary")
            go_retire = st.form_submit_button("Retire")

        def decided(message: str) -> None:
            st.session_state["decide-round"] = round_ + 1
            done(message)

        if go_promote:
            ok, moved = attempt(promote, chosen, rationale, linked, user.id)
            if ok:
                decided(f"Promoted {labels[chosen]}. "
                        + (f"Now dealt by: {', '.join(moved)}." if moved else "No assisted condition of its lineage "
                                                                             "needed re-pointing."))
        if go_retire and attempt(retire, chosen, rationale, user.id, linked)[0]:
            decided(f"Retired {labels[chosen]}.")

    st.subheader("Decisions")
    history = decision_history(study_id)
    if not history:
        st.info("No version has been made a candidate, promoted or retired yet.")
    else:
        st.dataframe([{**h, "review_ids": ", ".join(map(str, h["review_ids"]))} for h in history],
                     hide_index=True, width="stretch")
