"""Admin: all studies at a glance (pick a row to open it on Study settings), opening a draft through the launch
check, a form to create one, and a study's lifecycle: duplicate, archive (and back), delete after an export."""

import streamlit as st

from oversight.results.export import export_zip
from oversight.study.lifecycle import archive_study, can_delete, delete_study, duplicate_study, unarchive_study
from oversight.study.studies import StudyError, create_study, list_studies, study_label
from web.launch_panel import launch_section
from web.ui import LAST_STUDY, attempt, escape_markdown, flash_and_rerun, require_role, show_flash, user_error

user = require_role("admin")
st.title("Studies")
show_flash()

show_archived = st.toggle("Show archived studies", key="show_archived",
                          help="Archived studies are read-only and their links are closed; they are hidden from "
                               "every list until shown here.")
studies = list_studies(include_archived=show_archived)
if studies:
    st.caption("Pick a row to open that study on Study settings.")
    table = st.dataframe(
        [{"id": s.id, "name": study_label(s), "status": s.status, "items": s.n_items,
          "participants": s.n_participants, "transcripts": s.n_transcripts,
          "created": s.created_at.strftime("%Y-%m-%d %H:%M")} for s in studies],
        hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row", key="studies_table",
    )
    if table.selection.rows:
        # The study picker of every page reads ?study=ID (web.ui.pick_study).
        st.switch_page("views/study_settings.py", query_params={"study": str(studies[table.selection.rows[0]].id)})
else:
    st.info("No studies yet. Create the first one below.")

drafts = [s for s in studies if s.status in ("draft", "closed")]  # drafts, and closed studies to reopen
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

if studies:
    st.subheader("Duplicate, archive or delete")
    ids = [s.id for s in studies]
    # The study chosen last, here or on another page (the sidebar's links drop ?study=: web.ui.pick_study).
    wanted = st.query_params.get("study") or str(st.session_state.get(LAST_STUDY, ""))
    default = ids.index(int(wanted)) if wanted and wanted.isdigit() and int(wanted) in ids else 0
    sid = st.selectbox("Study", ids, index=default, key="lifecycle_study",
                       format_func={s.id: f"{study_label(s)} (#{s.id}, {s.status})" for s in studies}.get)
    study = next(s for s in studies if s.id == sid)
    c1, c2 = st.columns(2)
    with c1:
        st.caption("A new draft with this study's settings, items, strategy versions, conditions and rubric; no "
                   "people, answers, reviews or payments.")
        if st.button("Duplicate", key="duplicate"):
            ok, new_id = attempt(duplicate_study, study_id=sid, user_id=user.id)
            if ok:
                st.query_params["study"] = str(new_id)
                flash_and_rerun(f"Duplicated #{sid} as #{new_id} ({study.name} (copy)), a draft.")
    with c2:
        if study.status == "archived":
            st.caption("Unarchiving makes the study writable again; it comes back closed (a draft stays a draft) "
                       "and opens only through the launch check. Open a new enrolment link if you need one.")
            if st.button("Unarchive", key="unarchive"):
                ok, status = attempt(unarchive_study, study_id=sid, user_id=user.id)
                if ok:
                    flash_and_rerun(f"Unarchived study #{sid}: it is {status} now.")
        else:
            st.caption("Archiving hides the study from the lists, makes it read-only and closes its links: "
                       "participants' personal links and the enrolment link stop working.")
            if st.button("Archive", key="archive"):
                ok, _ = attempt(archive_study, study_id=sid, user_id=user.id)
                if ok:
                    flash_and_rerun(f"Archived study #{sid}. Its links no longer work; 'Show archived studies' "
                                    "lists it.")

    with st.expander("Delete this study"):
        st.caption("Deleting removes the study and everything in it (items, strategies, conditions, participants, "
                   "their answers, transcripts, reviews and payments) for good. It needs an export made after the "
                   "last change, a study that is not open, and its name typed exactly. The audit log keeps a record.")
        if st.button("Export this study first", key="delete_export"):
            with st.spinner("Exporting…"):
                st.session_state[f"lifecycle-export-{sid}"] = export_zip(study_id=sid, user_id=user.id)
        if prepared := st.session_state.get(f"lifecycle-export-{sid}"):
            st.download_button(f"Download {prepared[0]}", data=prepared[1], file_name=prepared[0],
                               mime="application/zip", key="delete_download")
        if why := can_delete(study_id=sid):
            st.info("Not yet: " + escape_markdown(why) + ".")
        with st.form(f"delete-{sid}", clear_on_submit=True):
            typed = st.text_input("Type the study's name to confirm", key=f"delete-name-{sid}")
            if st.form_submit_button("Delete the study for good", type="primary"):
                ok, _ = attempt(delete_study, study_id=sid, confirm_name=typed, user_id=user.id)
                if ok:
                    st.query_params.pop("study", None)
                    st.session_state.pop(f"lifecycle-export-{sid}", None)
                    flash_and_rerun(f"Deleted study #{sid} ({study.name}). The audit log keeps the record.")
