"""Admin: invite participants, open Prolific enrolment, see who is active, attention flags with the include/exclude
override, withdraw a link, pay."""

import streamlit as st

from oversight.access.auth import (
    AuthError, close_enrolment, create_invites, enrolment_cap, open_enrolment, reissue_link, revoke_participant,
    set_enrolment_cap,
)
from oversight.study import payments
from oversight.study.attention import (
    attention, decision_authors, describe_status, describe_thresholds, set_override,
)
from oversight.study.launch import set_study_status
from oversight.study.studies import get_study, participants
from web.launch_panel import preview_button
from web.prolific_panel import api_panel
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
    st.text(f"Completion code: {study.completion_code} (the other endings' codes: Study settings)")
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
authors = decision_authors(study_id=study_id) if any(a.override for a in checks) else {}
st.caption(f"{study_now.catch_items} catch item(s) per participant, minimum "
           f"{study_now.min_seconds_per_item:g} s per item (0: off). Flags = wrong catch answers + too-fast answers; "
           f"{describe_thresholds(study_now)} (Study settings). Excluded participants' answers are left out of every result, they earn no bonus and "
           "their base pay is held until you decide: Include anyway (approve and pay) or Exclude (reject on Prolific, "
           "screened out).")
st.dataframe([{"participant": a.name, "Prolific ID": a.external_id or "", "catch wrong":
               f"{a.catch_wrong}/{a.catch_answered}", "too fast": a.too_fast, "flags": a.flags,
               "status": describe_status(a.status, a.override, authors.get(a.user_id))} for a in checks],
             hide_index=True, width="stretch")
if said := st.session_state.pop("attention_done", None):
    st.success(escape_markdown(said))
# The picker and the buttons that act on its choice in one box, each button naming the person: a decision is never
# made for someone chosen somewhere else on the page.
with st.container(border=True):
    by_id = {a.user_id: a for a in checks}
    # The first participant still waiting for a look (flagged, no decision yet) comes first.
    waiting = next((i for i, a in enumerate(checks) if a.status != "ok" and a.override is None), 0)
    chosen = st.selectbox("Decide for", list(by_id), index=waiting, key=f"attention-who-{study_id}",
                          format_func=lambda i: f"{by_id[i].name} {by_id[i].external_id or ''}".strip())
    person = by_id[chosen]
    shown = f"{person.name} {person.external_id or ''}".strip()
    st.text(f"{shown}: {person.flags} flag(s), "
            f"{describe_status(person.status, person.override, authors.get(person.user_id))}.")
    label = escape_markdown(shown)  # a Prolific ID comes from outside; button labels render Markdown
    o1, o2, o3 = st.columns(3)
    for column, decision, text, done, why in (
            (o1, "include", f"Include {label} anyway", "included anyway",
             "Their answers count and their pay is released, whatever their flags."),
            (o2, "exclude", f"Exclude {label}", "excluded",
             "Their answers are left out of results; the next payment export lists their submission to reject "
             "(screened out)."),
            (o3, None, f"Let the thresholds decide for {label}", "left to the thresholds",
             "Remove your decision for this participant.")):
        if column.button(text, help=why, key=f"attention-{decision}-{study_id}"):
            if attempt(set_override, study_id=study_id, participant_id=chosen, decision=decision,
                       user_id=user.id)[0]:
                st.session_state["attention_done"] = f"{shown}: {done}."
                st.rerun()

st.subheader("Payments")
if study.base_pay == 0 and study.bonus_rule == "none":
    st.info("This study pays no base pay and no bonus. Set them on the Study settings page.")
else:
    st.caption(escape_markdown(payments.describe_pay(study)) + " On Prolific the base pay is paid by approving the submission; "
               "the bulk-bonus file holds the bonuses only.")
    book = payments.ledger(study_id=study_id)
    for level, message in book.messages():  # held, owed and paid, from the same numbers
        # App text with numbers and a three-letter currency code only: nothing from outside to escape.
        {"warning": st.warning, "info": st.info, "success": st.success, "caption": st.caption}[level](message)
    if book.people:
        st.dataframe([{"participant": p.name, "Prolific ID": p.external_id or "(personal link)",
                       "on Prolific": {"approve": "approve", "reject": f"reject: {p.reason}",
                                       "returned": f"returned: {p.reason}"}.get(p.decision, "settled"),
                       "base": p.base, "bonus": p.bonus, "owed": p.amount} for p in book.people],
                     hide_index=True, width="stretch")
    if book.to_export and st.button(
            "Export payments", type="primary",
            help="Records every approval, rejection and bonus listed here as settled, so the next export lists only "
                 "what comes after it. Its files stay below."):
        if attempt(payments.export_payments, study_id=study_id, user_id=user.id)[0]:
            st.rerun()
    api_panel(study, user.id)
    past = payments.exports(study_id=study_id)
    if past:
        st.caption("Exports (newest first): each keeps its files. Upload bonus.csv to Prolific's bulk bonus, "
                   "approve the IDs in approve.txt, reject those in reject.csv with the reason given; pay "
                   "by-hand.csv another way.")
    for batch in past:
        files = payments.export_files(batch)
        st.text(f"Export {batch.export_id}: {batch.total:.2f} {batch.currency}, {len(batch.approve)} to approve, "
                f"{len(batch.reject)} to reject, {len(batch.prolific_lines)} bonus line(s), "
                f"{len(batch.by_hand)} to pay by hand.")
        for column, (name, text) in zip(st.columns(4), files.items()):
            column.download_button(name, text, file_name=f"study-{study_id}-export-{batch.export_id}-{name}",
                                   mime="text/csv" if name.endswith(".csv") else "text/plain",
                                   key=f"export-{batch.export_id}-{name}")
