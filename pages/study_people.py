"""Admin: invite participants, open Prolific enrolment, see who is active, withdraw a link."""

import streamlit as st

from oversight.auth import AuthError, close_enrolment, create_invites, open_enrolment, revoke_participant
from oversight.studies import get_study, participants
from ui import pick_study, require_role, user_error

user = require_role("admin")
st.title("Participants")
study_id = pick_study()
if study_id is None:
    st.stop()
study = get_study(study_id)

left, right = st.columns(2)
with left:
    st.subheader("Personal links")
    count = st.number_input("How many", 1, 500, 5)
    if st.button("Create links", type="primary"):
        try:
            st.session_state["new_links"] = [i.link for i in create_invites(study_id=study_id, count=int(count),
                                                                              created_by=user.id)]
        except AuthError as exc:
            user_error(exc)
    if st.session_state.get("new_links"):
        st.warning("Copy these now: only their hashes are stored, so they cannot be shown again.")
        st.code("\n".join(st.session_state["new_links"]), language=None)
with right:
    st.subheader("Open enrolment (Prolific)")
    st.caption("One link for everyone; Prolific fills in PROLIFIC_PID, STUDY_ID and SESSION_ID, and a "
               "returning participant resumes where they were.")
    st.text(f"Enrolment is {'open' if study.enrol_token_hash else 'closed'}.")
    if st.button("Issue a new enrolment link" if study.enrol_token_hash else "Open enrolment"):
        st.session_state["enrol_link"] = open_enrolment(study_id=study_id, by=user.id)
    if study.enrol_token_hash and st.button("Close enrolment"):
        close_enrolment(study_id=study_id, by=user.id)
        st.session_state.pop("enrol_link", None)
        st.rerun()
    if st.session_state.get("enrol_link"):
        st.code(st.session_state["enrol_link"], language=None)
    st.text(f"Completion code: {study.completion_code}")

st.subheader("Who is in this study")
people = participants(study_id=study_id)
if not people:
    st.info("Nobody yet. Create links above and send them to participants.")
    st.stop()
active = sum(p["status"] == "active" for p in people)
st.metric("Active in the last 15 minutes", active)
st.dataframe(people, hide_index=True, width="stretch")
with st.form("revoke"):
    who = st.selectbox("Withdraw a participant's link", [p["id"] for p in people if p["status"] != "revoked"],
                       format_func=lambda i: next(p["name"] for p in people if p["id"] == i))
    if st.form_submit_button("Withdraw link") and who is not None:
        revoke_participant(user_id=who, by=user.id)
        st.rerun()
