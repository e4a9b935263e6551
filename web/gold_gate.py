"""The gate before a study's gold answers (Review queue, Transcripts): an expert who is to answer the study's items
first sees why, and where they have not started may choose to review without answering (they are then never dealt
its items: `oversight.sandwiching.reviews.gold_gate`). Stops the page while the gate is closed."""

from __future__ import annotations

import streamlit as st

from oversight.sandwiching.reviews import choose_review_without_answering, gold_gate
from web.ui import attempt


def gold_gate_section(study_id: int, user_id: int) -> None:
    gate = gold_gate(study_id=study_id, user_id=user_id)
    if gate is None:
        return
    st.info(gate.message)
    if gate.can_choose:
        c1, c2 = st.columns(2)
        if c1.button("Answer the items first", type="primary"):
            st.switch_page("views/participant.py", query_params={"study": str(study_id)})
        if c2.button("Review without answering", help="You will not be dealt this study's items to answer."):
            if attempt(choose_review_without_answering, study_id=study_id, user_id=user_id)[0]:
                st.rerun()
    st.stop()
