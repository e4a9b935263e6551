"""Admin: all studies at a glance, opening a draft through the launch check, and a form to create one."""

import streamlit as st

from web.launch_panel import launch_section
from oversight.study.studies import StudyError, create_study, list_studies, study_label
from web.ui import flash_and_rerun, require_role, show_flash, user_error

user = require_role("admin")
st.title("Studies")
show_flash()

studies = list_studies()
if studies:
    st.dataframe(
        [{"id": s.id, "name": study_label(s), "status": s.status, "items": s.n_items,
          "participants": s.n_participants, "transcripts": s.n_transcripts,
          "created": s.created_at.strftime("%Y-%m-%d %H:%M")} for s in studies],
        hide_index=True, width="stretch",
    )
else:
    st.info("No studies yet. Create the first one below, or run `python -m oversight seed-demo`.")

drafts = [s for s in studies if s.status != "open"]  # drafts, and closed studies to reopen
if drafts:
    st.subheader("Open a study")
    st.caption("A new study is a draft: participants and enrolment links see a 'not open yet' page until it opens. "
               "A closed study can be reopened here too. Opening runs the launch check first.")
    chosen = st.selectbox("Study to open", [s.id for s in drafts],
                          format_func={s.id: f"{study_label(s)} (#{s.id}, {s.status})" for s in drafts}.get)
    launch_section(chosen, next(s.status for s in drafts if s.id == chosen), user.id)

st.subheader("New study")
with st.form("new_study", clear_on_submit=True):
    name = st.text_input("Name")
    description = st.text_area("Description (for researchers)", height=80)
    instructions = st.text_area("Instructions (shown to participants)", height=100)
    if st.form_submit_button("Create study", type="primary"):
        try:
            study = create_study(name=name, description=description, instructions=instructions, user_id=user.id)
        except StudyError as exc:
            user_error(exc)
        else:
            st.query_params["study"] = str(study.id)
            # Rerun so that the table above lists the new study at once.
            flash_and_rerun(f"Created study #{study.id} as a draft. Import items on the Items page next, then open "
                            "it (here or on Study settings) once the launch check passes.")
