"""Admin: the study's strategies, every version with its parent and the reason it was made."""

import json

import streamlit as st

from oversight.strategies import PROTOCOLS, StrategyError, create_strategy, list_strategies
from ui import pick_study, require_role, user_error

user = require_role("admin")
st.title("Strategies")
study_id = pick_study()
if study_id is None:
    st.stop()

rows = list_strategies(study_id=study_id)
if rows:
    by_id = {r.id: r for r in rows}
    st.dataframe(
        [{"id": r.id, "name": r.name, "version": r.version, "protocol": r.protocol,
          "parent": f"v{by_id[r.parent_id].version}" if r.parent_id in by_id else "",
          "reason": r.reason, "rules": json.dumps(r.rules), "models": json.dumps(r.model_roles),
          "created": r.created_at.strftime("%Y-%m-%d %H:%M")} for r in rows],
        hide_index=True, width="stretch",
    )
else:
    st.info("No strategies yet.")

st.subheader("New strategy")
with st.form("new_strategy", clear_on_submit=True):
    name = st.text_input("Name")
    protocol = st.selectbox("Protocol", PROTOCOLS)
    rounds = st.number_input("Rounds", 1, 10, 3)
    if st.form_submit_button("Save version 1", type="primary"):
        try:
            row = create_strategy(study_id=study_id, name=name, protocol=protocol, rules={"rounds": int(rounds)},
                                  user_id=user.id)
        except StrategyError as exc:
            user_error(exc)
        else:
            st.success(f"Saved {row.name} v{row.version}.")
            st.rerun()
