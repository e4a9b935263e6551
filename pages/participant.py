"""A participant's view: consent, instructions, one task at a time, then the completion code.

Answers are stored the moment they are submitted; the personal link in the address bar resumes here.
"""

import streamlit as st

from oversight.participation import ParticipationError, next_task, progress, record_consent, submit_answer
from oversight.studies import get_study
from ui import require_role, user_error

user = require_role("participant")
study = get_study(user.study_id)
st.title(study.name)

if study.status != "open":
    st.info("This study is closed. Thank you for your interest.")
    st.stop()

if user.consented_at is None:
    st.subheader("Before you begin")
    st.text(study.consent_text or "Your answers are stored under a random participant name and used for research.")
    agree = st.checkbox("I have read this and agree to take part")
    if st.button("Continue", type="primary", disabled=not agree):
        record_consent(user_id=user.id)
        st.rerun()
    st.stop()

if study.instructions:
    with st.expander("Instructions", expanded=progress(user_id=user.id).done == 0):
        st.text(study.instructions)

task = next_task(user_id=user.id)
done = progress(user_id=user.id)
if task is None:
    if done.total == 0:
        st.info("There are no tasks for you yet. Please come back later using the same link.")
    else:
        st.success("You have finished every task. Thank you!")
        st.text(f"Your completion code: {done.completion_code}")
    st.stop()

st.progress(done.done / task.total, text=f"Task {task.position} of {task.total}")
st.subheader("Question")
st.text(task.question)
st.caption("How likely is each answer to be correct? The probabilities are scaled to add up to 100%.")
with st.form(f"answer-{task.assignment_id}"):
    weights = []
    for i, option in enumerate(task.options):
        st.text(f"{chr(65 + i)}. {option}")
        weights.append(st.slider(f"Probability of answer {chr(65 + i)} (%)", 0, 100, 100 // len(task.options),
                                 key=f"p-{task.assignment_id}-{i}"))
    rationale = st.text_area("Why? (optional)", key=f"r-{task.assignment_id}")
    if st.form_submit_button("Submit answer", type="primary"):
        try:
            submit_answer(user_id=user.id, assignment_id=task.assignment_id,
                          probabilities=[float(w) for w in weights], rationale=rationale)
        except ParticipationError as exc:
            user_error(exc)
        else:
            st.rerun()
