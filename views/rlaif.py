"""Admin: the RLAIF lab on a study's preference pairs — versioned AI labellers, labelling as a job, the agreement
table (AI versions, non-experts, experts, the data set), position and length bias, disagreements for review,
reward-model runs and policy improvement runs. Conversations and responses are shown as plain text only."""

import html

import plotly.graph_objects as go
import streamlit as st

from oversight.importers import import_upload
from oversight.importers.common import ImportFailed
from oversight.jobs import enqueue, get_job, list_jobs
from oversight.models import model_infos
from oversight.rlaif.config import DEFAULT_CONSTITUTION, DEFAULT_PROMPT, LabellerError, create_labeller
from oversight.rlaif.config import list_labellers, revise_labeller
from oversight.rlaif.lab import METHODS
from oversight.rlaif.pairs import clean_upload
from oversight.rlaif.reward_model import RewardConfig
from oversight.rlaif.store import disagreements, list_reward_runs, study_agreement, study_pairs
from web.job_progress import ACTIVE_JOB_STATES, live_rows
from web.ui import escape_markdown, pick_study, require_role, show_flash, upload_limit_mb, user_error

user = require_role("admin")
st.title("RLAIF lab")
study_id = pick_study()
show_flash("rlaif_flash")  # one element with or without a message: the tabs below keep their place (and tab)

pairs = study_pairs(study_id=study_id)
versions = list_labellers()
by_id = {v.id: v for v in versions}
model_names = [m["name"] for m in model_infos()]
st.caption(f"{len(pairs)} preference pairs in this study (two-option items; upload HH-RLHF files on the Data tab).")


def version_label(vid: int) -> str:
    v = by_id[vid]
    return f"{v.name} v{v.version} · {v.model} (#{v.id})"


def pct(d: dict | None) -> str:
    if not d or d.get("estimate") is None:
        return "n/a"
    return f"{d['estimate']:.3f} [{d['ci_low']:.3f}, {d['ci_high']:.3f}] n={d['n']}"


SHOT_FIELDS = ("conversation", "response_a", "response_b", "answer")


def few_shot_editor(key: str, initial: list[dict]) -> list[dict]:
    """The few-shot examples as a form: one box per example (conversation, the two responses, the better one),
    added and removed by buttons. The rules are the CLI's (`rlaif.config.check_few_shot`, applied on save)."""
    ids_key, next_key = f"{key}-shot-ids", f"{key}-shot-next"
    if ids_key not in st.session_state:  # first draw: the base version's examples fill the fields
        st.session_state[ids_key] = list(range(len(initial)))
        st.session_state[next_key] = len(initial)
        for i, shot in enumerate(initial):
            for f in SHOT_FIELDS:
                st.session_state[f"{key}-shot-{i}-{f}"] = str(shot.get(f, "")).strip().upper() if f == "answer" \
                    else str(shot.get(f, ""))
    st.text("Few-shot examples (worked comparisons shown to the model before each pair)")
    shots = []
    for n, i in enumerate(list(st.session_state[ids_key]), 1):
        with st.container(border=True):
            st.caption(f"Example {n}")
            conversation = st.text_area("Conversation", key=f"{key}-shot-{i}-conversation", height=90)
            c1, c2 = st.columns(2)
            response_a = c1.text_area("Response A", key=f"{key}-shot-{i}-response_a", height=90)
            response_b = c2.text_area("Response B", key=f"{key}-shot-{i}-response_b", height=90)
            answer = st.radio("Better response", ["A", "B"], key=f"{key}-shot-{i}-answer", horizontal=True)
            if st.button("Remove example", key=f"{key}-shot-{i}-remove"):
                st.session_state[ids_key].remove(i)
                st.rerun()
        shots.append({"conversation": conversation, "response_a": response_a, "response_b": response_b,
                      "answer": answer})
    if st.button("Add example", key=f"{key}-shot-add"):
        st.session_state[ids_key].append(st.session_state[next_key])
        st.session_state[next_key] += 1
        st.rerun()
    return shots


def forget_form(key: str) -> None:
    """After a save: the form starts afresh (its fields and examples), not with the values just saved."""
    for k in [k for k in st.session_state if isinstance(k, str) and k.startswith(f"{key}-")]:
        del st.session_state[k]


def labeller_form(key: str, base=None) -> dict | None:
    """The fields of a labeller version; returns them when saved. Not an st.form: the few-shot examples are added
    and removed with buttons, which a form cannot hold."""
    name = st.text_input("Name", value=base.name if base else "", disabled=base is not None, key=f"{key}-name")
    models = model_names or ["extractive"]
    current = base.model if base and base.model in models else models[0]
    model = st.selectbox("Model", models, index=models.index(current), key=f"{key}-model")
    principles = st.text_area("Constitution (one principle a line)", height=140,
                              value="\n".join(base.constitution if base else DEFAULT_CONSTITUTION),
                              key=f"{key}-constitution")
    prompt = st.text_area("Prompt ({principles} is replaced by the numbered principles)",
                          value=base.prompt if base else DEFAULT_PROMPT, height=110, key=f"{key}-prompt")
    cot = st.checkbox("Chain of thought before the verdict",
                      value=bool(base.options.get("chain_of_thought")) if base else False, key=f"{key}-cot")
    few_shot = few_shot_editor(key, list(base.options.get("few_shot", [])) if base else [])
    reason = st.text_input("Reason for this version", value="" if base else "first version", key=f"{key}-reason")
    if not st.button("Save new version" if base else "Create labeller", type="primary", key=f"{key}-save"):
        return None
    return {"name": name, "model": model, "constitution": principles.splitlines(), "prompt": prompt,
            "options": {"chain_of_thought": cot, "few_shot": few_shot}, "reason": reason}


tab_data, *tabs = st.tabs(["Data", "Labellers", "Agreement", "Biases", "Disagreements", "Reward models", "Policy",
                           "Jobs"], key="rlaif-tabs")

with tab_data:
    # Uploads, bounded like every import; `rlaif clean` from the page: the same write_valid_lines behind both.
    st.caption("Import an HH-RLHF file (JSON lines of {chosen, rejected}) as this study's pairs. An import lands "
               "whole or not at all: a file with invalid lines is refused, naming the first; clean it below to keep "
               "its valid lines.")
    upload = st.file_uploader("HH-RLHF file to import", key="rlaif-import-upload", max_upload_size=upload_limit_mb())
    if st.button("Import pairs", type="primary", disabled=upload is None):
        try:
            with st.spinner("Importing…"):
                summary = import_upload(study_id=study_id, fmt="hh-rlhf", filename=upload.name,
                                        data=upload.getvalue(), user_id=user.id)
        except ImportFailed as exc:
            user_error(exc)
        else:
            st.session_state["rlaif_flash"] = str(summary)
            st.rerun()
    st.divider()
    st.caption("Clean an HH-RLHF file: keep its valid lines verbatim and list the lines left out and why (what "
               "`python -m oversight rlaif clean` does). Download the cleaned file or import it here.")
    dirty = st.file_uploader("HH-RLHF file to clean", key="rlaif-clean-upload", max_upload_size=upload_limit_mb())
    if st.button("Clean", disabled=dirty is None):
        try:
            st.session_state["rlaif_cleaned"] = clean_upload(filename=dirty.name, data=dirty.getvalue())
        except ImportFailed as exc:
            st.session_state.pop("rlaif_cleaned", None)
            user_error(exc)
    if cleaned := st.session_state.get("rlaif_cleaned"):
        st.text(f"{cleaned.name}: kept {cleaned.kept} pairs; left out {len(cleaned.refused)} lines.")
        if cleaned.refused:
            st.code("\n".join(cleaned.refused), language=None, wrap_lines=True)
        c1, c2 = st.columns(2)
        c1.download_button("Download the cleaned file", cleaned.data, file_name=cleaned.name,
                           mime="application/jsonl")
        if c2.button(f"Import its {cleaned.kept} pairs into this study", type="primary"):
            try:
                summary = import_upload(study_id=study_id, fmt="hh-rlhf", filename=cleaned.name, data=cleaned.data,
                                        user_id=user.id)
            except ImportFailed as exc:
                user_error(exc)
            else:
                st.session_state.pop("rlaif_cleaned", None)
                st.session_state["rlaif_flash"] = str(summary)
                st.rerun()

with tabs[0]:
    st.caption("A labeller version is immutable: a constitution, a prompt, a model and options. The extractive "
               "model scores responses by similarity to the principles (weak on purpose: it sees topic, not stance); "
               "hf and openai models score the choice tokens A/B. Every pair is judged in both orders.")
    if versions:
        st.dataframe([{"id": v.id, "name": v.name, "version": v.version, "model": v.model, "parent": v.parent_id,
                       "principles": len(v.constitution), "chain of thought": v.options.get("chain_of_thought"),
                       "few-shot": len(v.options.get("few_shot", [])), "reason": v.reason} for v in versions],
                     hide_index=True, width="stretch")
    new_tab, revise_tab, run_tab = st.tabs(["New labeller", "New version", "Label this study"])
    with new_tab:
        if fields := labeller_form("new-labeller"):
            try:
                row = create_labeller(name=fields["name"], constitution=fields["constitution"], prompt=fields["prompt"],
                                      model=fields["model"], options=fields["options"], user_id=user.id,
                                      reason=fields["reason"])
            except LabellerError as exc:
                user_error(exc)
            else:
                forget_form("new-labeller")
                st.session_state["rlaif_flash"] = f"Saved {row.name} v{row.version} (#{row.id})."
                st.rerun()
    with revise_tab:
        if versions:
            parent = st.selectbox("Version to change", [v.id for v in versions][::-1], format_func=version_label)
            if fields := labeller_form(f"revise-{parent}", by_id[parent]):
                try:
                    row = revise_labeller(parent_id=parent, reason=fields["reason"],
                                          constitution=fields["constitution"], prompt=fields["prompt"],
                                          model=fields["model"], options=fields["options"], user_id=user.id)
                except LabellerError as exc:
                    user_error(exc)
                else:
                    forget_form(f"revise-{parent}")
                    st.session_state["rlaif_flash"] = f"Saved {row.name} v{row.version} (#{row.id})."
                    st.rerun()
        else:
            st.info("Create a labeller first.")
    with run_tab:
        if versions and pairs:
            vid = st.selectbox("Labeller version", [v.id for v in versions][::-1], format_func=version_label,
                               key="label-version")
            limit = st.number_input("Pairs to label (0: all not yet labelled)", 0, 1_000_000, 100)
            if st.button("Start labelling", type="primary"):
                enqueue(kind="rlaif-label", study_id=study_id, user_id=user.id,
                        params={"labeller_id": vid, "limit": int(limit)})
                st.session_state["rlaif_flash"] = "Labelling started; its progress is on the Jobs tab."
                st.rerun()
        else:
            st.info("Labelling needs a labeller version and pair items in this study.")

agreement = study_agreement(study_id=study_id)

with tabs[1]:
    st.caption("Percent agreement on the pairs both sources labelled, with 95% Wilson intervals and Cohen's kappa. "
               "People count by their final answers that are results of the study (no practice, attention checks, "
               "excluded, preview or, outside a dry run, simulated people; majority per pair, ties left out): "
               "non-experts are participants, experts are expert accounts, never pooled. Lee et al. 2023 report 78% AI-human alignment for "
               "their best labeller and 73-77% between humans.")
    st.dataframe([{"source A": r["a"], "source B": r["b"], "n": r["n"], "agreement": r["agreement"],
                   "95% low": r["ci_low"], "95% high": r["ci_high"], "Cohen's kappa": r["kappa"]}
                  for r in agreement["table"]], hide_index=True, width="stretch")
    cols = st.columns(3)
    for col, (who, alpha) in zip(cols, agreement["alpha"].items()):
        ci = agreement.get("alpha_ci", {}).get(who) or {}
        col.metric(f"Krippendorff's alpha, {who}", "n/a" if alpha is None else f"{alpha:.3f}")
        if ci.get("ci_low") is not None:
            col.caption(f"95% CI [{ci['ci_low']:.2f}, {ci['ci_high']:.2f}] over {ci['n']} pairs (bootstrap)")
    st.caption("Labels per source: " + ", ".join(f"{k}: {v}" for k, v in agreement["sources"].items()))

with tabs[2]:
    rows = agreement["labellers"]
    if not rows:
        st.info("No AI labels in this study yet.")
    else:
        st.caption("Per labeller version: agreement with the data set, how often the verdict flips when the "
                   "responses swap places (position bias; Lee et al. saw 18-56% by model size) and how often the "
                   "longer response wins (length bias; the dashed line is the data set's own rate).")
        fig = go.Figure()
        metrics = [("agreement", "agreement with data set"), ("position_flip_rate", "position flips"),
                   ("longer_preferred_rate", "longer preferred")]
        for key, title in metrics:
            values = [r[key] for r in rows]
            fig.add_bar(name=title, x=[html.escape(r["source"]) for r in rows],
                        y=[v["estimate"] for v in values], textposition="outside", cliponaxis=False,
                        text=["n/a" if v["estimate"] is None else f"{v['estimate']:.2f}" for v in values],
                        error_y={"type": "data", "symmetric": False,
                                 "array": [(v["ci_high"] or 0) - (v["estimate"] or 0) for v in values],
                                 "arrayminus": [(v["estimate"] or 0) - (v["ci_low"] or 0) for v in values]})
        data_longer = rows[0]["dataset_longer_preferred_rate"]["estimate"]
        if data_longer is not None:
            fig.add_hline(y=data_longer, line_dash="dash", annotation_text="data set: longer preferred")
        fig.update_layout(barmode="group", height=380, yaxis={"range": [0, 1], "title": "share"},
                          margin={"l": 10, "r": 10, "t": 50, "b": 40},
                          legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0})
        st.plotly_chart(fig, width="stretch", key="rlaif-bias")
        st.dataframe([{"labeller": r["source"], "n": r["n"], "agreement": pct(r["agreement"]),
                       "position flips": pct(r["position_flip_rate"]),
                       "longer preferred": pct(r["longer_preferred_rate"])} for r in rows],
                     hide_index=True, width="stretch")

with tabs[3]:
    used = [r["id"] for r in agreement["labellers"]]
    if not used:
        st.info("No AI labels in this study yet.")
    else:
        vid = st.selectbox("Labeller version", used[::-1], format_func=version_label, key="dis-version")
        against = st.radio("Against", ["experts", "data set"], horizontal=True)
        rows = disagreements(study_id=study_id, labeller_id=vid, against=against, limit=50)
        st.caption(f"{len(rows)} pairs where the AI's verdict differs from the {against} (most confident first; "
                   "up to 50). Texts may be offensive: they are red-team dialogues.")
        for d in rows:
            with st.expander(f"Item #{d['item_id']}: AI picks {'AB'[d['ai_choice']]} "
                             f"(p={max(d['p_first'], 1 - d['p_first']):.2f}), {against} pick "
                             f"{'AB'[d['reference_choice']]}"):
                st.text("Conversation")
                st.code(d["conversation"], language=None, wrap_lines=True)
                for i, text in enumerate(d["responses"]):
                    st.text(f"Response {'AB'[i]}")
                    st.code(text, language=None, wrap_lines=True)

with tabs[4]:
    st.caption("Bradley-Terry reward models (frozen sentence encoder + MLP head on CPU), trained on one label "
               "source and scored on the same held-out quarter of the pairs against the data set's labels and, "
               "where experts judged them, the experts'.")
    sources = ["dataset"] + [f"ai:{r['id']}" for r in agreement["labellers"]] + [f"study:{study_id}"]
    with st.form("reward-model"):
        source = st.selectbox("Label source", sources, help="ai:ID is a labeller version's stored labels; "
                              f"study:{study_id} the non-experts' majority labels (their results only)")
        epochs = st.number_input("Epochs", 1, 500, RewardConfig().epochs)
        if st.form_submit_button("Train reward model", type="primary") and pairs:
            enqueue(kind="rlaif-reward-model", study_id=study_id, user_id=user.id,
                    params={"labels": source, "epochs": int(epochs)})
            st.session_state["rlaif_flash"] = "Reward-model training started; see the Jobs tab."
            st.rerun()
    runs = list_reward_runs(study_id=study_id)
    if runs:
        st.dataframe([{"run": r.id, "labels": r.label_source, "backend": r.backend,
                       "train pairs": r.result.get("n_train"), "held out": r.result.get("n_test"),
                       **{f"accuracy vs {k}": pct(v) for k, v in r.result.get("accuracy", {}).items()}}
                      for r in runs], hide_index=True, width="stretch")
    else:
        st.info("No reward models trained on this study yet.")

with tabs[5]:
    st.caption("Improve a policy model and compare it with the base on held-out conversations by the win rate "
               "under an AI labeller (both orders, ties half). Best-of-N reranks N samples with a reward model; "
               "DPO trains LoRA adapters with TRL (GPU for real models); critique-revision has the model "
               "critique and rewrite its answer against the labeller's constitution.")
    with st.form("improve"):
        method = st.selectbox("Method", METHODS)
        policy = st.selectbox("Policy model", model_names or ["extractive"])
        vids = [v.id for v in versions][::-1]
        judge = st.selectbox("Judged by labeller", vids, format_func=version_label) if vids else None
        run_ids = [r.id for r in runs if r.backend == "encoder"]
        reward_run = st.selectbox("Reward model (best-of-N)", run_ids) if run_ids else None
        n = st.number_input("N (best-of-N)", 2, 64, 4)
        labels = st.selectbox("DPO label source", sources)
        n_eval = st.number_input("Conversations to evaluate", 1, 1000, 20)
        if st.form_submit_button("Start", type="primary") and pairs:
            enqueue(kind="rlaif-improve", study_id=study_id, user_id=user.id,
                    params={"method": method, "policy": policy, "labeller": judge, "reward_run": reward_run,
                            "n": int(n), "labels": labels, "n_eval": int(n_eval)})
            st.session_state["rlaif_flash"] = f"{method} started; see the Jobs tab."
            st.rerun()


def rlaif_jobs() -> list:
    return [get_job(j.id) for j in list_jobs(study_id=study_id, limit=30) if j.kind.startswith("rlaif-")][:8]


def show_jobs(jobs) -> None:
    if not jobs:
        st.info("No RLAIF jobs yet.")
        return
    for job in jobs:
        st.progress(job.progress, text=f"Job #{job.id} {job.kind} · {job.state} · {job.message}")
        if job.state in ("failed", "cancelled"):
            st.error(escape_markdown(job.error or job.state))
        elif job.state == "done":
            r = job.result
            if "win_rate" in r:
                st.text(f"win rate against the base: {pct(r['win_rate'])}")
            elif "accuracy" in r and "label_source" in r:
                st.text("; ".join(f"accuracy vs {k}: {pct(v)}" for k, v in r["accuracy"].items()))
            elif "position_flip_rate" in r:
                st.text(f"{r.get('n_new', 0)} new labels; agreement {pct(r['agreement'])}; "
                        f"flips {pct(r['position_flip_rate'])}; longer preferred {pct(r['longer_preferred_rate'])}")


with tabs[6]:
    # Polls while a job is queued or running; when one finishes the page reruns, so the agreement, bias and
    # reward-model tables show what it stored without a reload.
    live_rows(key="rlaif-jobs", load=rlaif_jobs, is_active=lambda j: j.state in ACTIVE_JOB_STATES,
              render=show_jobs, every=1.0)
