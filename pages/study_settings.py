"""Admin: a study's settings (name, description, instructions, consent text, items per participant, completion
code, enrolment limits, open or closed); every change is in the audit log."""

import streamlit as st

from oversight.studies import get_study, update_study
from ui import attempt, escape_markdown, pick_study, require_role

user = require_role("admin")
st.title("Study settings")
study_id = pick_study()
study = get_study(study_id)
flash_box = st.empty()  # one element always, so the form below keeps its place
if flash := st.session_state.pop("settings_flash", None):
    flash_box.success(escape_markdown(flash))

with st.form(f"settings-{study_id}"):
    name = st.text_input("Name", study.name)
    description = st.text_area("Description (for staff)", study.description)
    instructions = st.text_area("Instructions (participants see them above their tasks)", study.instructions,
                                height=160)
    consent = st.text_area("Consent text (participants agree to it before the first task; empty: a short default)",
                           study.consent_text, height=160)
    c1, c2 = st.columns(2)
    per_person = c1.number_input("Items per participant (0: every item)", 0, 1_000_000,
                                 study.items_per_participant or 0,
                                 help="Applies to participants dealt from now on; dealt tasks stay as they are.")
    code = c2.text_input("Completion code (shown when every task is done)", study.completion_code or "")
    if st.form_submit_button("Save settings", type="primary"):
        ok, changed = attempt(update_study, study_id=study_id, user_id=user.id, name=name, description=description,
                              instructions=instructions, consent_text=consent,
                              items_per_participant=int(per_person) or None, completion_code=code)
        if ok:
            st.session_state["settings_flash"] = (f"Saved: {', '.join(c.replace('_', ' ') for c in changed)}."
                                                  if changed else "Nothing changed.")
            st.rerun()
st.caption("Enrolment limits, invitations and opening or closing the study are on the Participants page.")
