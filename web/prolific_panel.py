"""The Prolific API mode's part of the Payments section: send an export, and settle a call that got no answer."""

from __future__ import annotations

import streamlit as st

from oversight.study import payments, prolific_api
from storage.models import Study
from web.ui import attempt


def api_panel(study: Study, user_id: int) -> None:
    if not prolific_api.api_mode(study):
        st.caption("Prolific API mode: off (set OVERSIGHT_PROLIFIC_API_TOKEN where the app runs and the study's "
                   "Prolific study id on Study settings to send exports from here).")
        return
    waiting = prolific_api.unanswered(study_id=study.id)
    for call in waiting:
        st.warning(f"Call {call.id} ({call.action.replace('_', ' ')}, export {call.export_id}) was sent to Prolific "
                   "and got no answer. Check on Prolific whether it happened, then record it here.")
        c1, c2 = st.columns(2)
        if c1.button("It happened", key=f"call-yes-{call.id}"):
            if attempt(prolific_api.settle_unanswered, call_id=call.id, happened=True, by=user_id)[0]:
                st.rerun()
        if c2.button("It did not happen", key=f"call-no-{call.id}"):
            if attempt(prolific_api.settle_unanswered, call_id=call.id, happened=False, by=user_id)[0]:
                st.rerun()
    past = payments.exports(study_id=study.id)
    if past and st.button("Send the latest export to Prolific (API)",
                          help="Posts its bonuses and pays them, approves and rejects its submissions. Safe to "
                               "press again after a failure: nothing is paid twice."):
        ok, lines = attempt(prolific_api.send_export, export_id=past[0].export_id, by=user_id)
        if ok:
            st.success("Sent: " + "; ".join(lines))
