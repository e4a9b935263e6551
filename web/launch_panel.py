"""The launch check and the Open button, shared by the Studies and Study settings pages, and the preview button
(Participants), all around oversight/study/launch.py (Streamlit, so in web/)."""

from __future__ import annotations

import streamlit as st

from oversight.study.launch import LaunchCheck, check_study, create_preview, open_study
from web.ui import attempt, escape_markdown, flash_and_rerun


def show_check(check: LaunchCheck) -> None:
    """The check as a table per condition, the other facts as lines, problems and warnings as such (all text)."""
    st.dataframe([{"condition": c.name, "kind": c.kind, "protocol": c.protocol, "dealt to": c.dealt_to,
                   "items it can deal": c.items,
                   "refused": "; ".join(f"{n} item(s): {why}" for why, n in c.refused.items())}
                  for c in check.conditions], hide_index=True, width="stretch")
    per = "every item" if check.items_per_participant is None else check.items_per_participant
    st.text(f"{check.items} item(s) in the study; the participants' design deals {check.design_items} real "
            f"item(s), the experts' {check.expert_items}. Items per participant: {per}.\n"
            f"Practice: {check.practice_requested} asked, {check.practice_available} item(s) set aside as practice. "
            f"Catch items: {check.catch_requested} asked, {check.catch_available} with a gold answer"
            + (f", {check.catch_without_gold} without (never dealt)" if check.catch_without_gold else "") + ".\n"
            f"Rubric: {check.rubric}.\nPay: {check.pay}")
    for problem in check.problems:
        st.error(escape_markdown(problem))
    for warning in check.warnings:
        st.warning(escape_markdown(warning))


def launch_section(study_id: int, status: str, user_id: int, *, flash_key: str = "flash") -> LaunchCheck:
    """The check, and for a study that is not open, the button that opens it (refused while the check finds a
    problem). Returns the check, for the page's other uses of it (items each condition can deal)."""
    check = check_study(study_id=study_id)
    st.text(f"The study is {status}." + (" Participants see a 'not open yet' page until it opens; staff can "
                                         "preview it (Participants page)." if status == "draft" else ""))
    with st.expander("Launch check", expanded=status != "open"):
        show_check(check)
    if status != "open":
        if st.button("Open the study" if status == "draft" else "Reopen the study", type="primary",
                     disabled=not check.ok, key=f"open-{study_id}",
                     help="Runs the launch check again and opens the study: participants and enrolment links "
                          "are dealt tasks from then on." if check.ok else "Fix the problems listed first."):
            if attempt(open_study, study_id=study_id, user_id=user_id)[0]:
                flash_and_rerun(f"Study #{study_id} is open.", flash_key)
    return check


def preview_button(study_id: int, user_id: int) -> None:
    """Take the study as a participant: a preview participant with its own link, to open in a new tab."""
    if st.button("Preview as a participant", key=f"preview-{study_id}",
                 help="Creates a participant of yours with its own link (drafts included). Preview answers are in "
                      "no figure and no payment."):
        ok, preview = attempt(create_preview, study_id=study_id, staff_id=user_id)
        if ok:
            st.session_state[f"preview-link-{study_id}"] = preview.link
    if link := st.session_state.get(f"preview-link-{study_id}"):
        st.caption("Open this link in a new tab (or a private window, so that your staff sign-in stays here). "
                   "Preview: not counted, not paid.")
        st.code(link, language=None)
