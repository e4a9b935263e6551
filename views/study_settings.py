"""Admin: a study's settings (name, description, instructions, consent text, items per participant, completion
code, pay; attention checks: catch items, minimum time, warn/exclude thresholds; the sandwiching design: within or
between subject, practice items, review share, blind review, allocation, convergence thresholds) and its
conditions, with the design at a glance; the launch check and the button that opens a draft. Every change is in the audit log, and the settings' changes (who, when, old
and new value) are listed under the form."""

import streamlit as st

from oversight.audit import setting_changes
from web.launch_panel import launch_section
from oversight.sandwiching.conditions import (KIND_LABELS, KINDS, add_condition, balance_check, design_summary, model_alone_plan,
                                  remove_condition, rename_condition, repoint_condition, run_model_condition,
                                  strategy_fits)
from oversight.jobs import list_jobs
from oversight.protocols.strategies import list_strategies
from oversight.study.studies import count_catch_items, get_study, update_study
from web.feedback_setting import feedback_setting
from web.dry_run_panel import dry_run_section
from web.job_progress import job_progress
from web.plan_tab import plan_section
from web.ui import attempt, escape_markdown, flash_and_rerun, pick_study, require_role, show_flash

user = require_role("admin")
st.title("Study settings")
study_id = pick_study()
study = get_study(study_id)
show_flash("settings_flash")
if study.status == "archived":  # read-only: the domain refuses every change too (oversight.study.archive)
    st.warning("This study is archived: it is read-only and its links are closed. Unarchive it on the Studies page "
               "to change it.")
    st.dataframe([{"setting": k, "value": "" if v is None else str(v)} for k, v in study.model_dump().items()
                  if k not in ("enrol_token_hash",)], hide_index=True, width="stretch")
    st.stop()


def flash(text: str) -> None:
    flash_and_rerun(text, "settings_flash")


launch = launch_section(study_id, study.status, user.id, flash_key="settings_flash")

with st.form(f"settings-{study_id}"):
    name = st.text_input("Name", study.name)
    description = st.text_area("Description (for staff)", study.description)
    instructions = st.text_area("Instructions (participants see them above their tasks)", study.instructions,
                                height=160)
    consent = st.text_area("Consent text (participants agree to it before the first task; empty: a short default)",
                           study.consent_text, height=160)
    c1 = st.columns(2)[0]
    per_person = c1.number_input("Items per participant (0: every item)", 0, 1_000_000,
                                 study.items_per_participant or 0,
                                 help="Real items (practice items come in addition). Applies to participants dealt "
                                      "from now on; dealt tasks stay as they are.")
    st.markdown("**Completion and pay**")
    st.caption("Each way of ending has its own code (set the same codes on Prolific). Participants are sent back to "
               "the completion redirect in the same tab with their code; those who came from Prolific go to "
               "Prolific's completion page when no redirect is set. Empty: no code for that ending.")
    k1, k2, k3, k4 = st.columns(4)
    code = k1.text_input("Completed", study.completion_code or "")
    code_no_consent = k2.text_input("No consent (\"I do not agree\")", study.code_no_consent or "")
    code_screened_out = k3.text_input("Screened out (attention checks)", study.code_screened_out or "")
    code_timed_out = k4.text_input("Timed out (every task)", study.code_timed_out or "")
    u1, u3, u2 = st.columns([3, 1, 1])
    completion_url = u1.text_input("Completion redirect ({code} becomes the ending's code)",
                                   study.completion_url or "",
                                   placeholder="https://app.prolific.com/submissions/complete?cc={code}")
    prolific_study_id = u3.text_input("Prolific study id", study.prolific_study_id or "",
                                      help="For the Prolific API mode (Participants page, Payments): bonuses, "
                                           "approvals and rejections are sent to this study.")
    currency = u2.text_input("Currency", study.currency, max_chars=3)
    p1, p2, p3 = st.columns(3)
    base_pay = p1.number_input("Base pay for finishing", 0.0, 1000.0, float(study.base_pay), 0.25)
    rules = ["none", "per_correct", "score"]
    bonus_rule = p2.selectbox("Bonus", rules, index=rules.index(study.bonus_rule),
                              format_func={"none": "none", "per_correct": "per correct answer",
                                           "score": "per point of score above a guess (the strategy's scoring "
                                                    "rule)"}.get)
    bonus_amount = p3.number_input("Bonus amount", 0.0, 1000.0, float(study.bonus_amount), 0.05)
    st.markdown("**Design**")
    d1, d2, d3 = st.columns(3)
    design = d1.radio("Conditions per participant", ["within", "between"], index=int(study.design == "between"),
                      format_func={"within": "within: each sees every condition",
                                   "between": "between: one condition each"}.get)
    practice = d2.number_input("Practice items (answer shown after each)", 0, 100, study.practice_items,
                               help="From items whose split is 'practice' if there are any, else the first sources "
                                    "of the study's order (never dealt for real). Excluded from every result.")
    allocation = d3.radio("Strategy versions", ["balanced", "thompson"], index=int(study.allocation == "thompson"),
                          format_func={"balanced": "balanced: each condition's current version",
                                       "thompson": "Thompson sampling over candidate versions"}.get)
    r1, r2 = st.columns(2)
    share = r1.number_input("Review share (assignments a second expert reviews)", 0.0, 1.0, study.review_share, 0.05)
    blind = r2.checkbox("Blind review (experts see neither the strategy version nor the participant)",
                        study.blind_review)
    st.markdown("**Attention checks**")
    n_catch = count_catch_items(study_id=study_id)
    a1, a2, a3, a4 = st.columns(4)
    catch = a1.number_input("Catch items per participant (0: off)", 0, 1000, study.catch_items,
                            help=f"Items whose split is 'catch' (a known answer any attentive reader gets right; this "
                                 f"study has {n_catch}), dealt among the real items, answered alone, never a result. "
                                 "Participants are not told which they are.")
    min_seconds = a2.number_input("Minimum seconds per item (0: off)", 0.0, 3600.0,
                                  float(study.min_seconds_per_item), 1.0,
                                  help="An answer submitted sooner than this after the task was shown is a flag.")
    warn_at = a3.number_input("Warn at flags (0: never)", 0, 1000, study.attention_warn,
                              help="Flags: wrong catch answers plus too-fast answers. Shown on the Monitor and "
                                   "Participants pages.")
    exclude_at = a4.number_input("Exclude at flags (0: never)", 0, 1000, study.attention_exclude,
                                 help="Excluded participants' answers are left out of every result, they earn no "
                                      "bonus and their base pay is held until you include or exclude them (Participants page).")
    st.markdown("**Inner loop converged when**")
    conv = study.convergence or {}
    k1, k2, k3 = st.columns(3)
    min_people = k1.number_input("At least N participants (0: not set)", 0, 100_000, conv.get("min_participants", 0))
    min_conf = k2.number_input("Mean confidence at least (0-1)", 0.0, 1.0, float(conv.get("min_confidence", 0.0)),
                               0.05)
    min_agree = k3.number_input("Agreement at least (0-1)", 0.0, 1.0, float(conv.get("min_agreement", 0.0)), 0.05)
    if st.form_submit_button("Save settings", type="primary"):
        convergence = {k: v for k, v in (("min_participants", int(min_people) or None),
                                         ("min_confidence", min_conf or None),
                                         ("min_agreement", min_agree or None)) if v is not None}
        ok, changed = attempt(update_study, study_id=study_id, user_id=user.id, name=name, description=description,
                              instructions=instructions, consent_text=consent,
                              items_per_participant=int(per_person) or None, completion_code=code, design=design,
                              practice_items=int(practice), allocation=allocation, review_share=float(share),
                              blind_review=bool(blind), convergence=convergence, completion_url=completion_url,
                              currency=currency, base_pay=float(base_pay), bonus_rule=bonus_rule,
                              bonus_amount=float(bonus_amount), catch_items=int(catch),
                              min_seconds_per_item=float(min_seconds), attention_warn=int(warn_at),
                              attention_exclude=int(exclude_at), code_no_consent=code_no_consent,
                              code_screened_out=code_screened_out, code_timed_out=code_timed_out,
                              prolific_study_id=prolific_study_id)
        if ok:
            flash(f"Saved: {', '.join(c.replace('_', ' ') for c in changed)}." if changed else "Nothing changed.")
if study.catch_items and not n_catch:
    st.warning("This study asks for catch items but has none: import items whose split is 'catch' (with a gold "
               "answer) on the Items page, or no attention checks are dealt.")
feedback_setting(study, user.id, flash_key="settings_flash")  # web/feedback_setting.py
st.caption("Enrolment limits, invitations, previews and closing the study are on the Participants page.")
if history := setting_changes(study_id=study_id):
    with st.expander("Changes to these settings (newest first)"):
        st.dataframe(history, hide_index=True, width="stretch")

st.header("Conditions")
st.caption("Non-experts are dealt the 'alone' and 'non-expert + model' conditions by a balanced design over "
           "places × sources (two conditions: AB / BA; three or more: a Williams square, so each condition follows "
           "each other one equally often), so that over every complete block of places each item is under each "
           "condition equally often; each person sees their items in their own random order. A place is given on "
           "a person's first task, in arrival order: invitees who never start take none, and the place of someone "
           "who withdraws, is excluded or leaves unfinished goes to the next arrival. Only items every such "
           "condition's protocol can run on are dealt. Experts answer under the expert condition (places of their "
           "own); the model-alone condition is an AI-only run.")
rows = design_summary(study_id=study_id)
strategies = list_strategies(study_id=study_id)
label = {s.id: f"{s.name} v{s.version} ({s.protocol}, #{s.id})" for s in strategies}
if rows:
    # What each condition can deal (the launch check's count, oversight.study.launch: one definition), shown before
    # anyone is dealt as beside the counters after.
    can_deal = {c.id: c.items for c in launch.conditions}
    # The counters before the long strategy label, so they are on screen without scrolling the table sideways.
    st.dataframe([{"id": r.id, "condition": r.name, "kind": KIND_LABELS[r.kind],
                   "items it can deal": can_deal.get(r.id, 0),
                   "tasks dealt": r.assignments, "answered": r.done, "answered (results)": r.results,
                   "items": r.items, "practice": r.practice,
                   "strategy": label.get(r.strategy_id, "direct QA" if r.strategy_id is None else r.strategy_id)}
                  for r in rows], hide_index=True, width="stretch")
    st.caption("Items it can deal: real items the condition's protocol can run on (participants are dealt the items "
               "every participant condition can run on; the model alone answers those). For the model alone, tasks "
               "dealt and answered count its AI run's items.")
    check = balance_check(study_id=study_id)
    text = (f"Balance of answered tasks (results only: no practice, catch items, excluded, preview or simulated "
            f"people). Complete blocks: {check.blocks} of {check.block_size} places each (every place held by "
            f"someone who answered all their tasks); within them {check.block_balanced} of {check.block_items} "
            f"items are answered equally often under each condition. Over all answers: {check.balanced} of "
            f"{check.items} items; answers of people who left partway (they still count) and a block still "
            "filling leave some items uneven there.")
    if check.simulated:
        text += f" Includes {check.simulated} simulated participants (a dry run)."
    st.text(text)
else:
    st.info("No conditions yet: participants answer alone (direct QA). Add the conditions of your design below.")

# Not a form: the strategy versions offered follow the chosen kind (only those `add_condition` accepts). The keys
# carry a counter that moves on after each add, so the next add starts from a fresh form.
st.subheader("Add a condition")
form = f"add-condition-{study_id}-{st.session_state.get(f'add-condition-{study_id}', 0)}"
a1, a2, a3 = st.columns(3)
kind = a1.selectbox("Kind", KINDS, format_func=KIND_LABELS.get, key=f"{form}-kind")
fitting = [sid for sid in [None] + [s.id for s in strategies][::-1]
           if strategy_fits(kind, None if sid is None else next(s for s in strategies if s.id == sid))]
sid = a2.selectbox("Strategy version (none: direct QA)", fitting, key=f"{form}-strategy-{kind}",
                   format_func=lambda i: "none (direct QA)" if i is None else label[i],
                   placeholder="no fitting version: make one on the Strategies page", index=0 if fitting else None)
cname = a3.text_input("Name (optional)", key=f"{form}-name")
if st.button("Add condition", key=f"{form}-add", disabled=not fitting):
    ok, row = attempt(add_condition, study_id=study_id, kind=kind, strategy_id=sid, name=cname, user_id=user.id)
    if ok:
        st.session_state[f"add-condition-{study_id}"] = st.session_state.get(f"add-condition-{study_id}", 0) + 1
        flash(f"Added condition {row.name}.")

if rows:
    chosen = st.selectbox("Change a condition", [r.id for r in rows],
                          format_func={r.id: f"{r.name} (#{r.id})" for r in rows}.get)
    current = next(r for r in rows if r.id == chosen)
    e1, e2 = st.columns(2)
    new_name = e1.text_input("New name", current.name, key=f"cond-name-{chosen}")
    if e1.button("Rename", key=f"rename-{chosen}"):
        if attempt(rename_condition, condition_id=chosen, name=new_name, user_id=user.id)[0]:
            flash(f"Renamed to {new_name.strip()}.")
    options = [None] + [s.id for s in strategies][::-1]
    new_sid = e2.selectbox("Point at strategy version", options,
                           index=options.index(current.strategy_id) if current.strategy_id in options else 0,
                           format_func=lambda i: "none" if i is None else label[i], key=f"cond-sid-{chosen}")
    if e2.button("Re-point", key=f"repoint-{chosen}",
                 help="Participants dealt from now on get this version; dealt assignments keep theirs."):
        if attempt(repoint_condition, condition_id=chosen, strategy_id=new_sid, user_id=user.id)[0]:
            flash(f"{current.name} now points at {label.get(new_sid, 'direct QA')}.")
    b1, b2 = st.columns(2)
    if b1.button("Remove condition", key=f"remove-{chosen}", help="Only while no assignment uses it."):
        if attempt(remove_condition, condition_id=chosen, user_id=user.id)[0]:
            flash(f"Removed {current.name}.")
    if current.kind == "model" and current.strategy_id is not None:
        ok, plan = attempt(model_alone_plan, condition_id=chosen)
        if ok:
            b2.text(f"Model: {plan.model}. Runs on the {len(plan.items)} real item(s) people are dealt (no practice, "
                    f"no catch items), {'with' if plan.sees_source else 'without'} the source; a re-run replaces "
                    "the earlier results.")
            for warning in plan.warnings:
                b2.warning(escape_markdown(warning))
        if b2.button("Run the model alone over the items people are dealt", key=f"run-{chosen}"):
            ok, job = attempt(run_model_condition, condition_id=chosen, user_id=user.id)
            if ok:
                flash(f"Started job #{job}: its progress is below and on the Strategies page.")
    names = {r.id: r.name for r in rows}

    def model_runs() -> list:
        return [j for j in list_jobs(study_id=study_id, limit=10)
                if j.kind == "batch" and "condition_id" in j.params][:3]

    job_progress(model_runs, key=f"model-runs-{study_id}",
                 title=lambda j: f"Job #{j.id} model alone ({names.get(j.params['condition_id'], 'removed')})")

dry_run_section(study_id, user.id)  # simulated participants in a copy (dry_run_panel.py)
plan_section(study_id)  # power before paying (plan_tab.py)
