"""Admin: strategies as versioned data — build one (the rules of its protocol, its prompts, its models), make a
new version with a reason and see what it changed, and run AI-only batches with a progress bar. Which versions
participants are dealt is the study's conditions (Study settings)."""

import streamlit as st

from oversight.jobs import enqueue, list_jobs
from oversight.models import model_infos
from oversight.protocols.prompts import PLACEHOLDERS, complete_prompts
from oversight.protocols import crossplay
from oversight.protocols.base import Rules
from oversight.protocols.registry import PROTOCOLS, get_protocol
from oversight.results.intervals import method as intervals_method
from oversight.protocols.strategies import create_strategy, list_strategies, new_version, rule_rows, shown_changes
from web.job_progress import job_progress
from web.rules_form import rules_inputs
from web.ui import attempt, escape_markdown, pick_study, require_role, staff_fragment

user = require_role("admin")
st.title("Strategies")
study_id = pick_study()
# Always one element here, so that the tabs below keep their place (and the chosen tab) when the message goes.
flash_box = st.empty()
if flash := st.session_state.pop("strategies_flash", None):
    flash_box.success(escape_markdown(flash))


def saved(row) -> None:
    """Rerun so every tab (versions, runs) lists the new row, and say so at the top."""
    st.session_state["strategies_flash"] = f"Saved {row.name} v{row.version} (#{row.id})."
    st.rerun()


rows = list_strategies(study_id=study_id)
by_id = {r.id: r for r in rows}
model_names = [""] + [m["name"] for m in model_infos()]


def label(sid: int) -> str:
    r = by_id[sid]
    return f"{r.name} v{r.version} [{r.protocol}] (#{r.id})"


def strategy_form(key: str, protocol_name: str, rules: Rules, prompts: dict, roles: dict) -> tuple[dict, dict, dict]:
    """The rules of this protocol only, its model roles' prompts and models, prefilled; returns (rules, prompts,
    model roles) as the strategy stores them."""
    protocol = get_protocol(protocol_name)
    st.markdown("**Rules**")
    out = rules_inputs(f"{key}-{protocol_name}", rules)
    st.markdown("**Models** (empty: the configured default for the role)")
    new_roles = {}
    for col, role in zip(st.columns(len(protocol.model_roles)), protocol.model_roles):
        current = roles.get(role, "")
        chosen = col.selectbox(role.capitalize(), model_names,
                               index=model_names.index(current) if current in model_names else 0,
                               key=f"{key}-{protocol_name}-m-{role}")
        if chosen:
            new_roles[role] = chosen
    st.markdown("**Prompts** (used by `hf` and `openai` models; the offline `extractive` model does not generate)")
    st.caption("Placeholders: " + ", ".join(f"{{{p}}} {what}" for p, what in PLACEHOLDERS.items())
               + ". Write {{ and }} for literal braces.")
    new_prompts = {}
    for role in protocol.model_roles:
        current = prompts.get(role, {})
        with st.expander(f"Prompt for the {role}"):
            new_prompts[role] = {
                "system": st.text_area("System prompt", current.get("system", ""), key=f"{key}-{protocol_name}-ps-{role}"),
                "template": st.text_area("User message template", current.get("template", ""),
                                         key=f"{key}-{protocol_name}-pt-{role}"),
            }
    return out, new_prompts, new_roles


def default_prompts(protocol_name: str) -> dict:
    return complete_prompts(get_protocol(protocol_name).model_roles, {})


tab_list, tab_new, tab_version, tab_run, tab_strength = st.tabs(
    ["Versions", "New strategy", "New version", "AI batch run", "Debater strength"])

with tab_list:
    st.caption("Which versions participants are dealt: the Conditions section of Study settings.")
    if not rows:
        st.info("No strategies yet. Build one under “New strategy”.")
    else:
        st.dataframe(
            [{"id": r.id, "name": r.name, "version": r.version, "protocol": r.protocol,
              "parent": label(r.parent_id) if r.parent_id in by_id else "", "reason": r.reason,
              "models": ", ".join(f"{k}={v}" for k, v in r.model_roles.items()) or "defaults",
              "created": r.created_at.strftime("%Y-%m-%d %H:%M")} for r in rows],
            hide_index=True, width="stretch")
        shown = st.selectbox("Open a version", [r.id for r in rows][::-1], format_func=label, key="show-version")
        row = by_id[shown]
        st.text(f"Reason: {row.reason}")
        parent = by_id.get(row.parent_id)
        if parent is not None:
            st.markdown(f"**Changed from {escape_markdown(label(parent.id))}**")
            changes = shown_changes(parent, row)
            if not changes:
                st.text("(nothing)")
            # Each change whole, old beside new, wrapped: a table cell would cut long prompts before the change.
            for change in changes:
                with st.container(border=True):
                    st.markdown(f"**{escape_markdown(change.what)}**")
                    before, after = st.columns(2)
                    before.caption("Before")
                    before.code(change.before, language=None, wrap_lines=True)
                    after.caption("After")
                    after.code(change.after, language=None, wrap_lines=True)
        st.markdown("**Rules**")
        rule_list = rule_rows(row.protocol, row.rules)
        # A table cell shows one line: text rules longer than that are shown whole below it.
        long = [r for r in rule_list if "\n" in r.value or len(r.value) > 80]
        st.dataframe([{"rule": r.label, "value": "(below)" if r in long else r.value} for r in rule_list],
                     hide_index=True, width="stretch")
        for r in long:
            st.caption(escape_markdown(r.label))
            st.code(r.value, language=None, wrap_lines=True)
        for role, prompt in row.prompts.items():
            with st.expander(f"Prompt for the {role}"):
                st.text("System prompt:")
                st.code(prompt.get("system", ""), language=None, wrap_lines=True)
                st.text("User message template:")
                st.code(prompt.get("template", ""), language=None, wrap_lines=True)

with tab_new:
    name = st.text_input("Name", key="new-name")
    protocol = st.selectbox("Protocol", list(PROTOCOLS), format_func=lambda p: PROTOCOLS[p].label,
                            key="new-protocol")
    st.caption(PROTOCOLS[protocol].summary)
    rules, prompts, roles = strategy_form("new", protocol, get_protocol(protocol).parse_rules({}),
                                          default_prompts(protocol), {})
    if st.button("Save version 1", type="primary"):
        ok, row = attempt(create_strategy, study_id=study_id, name=name, protocol=protocol, rules=rules,
                          prompts=prompts, model_roles=roles, user_id=user.id)
        if ok:
            saved(row)

with tab_version:
    if not rows:
        st.info("Nothing to version yet.")
    else:
        parent_id = st.selectbox("Start from", [r.id for r in rows][::-1], format_func=label, key="ver-parent")
        parent = by_id[parent_id]
        rules, prompts, roles = strategy_form(f"ver-{parent_id}", parent.protocol,
                                              get_protocol(parent.protocol).parse_rules(parent.rules),
                                              parent.prompts, parent.model_roles)
        reason = st.text_area("Why this version? (kept with it)", key=f"ver-reason-{parent_id}")
        if st.button("Save as a new version", type="primary"):
            ok, row = attempt(new_version, parent_id=parent_id, reason=reason, rules=rules, prompts=prompts,
                              model_roles=roles, user_id=user.id)
            if ok:
                saved(row)

with tab_run:
    st.caption("AI speakers (or the assistant) and the AI judge over this study's items; under assisted QA the AI "
               "judge asks the assistant questions first. Results fill the same tables as human judging, so the "
               "Results page compares them on the same items.")
    if rows:
        sid = st.selectbox("Strategy version", [r.id for r in rows][::-1], format_func=label, key="run-sid")
        limit = st.number_input("Items (0: all)", 0, 100000, 10)
        if st.button("Start run", type="primary"):
            st.session_state["run_job"] = enqueue(kind="batch", study_id=study_id, user_id=user.id,
                                                  params={"strategy_id": sid, "limit": int(limit)})

    @staff_fragment(run_every=1.0)
    def job_status() -> None:
        jobs = [j for j in list_jobs(study_id=study_id, limit=10) if j.kind == "batch"][:5]
        if not jobs:
            st.info("No runs yet.")
            return
        for job in jobs:
            st.progress(job.progress, text=f"Job #{job.id} {job.kind} · {job.state} · {job.message}")
            if job.state == "failed":
                st.error(escape_markdown(job.error or "failed"))
            elif job.state == "done":
                acc = job.result.get("accuracy")
                st.text(f"{job.result.get('n', 0)} items judged, accuracy "
                        f"{'n/a' if acc is None else f'{acc:.3f}'}, {job.result.get('errors', 0)} errors")

    job_status()

with tab_strength:
    st.caption("Cross-play (Khan et al. 2024): debate versions that differ in their debaters (best-of-N, the "
               "debater model or its prompt) argue against each other and themselves on the study's items. Each "
               "version gets an Elo rating from the judge's verdicts, and the chart shows how accurate the judge is "
               "when a version debates itself. The matches run in a copy of the study, so they never count as this "
               "study's results.")
    debates = [r for r in rows if crossplay.two_speakers(r)]
    if len(debates) < 2:
        st.info("Cross-play needs at least two debate versions. Make one that changes the debaters (for example "
                "\"Best-of-N speeches\") on the New version tab.")
    else:
        with st.form("crossplay", clear_on_submit=True):
            chosen = st.multiselect("Debate versions (the first one's rules and judge run every match)",
                                    [r.id for r in debates][::-1], format_func=label,
                                    max_selections=crossplay.MAX_VERSIONS)
            n_items = st.number_input("Items", 1, crossplay.MAX_ITEMS, 10,
                                      help="Every ordered pair of versions (a version against itself too) debates "
                                           "once on each item: k versions make k × k debates per item.")
            if st.form_submit_button("Start cross-play", type="primary"):
                ok, job = attempt(crossplay.start_crossplay, study_id=study_id, version_ids=chosen,
                                  items=int(n_items), user_id=user.id)
                if ok:
                    flash_box.success(f"Cross-play started (job #{job}).")

    def show_crossplay(job) -> None:
        summary = crossplay.job_summary(job.id)
        st.plotly_chart(crossplay.figure(summary), width="stretch", key=f"crossplay-chart-{job.id}")
        st.dataframe(crossplay.table(summary), hide_index=True, width="stretch")
        st.caption(escape_markdown(
            f"{summary.matches} debates on {job.result['items']} items, {summary.errors} failed; judge "
            f"{job.result['judge']}. Honest debaters' advantage: {summary.honesty_advantage_elo:+.0f} Elo (taken out "
            "of the ratings). Rating intervals: 95 % percentile bootstrap over items; accuracy: "
            f"{intervals_method()}. The debates are on the Transcripts page of study #{job.result['copy_study_id']}."))

    job_progress(lambda: [j for j in list_jobs(study_id=study_id, limit=20) if j.kind == "crossplay"][:3],
                 key=f"crossplay-{study_id}", title=lambda j: f"Cross-play #{j.id}", finished=show_crossplay,
                 empty="No cross-play yet.")
