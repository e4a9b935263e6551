"""The Dry run section of the Study settings page: simulated participants and experts of planted skill go through a
copy of the study (oversight/sandwiching/simulate.py, the CLI's `simulate`), run as a job so the page stays
responsive; its progress is live (web/job_progress.py) and its figures open on the Results page of the copy.
Streamlit, so in web/; the page has checked the role (admins only)."""

from __future__ import annotations

import streamlit as st

from oversight.jobs import list_jobs
from oversight.sandwiching.simulate import Skill, start_dry_run
from storage.models import Job
from web.job_progress import job_progress
from web.ui import attempt, flash_and_rerun, show_flash

KIND = "simulate"


def _n(count: int | None, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.0f} %"


def dry_run_jobs(study_id: int) -> list[Job]:
    return [j for j in list_jobs(study_id=study_id, limit=30) if j.kind == KIND][:3]


def _title(job: Job) -> str:
    p = job.params
    return (f"Dry run job #{job.id} ({_n(p.get('participants'), 'simulated participant')}, "
            f"{_n(p.get('experts'), 'expert')})")


def _finished(job: Job) -> None:
    """A done dry run: its figures beside the planted ones, and the way to its copy's Results page."""
    data = job.result or {}
    copy = data.get("study_id")
    if copy is None:
        return
    st.text(f"Dry-run study #{copy} (a copy; this study is untouched): {_n(data.get('participants'), 'participant')}, "
            f"{_n(data.get('experts'), 'expert')}, {_n(data.get('answers'), 'answer')}, "
            f"{_n(data.get('reviews'), 'review')}, {_n(data.get('model_items'), 'model-alone item')}.")
    rows = [{"condition": c["name"], "planted": _pct(c.get("planted")), "estimate": _pct(c.get("estimate")),
             "95 % interval": f"{_pct(c.get('ci_low'))} – {_pct(c.get('ci_high'))}", "answers": c.get("n")}
            for c in data.get("conditions", [])]
    gap = data.get("gap_closed") or {}
    rows.append({"condition": "gap closed", "planted": _pct(gap.get("planted")), "estimate": _pct(gap.get("estimate")),
                 "95 % interval": "unbounded" if gap.get("unbounded") else
                 f"{_pct(gap.get('ci_low'))} – {_pct(gap.get('ci_high'))}", "answers": None})
    st.dataframe(rows, hide_index=True, width="stretch")
    for error in data.get("errors", [])[:5]:
        st.text(f"error: {error}")
    if st.button(f"Open the results of dry run #{copy}", key=f"open-dry-{job.id}"):
        st.switch_page("views/results.py", query_params={"study": str(copy)})


def dry_run_section(study_id: int, user_id: int) -> None:
    st.header("Dry run: simulated participants")
    flash_key = f"dry-run-flash-{study_id}"
    st.caption("Copies this study (settings, items with gold answers, conditions, strategies, rubric; no people) into "
               "a new dry-run study where simulated participants and experts of the planted accuracy go through "
               "it as people would: dealt by the design, the study's models speaking, experts reviewing. The "
               "copy's Results page shows what the analysis recovers. This study is untouched. The same as "
               "`python -m oversight simulate`.")
    key = f"dry-run-{study_id}"
    with st.form(key):
        c1, c2, c3 = st.columns(3)
        participants = c1.number_input("Simulated participants", 1, 2000, 10, key=f"{key}-participants")
        experts = c2.number_input("Simulated experts (answer and review)", 0, 50, 2, key=f"{key}-experts")
        seed = c3.number_input("Seed", 0, 1_000_000, 0, key=f"{key}-seed")
        a1, a2, a3, a4, a5 = st.columns(5)
        # Defaults and bounds are the CLI's (oversight/cli/simulation.py); `Skill` checks them for both.
        default = Skill()
        alone = a1.number_input("Accuracy alone", 0.0, 1.0, default.alone, 0.01, key=f"{key}-alone",
                                help="Planted accuracy of a non-expert answering alone.")
        assisted = a2.number_input("Accuracy with the model", 0.0, 1.0, default.assisted, 0.01, key=f"{key}-assisted",
                                   help="Planted accuracy of a non-expert with the model (every version).")
        expert = a3.number_input("Expert accuracy", 0.0, 1.0, default.expert, 0.01, key=f"{key}-expert")
        review = a4.number_input("Review accuracy", 0.0, 1.0, default.review_accuracy, 0.01, key=f"{key}-review",
                                 help="Chance a simulated reviewer labels an outcome right (sets the expected "
                                      "agreement).")
        confidence = a5.number_input("Stated confidence (0: calibrated)", 0.0, 1.0, 0.0, 0.05, key=f"{key}-conf",
                                     help="Every planted answer puts this probability on its chosen option; 0: "
                                          "confidence drawn around the planted accuracy.")
        submitted = st.form_submit_button("Start dry run")
    show_flash(flash_key)  # here, beside the form, not at the top of a long page
    if submitted:
        ok, skill = attempt(Skill, alone=float(alone), assisted=float(assisted), expert=float(expert),
                            review_accuracy=float(review), confidence=float(confidence) or None)
        if ok:
            ok, job = attempt(start_dry_run, study_id=study_id, participants=int(participants), skill=skill,
                              experts=int(experts), seed=int(seed), user_id=user_id)
            if ok:
                flash_and_rerun(f"Started dry run job #{job}: its progress is below.", flash_key)
    job_progress(lambda: dry_run_jobs(study_id), key=f"dry-{study_id}", title=_title, finished=_finished)
