"""The Study settings control for what participants are told after an answer whose gold is shown
(oversight/study/feedback.py): a small form of its own, saved through the same `update_study` (validated and
audited there) as every other setting."""

from __future__ import annotations

import streamlit as st

from oversight.study.feedback import LABELS
from oversight.study.studies import update_study
from storage.models import Study
from storage.vocabulary import FEEDBACK_MODES
from web.ui import attempt, flash_and_rerun


def feedback_setting(study: Study, user_id: int, *, flash_key: str) -> None:
    """A radio of the three feedback modes with its own Save button, under the study's settings form."""
    with st.form(f"feedback-{study.id}"):
        st.markdown("**Feedback to participants**")
        st.caption("After a practice item, and after a task whose strategy shows the answer once judged: what "
                   "participants are told about their answer. The score is the one the results and the score "
                   "bonus use, explained to them in plain words the first time.")
        mode = st.radio("Participants see", FEEDBACK_MODES, index=FEEDBACK_MODES.index(study.feedback),
                        format_func=LABELS.__getitem__, key=f"feedback-mode-{study.id}")
        if st.form_submit_button("Save feedback setting"):
            ok, changed = attempt(update_study, study_id=study.id, user_id=user_id, feedback=mode)
            if ok:
                flash_and_rerun(f"Feedback: {LABELS[mode].lower()}." if changed else "Nothing changed.", flash_key)
