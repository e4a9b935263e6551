"""Admin: invite participants, open Prolific enrolment, see who is active, attention flags with the include/exclude
override, withdraw a link, pay."""

import streamlit as st

from oversight.access.auth import (
    AuthError, close_enrolment, create_invites, enrolment_cap, open_enrolment, reissue_link, revoke_participant,
    set_enrolment_cap,
)
from oversight.study import payments
from oversight.study.attention import attention, describe_thresholds, set_override
from oversight.study.launch import set_study_status
from oversight.study.studies import get_study, participants
from web.launch_panel import preview_button
from web.ui import attempt, escape_markdown, pick_study, require_role, user_error

user = require_role("admin")
st.title("Participants")
study_id = pick_study()
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
        st.rerun()  # the status line above says "open" at once
    if study.enrol_token_hash and st.button("Close enrolment"):
        close_enrolment(study_id=study_id, by=user.id)
        st.session_state.pop("enrol_link", None)
        st.rerun()
    if st.session_state.get("enrol_link"):
        st.code(st.session_state["enrol_link"], language=None)
    cap = enrolment_cap(study_id)
    with st.form(f"cap-{study_id}"):
        st.caption("Limits on the participants the enrolment link creates (0: no limit); returning participants "
                   "always resume.")
        c1, c2 = st.columns(2)
        per_minute = c1.number_input("Per minute", 0, 100_000, cap.max_per_minute or 0)
        total = c2.number_input("In total", 0, 1_000_000, cap.max_total or 0)
        if st.form_submit_button("Save limits"):
            if attempt(set_enrolment_cap, study_id=study_id, max_per_minute=int(per_minute) or None,
                       max_total=int(total) or None, by=user.id)[0]:
                st.success("Saved.")
    st.text(f"Completion code: {study.completion_code}")
    st.text(f"The study is {study.status}.")
    if study.status == "draft":
        st.caption("Open it on the Study settings page (after the launch check).")
    elif st.button("Close the study" if study.status == "open" else "Reopen the study",
                   help="A closed study shows participants a notice instead of tasks; nothing is deleted. "
                        "Reopening runs the launch check."):
        if attempt(set_study_status, study_id=study_id, status="closed" if study.status == "open" else "open",
                   user_id=user.id)[0]:
            st.rerun()
    st.subheader("Preview")
    st.caption("Take the study as a participant would (a draft too). Marked 'preview' below and on the Monitor.")
    preview_button(study_id, user.id)

st.subheader("Who is in this study")
people = participants(study_id=study_id)
if not people:
    st.info("Nobody yet. Create links above and send them to participants.")
    st.stop()
active = sum(p["status"] == "active" for p in people)
st.metric("Active in the last 15 minutes", active)
st.dataframe([{"participant": p["name"], "Prolific ID": p["external_id"], "status": p["status"],
               "last seen": p["last_seen"], "tasks done": f"{p['assignments_done']}/{p['assignments']}",
               "answers and reports": p["judgments"], "preview": "preview: not counted, not paid" if p["preview"]
               else ""} for p in people], hide_index=True, width="stretch")
names = {p["id"]: f"{p['name']} {p['external_id']}".strip() for p in people}
who = st.selectbox("Participant", list(names), format_func=names.__getitem__)
c1, c2 = st.columns(2)
if c1.button("Withdraw their link", help="The link stops working at once; their answers so far are kept."):
    revoke_participant(user_id=who, by=user.id)
    st.rerun()
if c2.button("Issue a new link", help="For a participant who lost theirs; the old link stops working."):
    st.session_state["reissued"] = reissue_link(user_id=who, by=user.id)
if st.session_state.get("reissued"):
    st.code(st.session_state["reissued"], language=None)

st.subheader("Attention checks")
study_now, checks = attention(study_id=study_id)
st.caption(f"{study_now.catch_items} catch item(s) per participant, minimum "
           f"{study_now.min_seconds_per_item:g} s per item (0: off). Flags = wrong catch answers + too-fast answers; "
           f"{describe_thresholds(study_now)} (Study settings). Excluded participants' answers are left out of every result, they earn no bonus and "
           "their base pay is held until you include them.")
st.dataframe([{"participant": a.name, "Prolific ID": a.external_id or "", "catch wrong":
               f"{a.catch_wrong}/{a.catch_answered}", "too fast": a.too_fast, "flags": a.flags, "status": a.status,
               "override": a.override or ""} for a in checks], hide_index=True, width="stretch")
st.text(f"Decision for the participant chosen above: {names[who]}")
o1, o2, o3 = st.columns(3)
if o1.button("Include anyway", help="Their answers count and their pay is released, whatever their flags."):
    if attempt(set_override, study_id=study_id, participant_id=who, decision="include", user_id=user.id)[0]:
        st.rerun()
if o2.button("Exclude", help="Their answers are left out of results and their pay is held."):
    if attempt(set_override, study_id=study_id, participant_id=who, decision="exclude", user_id=user.id)[0]:
        st.rerun()
if o3.button("Let the thresholds decide", help="Remove your decision for this participant."):
    if attempt(set_override, study_id=study_id, participant_id=who, decision=None, user_id=user.id)[0]:
        st.rerun()

st.subheader("Payments")
if study.base_pay == 0 and study.bonus_rule == "none":
    st.info("This study pays no base pay and no bonus. Set them on the Study settings page.")
else:
    st.caption(escape_markdown(payments.describe_pay(study)))
    owed_now = payments.owed(study_id=study_id)
    held = payments.held(study_id=study_id)
    if held:
        st.warning(f"Pay held for {len(held)} participant(s) excluded by the attention checks: no bonus, and their "
                   "base pay is not exported until you include them (Attention checks above).")
        st.dataframe([{k: v for k, v in h.items() if k != "id"} for h in held], hide_index=True)
    if not owed_now:
        st.success("Nothing is owed: everyone earned so far has been paid.")
    else:
        st.dataframe([{"participant": o.name, "Prolific ID": o.external_id or "(personal link)", "base": o.base,
                       "bonus": o.bonus, "amount": o.amount} for o in owed_now], hide_index=True, width="stretch")
        if st.button("Export payments", type="primary",
                     help="Records every payment listed here as paid, so the next export pays only what is "
                          "earned after it."):
            ok, batch = attempt(payments.export_payments, study_id=study_id, user_id=user.id)
            if ok:
                st.session_state["payment_batch"] = batch
                st.rerun()
    batch = st.session_state.get("payment_batch")
    if batch is not None and batch.export_id:
        st.success(escape_markdown(f"Export {batch.export_id}: {batch.total:.2f} {batch.currency} recorded as "
                                   "paid."))
        st.download_button("Prolific bulk bonus lines (ID,amount)", "".join(f"{x}\n" for x in batch.prolific_lines),
                           file_name=f"study-{study_id}-bonus-{batch.export_id}.csv", mime="text/csv")
        if batch.by_hand:
            st.warning("These came by personal link (no Prolific ID): pay them another way.")
            st.dataframe(batch.by_hand, hide_index=True)
    past = payments.exports(study_id=study_id)
    if past:
        st.caption("Earlier exports")
        st.dataframe([{"export": e.id, "when": e.created_at, "participants": e.lines, "total": e.total}
                      for e in past], hide_index=True)
