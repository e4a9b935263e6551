"""Admin: strategies as versioned data — build one, make a new version with a reason, choose which versions
participants are dealt, and run AI-only batches with a progress bar."""

import json

import streamlit as st

from oversight.jobs import get_job, list_jobs, start_job
from oversight.models import model_infos
from oversight.protocols.batch import run_batch
from oversight.protocols.rules import PROTOCOLS, Rules
from oversight.strategies import (
    HUMAN_PROTOCOLS, StrategyError, create_strategy, list_strategies, new_version, set_arms,
)
from oversight.studies import get_study
from ui import pick_study, require_role, user_error

user = require_role("admin")
st.title("Strategies")
study_id = pick_study()
if flash := st.session_state.pop("strategies_flash", None):
    st.success(flash)


def saved(row) -> None:
    """Rerun so every tab (versions, arms, runs) lists the new row, and say so at the top."""
    st.session_state["strategies_flash"] = f"Saved {row.name} v{row.version} (#{row.id})."
    st.rerun()


rows = list_strategies(study_id=study_id)
by_id = {r.id: r for r in rows}
model_names = [""] + [m["name"] for m in model_infos()]


def label(sid: int) -> str:
    r = by_id[sid]
    return f"{r.name} v{r.version} [{r.protocol}] (#{r.id})"


def rules_form(key: str, protocol: str, rules: Rules, roles: dict) -> tuple[dict, dict]:
    """The rule widgets, prefilled; returns (rules, model roles) as the strategy stores them."""
    c1, c2, c3 = st.columns(3)
    out: dict = {}
    with c1:
        out["rounds"] = st.number_input("Rounds (judge must end by)", 1, 20, rules.rounds, key=f"{key}-rounds")
        out["speeches"] = st.radio("Speeches after round 1", ["simultaneous", "sequential"],
                                   index=["simultaneous", "sequential"].index(rules.speeches), key=f"{key}-sp",
                                   horizontal=True)
        out["char_limit"] = st.number_input("Characters per speech", 50, 20000, rules.char_limit, key=f"{key}-cl")
        out["quote_limit"] = st.number_input("Quoted characters per speech", 0, 20000, rules.quote_limit,
                                             key=f"{key}-ql")
        out["best_of_n"] = st.number_input("Best-of-N speeches (AI debaters)", 1, 16, rules.best_of_n,
                                           key=f"{key}-bon")
    with c2:
        out["judge_questions"] = st.checkbox("Judge may write questions between rounds", rules.judge_questions,
                                             key=f"{key}-jq")
        out["judge_may_end_early"] = st.checkbox("Judge may end early", rules.judge_may_end_early, key=f"{key}-ee")
        out["randomise_answer_order"] = st.checkbox("Randomise answer order", rules.randomise_answer_order,
                                                    key=f"{key}-ro")
        out["feedback_after_judging"] = st.checkbox("Show the correct answer and score after judging",
                                                    rules.feedback_after_judging, key=f"{key}-fb")
        out["consultant_honest_p"] = st.slider("Consultant honest with probability", 0.0, 1.0,
                                               rules.consultant_honest_p, 0.05, key=f"{key}-hp")
    with c3:
        out["scoring"] = st.selectbox("Scoring rule", ["log", "quadratic"], ["log", "quadratic"].index(rules.scoring),
                                      key=f"{key}-sc")
        out["turn_penalty"] = st.number_input("Penalty per round continued", 0.0, 1.0, rules.turn_penalty, 0.01,
                                              key=f"{key}-tp")
        turn = st.number_input("Time per judge report, s (0: none)", 0, 3600, rules.turn_time_limit_s or 0,
                               key=f"{key}-tt")
        total = st.number_input("Total time, s (0: none)", 0, 36000, rules.total_time_limit_s or 0, key=f"{key}-to")
        out["turn_time_limit_s"], out["total_time_limit_s"] = (turn or None), (total or None)
    st.markdown("**Models** (empty: the configured default for the role)")
    m1, m2, m3 = st.columns(3)
    new_roles = {}
    for col, role in zip((m1, m2, m3), ("debater", "consultant", "judge")):
        current = roles.get(role, "")
        chosen = col.selectbox(role.capitalize(), model_names,
                               index=model_names.index(current) if current in model_names else 0, key=f"{key}-{role}")
        if chosen:
            new_roles[role] = chosen
    return out, new_roles


tab_list, tab_new, tab_version, tab_arms, tab_run = st.tabs(
    ["Versions", "New strategy", "New version", "Participants' arms", "AI batch run"])

with tab_list:
    if not rows:
        st.info("No strategies yet. Build one under “New strategy”.")
    else:
        st.dataframe(
            [{"id": r.id, "name": r.name, "version": r.version, "protocol": r.protocol,
              "parent": label(r.parent_id) if r.parent_id in by_id else "", "reason": r.reason,
              "models": json.dumps(r.model_roles), "rules": json.dumps(r.rules),
              "created": r.created_at.strftime("%Y-%m-%d %H:%M")} for r in rows],
            hide_index=True, width="stretch")

with tab_new:
    name = st.text_input("Name", key="new-name")
    protocol = st.selectbox("Protocol", PROTOCOLS, key="new-protocol")
    rules, roles = rules_form("new", protocol, Rules(protocol=protocol), {})
    if st.button("Save version 1", type="primary"):
        try:
            row = create_strategy(study_id=study_id, name=name, protocol=protocol, rules=rules, model_roles=roles,
                                  user_id=user.id)
        except StrategyError as exc:
            user_error(exc)
        else:
            saved(row)

with tab_version:
    if not rows:
        st.info("Nothing to version yet.")
    else:
        parent_id = st.selectbox("Start from", [r.id for r in rows][::-1], format_func=label, key="ver-parent")
        parent = by_id[parent_id]
        rules, roles = rules_form(f"ver-{parent_id}", parent.protocol, Rules.from_dict(parent.protocol, parent.rules),
                                  parent.model_roles)
        reason = st.text_area("Why this version? (kept with it)", key=f"ver-reason-{parent_id}")
        if st.button("Save as a new version", type="primary"):
            try:
                row = new_version(parent_id=parent_id, reason=reason, rules=rules, model_roles=roles, user_id=user.id)
            except StrategyError as exc:
                user_error(exc)
            else:
                saved(row)

with tab_arms:
    study = get_study(study_id)
    human = [r.id for r in rows if r.protocol in HUMAN_PROTOCOLS]
    st.caption("Participants are dealt these strategy versions in rotation, item by item; items a protocol cannot "
               "run on (a debate needs two options and a source text) go to the next arm. None: plain direct QA.")
    arms = st.multiselect("Arms", human, default=[a for a in study.arms if a in human], format_func=label)
    if st.button("Save arms"):
        try:
            set_arms(study_id=study_id, strategy_ids=arms, user_id=user.id)
        except StrategyError as exc:
            user_error(exc)
        else:
            st.success("Saved. New participants are dealt these arms.")

with tab_run:
    st.caption("AI debaters (or consultants) and the AI judge over this study's items. Results fill the same "
               "tables as human judging, so the Results page compares them on the same items.")
    if rows:
        sid = st.selectbox("Strategy version", [r.id for r in rows][::-1], format_func=label, key="run-sid")
        limit = st.number_input("Items (0: all)", 0, 100000, 10)
        if st.button("Start run", type="primary"):
            st.session_state["run_job"] = start_job(
                kind="batch", study_id=study_id, user_id=user.id, params={"strategy_id": sid, "limit": limit},
                fn=lambda progress: run_batch(study_id=study_id, strategy_id=sid, limit=limit or None,
                                              progress=progress).to_dict())

    @st.fragment(run_every=1.0)
    def job_status() -> None:
        jobs = list_jobs(study_id=study_id, limit=5)
        if not jobs:
            st.info("No runs yet.")
            return
        for job in jobs:
            job = get_job(job.id)
            st.progress(job.progress, text=f"Job #{job.id} {job.kind} · {job.state} · {job.message}")
            if job.state == "failed":
                st.error(job.error or "failed")
            elif job.state == "done":
                acc = job.result.get("accuracy")
                st.text(f"{job.result.get('n', 0)} items judged, accuracy "
                        f"{'n/a' if acc is None else f'{acc:.3f}'}, {job.result.get('errors', 0)} errors")

    job_status()
