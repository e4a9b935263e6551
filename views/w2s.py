"""Admin: the weak-to-strong lab. Experiments (versioned), runs as jobs with a progress bar, the three
accuracies and PGR with their 95 % bootstrap intervals per experiment and method, and a chart of PGR across
weak supervisors (models and a study's non-expert participants). Computation lives in `oversight.w2s`."""

from __future__ import annotations

from web.ui import attempt, escape_markdown, flash_and_rerun, require_role, show_flash, upload_limit_mb, user_error

user = require_role("admin")

import plotly.graph_objects as go  # noqa: E402
import streamlit as st  # noqa: E402

from oversight.jobs import get_job  # noqa: E402
from oversight.protocols.registry import PROTOCOLS  # noqa: E402
from oversight.study.studies import list_studies, study_label  # noqa: E402
from oversight.w2s.config import DATASETS, STRONG_MODELS, WEAK_MODELS, W2SConfig  # noqa: E402
from oversight.w2s.errors import W2SError  # noqa: E402
from oversight.w2s.experiments import (  # noqa: E402
    create_experiment, list_experiments, list_runs, new_version, results_table, start_run,
)
from oversight.w2s.losses import LOSSES  # noqa: E402
from oversight.w2s.simulated_people import MAX_PARTICIPANTS, simulate_participants  # noqa: E402
from oversight.w2s.uploads import shown_name, store_data_file  # noqa: E402
from web.job_progress import ACTIVE_JOB_STATES, live_rows  # noqa: E402

FLASH = "w2s_flash"

st.title("Weak-to-strong lab")
st.caption("A strong student trained on a weak supervisor's labels (Burns et al. 2023). PGR = (weak-to-strong − weak)"
           " / (ceiling − weak), from seed means, shown only where the ceiling beats the weak supervisor; 95 % "
           "intervals resample test items and seeds. The weak supervisor is a model or a study's participants. "
           "On CPU only HH-RLHF pairs show a gap: with a bag of words on 4 % of the pairs as the weak supervisor and the "
           "frozen MiniLM probe on the rest as the strong student, held-out ceiling − weak is 0.06 [0.02, 0.10], "
           "while the students stay at the weak level (PGR about 0). BoolQ's ceiling is its share of 'yes' and "
           "Cosmos QA is at chance, so they show nothing without GPU-sized hf: models.")
show_flash(FLASH)


def plain(label: object) -> str:
    """Plotly reads a few HTML tags in labels: names typed by users are shown as text."""
    return str(label).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def fmt(f: dict) -> str:
    if f.get("estimate") is None:
        return "n/a"
    if f.get("ci_low") is None:
        return f"{f['estimate']:.3f}"
    return f"{f['estimate']:.3f} [{f['ci_low']:.3f}, {f['ci_high']:.3f}]"


def pgr_figure(rows: list[dict]) -> go.Figure:
    fig = go.Figure()
    for method in dict.fromkeys(r["method"] for r in rows):
        part = [r for r in rows if r["method"] == method]
        fig.add_trace(go.Bar(
            name=method, x=[plain(f"{r['supervisor']} → {r['strong']} · {r['dataset']} (#{r['experiment_id']})")
                            for r in part],
            y=[r["pgr"]["estimate"] for r in part],
            error_y={"type": "data", "symmetric": False,
                     "array": [r["pgr"]["ci_high"] - r["pgr"]["estimate"] for r in part],
                     "arrayminus": [r["pgr"]["estimate"] - r["pgr"]["ci_low"] for r in part]}))
    fig.update_layout(barmode="group", height=420, margin={"l": 10, "r": 10, "t": 50, "b": 40},
                      legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
                      yaxis_title="PGR (95 % interval)", xaxis_title="weak supervisor → strong student · data set")
    return fig


tab_results, tab_runs, tab_new, tab_people = st.tabs(
    ["Results", "Experiments and runs", "New experiment or version", "Simulated participants"], key="w2s-tabs")

with tab_results:
    rows = results_table()
    if not rows:
        st.info("No finished runs yet. Create an experiment under 'New experiment or version', then start a run "
                "under 'Experiments and runs'.")
    else:
        defined = [r for r in rows if r["pgr"]["estimate"] is not None]
        if defined:
            st.plotly_chart(pgr_figure(defined), width="stretch", key="chart_pgr")
        undefined = [r for r in rows if r["pgr"]["estimate"] is None]
        for r in undefined:
            st.text(f"{r['experiment']} · {r['method']}: no PGR, {r['pgr_reason']}.")
        st.dataframe([{
            "experiment": r["experiment"], "data set": r["dataset"], "weak supervisor": r["supervisor"],
            "strong student": r["strong"], "method": r["method"], "weak": fmt(r["weak"]),
            "weak-to-strong": fmt(r["w2s"]), "ceiling": fmt(r["ceiling"]), "PGR": fmt(r["pgr"]),
            "test items": r["n_test"], "seeds": r["n_seeds"], "seconds": round(r["seconds"] or 0),
        } for r in rows], hide_index=True, width="stretch")

experiments = list_experiments()
labels = {e.id: f"{e.name} v{e.version} (#{e.id})" for e in experiments}

with tab_runs:
    if not experiments:
        st.info("No experiments yet. Create one under 'New experiment or version'.")
    else:
        st.dataframe([{"id": e.id, "name": e.name, "version": e.version, "parent": e.parent_id, "reason": e.reason,
                       "data set": e.config.get("dataset"),
                       "weak": (f"study {e.config['weak_study_id']}" if e.config.get("weak_study_id") is not None
                                else e.config.get("weak")),
                       "strong": e.config.get("strong"), "methods": ", ".join(e.config.get("methods", [])),
                       "training file": shown_name(e.config.get("train_path", "")),
                       "test file": shown_name(e.config.get("test_path", "")),
                       "seeds": e.config.get("seeds"), "train items": e.config.get("n_train"),
                       "test items": e.config.get("n_test")} for e in experiments],
                     hide_index=True, width="stretch")
        chosen = st.selectbox("Experiment version", [e.id for e in experiments][::-1], format_func=labels.get)
        if st.button("Start run", type="primary"):
            try:
                st.session_state["w2s_job"] = start_run(experiment_id=chosen, user_id=user.id)
            except W2SError as exc:
                user_error(exc)
            else:  # rerun: the runs below poll while this one is queued or running
                flash_and_rerun(f"Run of {labels[chosen]} started; its progress is below.", FLASH)

    def run_active(run) -> bool:
        """A run still working: its job queued or running (or no job: a run from the command line)."""
        if run.state != "running":
            return False
        job = get_job(run.job_id) if run.job_id else None
        return job is None or job.state in ACTIVE_JOB_STATES

    def show_runs(runs) -> None:
        if not runs:
            return
        st.subheader("Recent runs")
        for run in runs:
            job = get_job(run.job_id) if run.job_id else None
            name = f"Run #{run.id} of {labels.get(run.experiment_id, run.experiment_id)}"
            title = f"{name} · {run.state}"
            if run.state == "running" and job is not None and job.state in ("failed", "cancelled"):
                st.error(escape_markdown(f"{name} · {job.state}: {job.error}"))
            elif run.state == "running" and job is not None:  # the job's state: "queued" until a worker takes it
                st.progress(job.progress, text=f"{name} · {job.state}" + (f" · {job.message}" if job.message else ""))
            elif run.state == "failed":
                st.error(escape_markdown(f"{title}: {run.error}"))
            else:
                st.text(f"{title}" + (f" · {run.seconds:.0f} s" if run.seconds else "")
                        + ("" if job else " · from the command line"))

    # Polls while a run works; when one finishes the whole page reruns, so Results shows it without a reload.
    live_rows(key="w2s-runs", load=lambda: list_runs(limit=8), is_active=run_active, render=show_runs)

with tab_new:
    base_id = st.selectbox("Based on", [None] + [e.id for e in experiments][::-1],
                           format_func=lambda i: "a new experiment" if i is None else f"a new version of {labels[i]}")
    base = W2SConfig.from_dict(next(e.config for e in experiments if e.id == base_id)) if base_id else W2SConfig()
    studies = list_studies()
    with st.form("w2s-new"):
        name = st.text_input("Name", disabled=base_id is not None,
                             value="" if base_id is None else labels[base_id].split(" v")[0])
        reason = st.text_input("Why this version (required for a new version)") if base_id else ""
        dataset = st.selectbox("Data set", DATASETS, index=DATASETS.index(base.dataset))
        kind = st.radio("Weak supervisor", ["a model", "a study's participants"], horizontal=True,
                        index=1 if base.weak_study_id is not None else 0)
        # A new experiment leaves the models empty: the data set's defaults (hh-rlhf: bow weak, minilm-frozen strong).
        weak = st.text_input(f"Weak model ({', '.join(WEAK_MODELS)} or hf:<model>; empty: the data set's default)",
                             value=base.weak if base_id else "")
        study_ids = [s.id for s in studies]
        weak_study = st.selectbox("Study (its non-experts' results are the weak labels)", study_ids,
                                  index=study_ids.index(base.weak_study_id) if base.weak_study_id in study_ids else 0,
                                  format_func=lambda i: next(f"{study_label(s)} (#{s.id})" for s in studies if s.id == i))
        # Uploads, not server paths: the file is checked and kept where runs read it (oversight/w2s/uploads.py).
        train_upload = st.file_uploader(
            "Training file (model supervisor): BoolQ JSON lines, Cosmos QA CSV, MMLU CSV or a .zip of its folder"
            + (f"; empty keeps {shown_name(base.train_path)}" if base.train_path else ""),
            key="w2s-train-upload", max_upload_size=upload_limit_mb())
        test_upload = st.file_uploader(
            "Test file (optional, same format; empty: the training file is split)"
            + (f"; empty keeps {shown_name(base.test_path)}" if base.test_path else ""),
            key="w2s-test-upload", max_upload_size=upload_limit_mb())
        drop_test = st.checkbox(f"No separate test file (drop {shown_name(base.test_path)})") if base.test_path \
            else False
        strong = st.text_input(f"Strong student ({', '.join(STRONG_MODELS)} or hf:<model>; empty: the data set's "
                               "default)", value=base.strong if base_id else "")
        methods = st.multiselect("Methods", list(LOSSES), default=base.methods)
        c1, c2, c3 = st.columns(3)
        seeds = c1.number_input("Seeds", 1, 20, base.seeds)
        n_train = c2.number_input("Training items (0: the data set's default)", 0, 100000,
                                  base.n_train if base_id else 0)
        n_test = c3.number_input("Test items (0: the data set's default)", 0, 100000, base.n_test if base_id else 0)
        epochs = c1.number_input("Epochs", 1, 20, base.epochs)
        lr = c2.number_input("Learning rate", 1e-7, 1.0, base.lr, format="%.1e")
        batch_size = c3.number_input("Batch size", 2, 512, base.batch_size)
        max_len = c1.number_input("Tokens per sequence (0: the data set's default)", 0, 4096,
                                  base.max_len if base_id else 0)
        lora = c2.selectbox("LoRA (hf students)", ["auto", "on", "off"],
                            index={None: 0, True: 1, False: 2}[base.lora])
        bootstrap = c3.number_input("Bootstrap replicates", 100, 100000, base.bootstrap)
        weak_fraction = c1.number_input("Weak model's share of the training items (0: the data set's default)",
                                        0.0, 0.99, base.weak_fraction if base_id else 0.0, step=0.01)
        top_layers = c2.number_input("MiniLM students: top layers fine-tuned (0: all)", 0, 48, base.top_layers)
        settings_ = [p for p in PROTOCOLS if p != "model-alone"]
        weak_setting = c3.selectbox("People's answers given in (a study as supervisor)", settings_,
                                    index=settings_.index(base.weak_setting) if base.weak_setting in settings_ else 0,
                                    help="Only answers given in this setting are weak labels (default: people "
                                         "answering alone, direct QA).")
        submitted = st.form_submit_button("Save", type="primary")
    if submitted:
        try:
            if kind != "a model" and weak_study is None:
                raise W2SError("create a study with participants first")
            train_path = test_path = ""
            if kind == "a model":
                train_path = base.train_path
                if train_upload is not None:
                    train_path = store_data_file(dataset=dataset, filename=train_upload.name,
                                                 data=train_upload.getvalue()).path
                if not train_path:
                    raise W2SError("upload a training file (or choose a study's participants as the weak supervisor)")
            test_path = "" if drop_test else base.test_path
            if test_upload is not None:
                test_path = store_data_file(dataset=dataset, filename=test_upload.name,
                                            data=test_upload.getvalue()).path
            config = W2SConfig.for_dataset(
                dataset, train_path=train_path, test_path=test_path,
                weak=weak.strip() or None, weak_study_id=weak_study if kind != "a model" else None,
                strong=strong.strip() or None, weak_fraction=float(weak_fraction) or None,
                methods=methods, seeds=int(seeds), n_train=int(n_train) or None, n_test=int(n_test) or None,
                epochs=int(epochs), lr=float(lr), batch_size=int(batch_size), max_len=int(max_len) or None,
                lora={"auto": None, "on": True, "off": False}[lora], bootstrap=int(bootstrap),
                top_layers=int(top_layers), weak_setting=weak_setting)
            saved = (new_version(parent_id=base_id, config=config, reason=reason, user_id=user.id) if base_id
                     else create_experiment(name=name, config=config, user_id=user.id))
        except W2SError as exc:
            user_error(exc)
        else:  # rerun: the experiment list and the run picker above the form include it at once
            flash_and_rerun(f"Saved {saved.name} v{saved.version} (#{saved.id}). Start it under "
                            "'Experiments and runs'.", FLASH)

with tab_people:
    st.caption("Simulated non-expert participants answer a study's items with a planted accuracy and confidence, "
               "as real participants do (consent, tasks, final answers). A real study is copied into a dry run "
               "first, so its figures never meet them; use the dry-run copy as the weak supervisor.")
    if not studies:
        st.info("No studies yet. Create one on the Studies page.")
    else:
        with st.form("w2s-simulate"):
            sim_study = st.selectbox("Study", [s.id for s in studies],
                                     format_func=lambda i: next(f"{study_label(s)} (#{s.id})"
                                                                for s in studies if s.id == i))
            c1, c2 = st.columns(2)
            sim_people = c1.number_input("Participants", 1, MAX_PARTICIPANTS, 3)
            sim_seed = c2.number_input("Seed", 0, 1_000_000, 0)
            sim_accuracy = c1.number_input("Accuracy (planted share of right answers)", 0.0, 1.0, 0.7, step=0.05)
            sim_confidence = c2.number_input("Confidence (probability on the chosen answer)", 0.01, 1.0, 0.7,
                                             step=0.05)
            simulate = st.form_submit_button("Simulate participants", type="primary")
        if simulate:
            with st.spinner("Simulated participants are answering…"):
                ok, summary = attempt(simulate_participants, study_id=int(sim_study), participants=int(sim_people),
                                      accuracy=float(sim_accuracy), confidence=float(sim_confidence),
                                      seed=int(sim_seed))
            if ok:  # rerun: the new dry-run copy appears in the study lists of the other tabs
                flash_and_rerun(f"{summary.participants} simulated participants gave {summary.answers} answers, "
                                f"{summary.correct} right, in dry-run study #{summary.study_id}: choose it as the "
                                "weak supervisor under 'New experiment or version'.", FLASH)
