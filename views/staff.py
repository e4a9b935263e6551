"""Admin: the lab's admins and experts. Invite one by a one-time sign-up link (they set their own password), send a
password reset link, sign a person out everywhere, deactivate or reactivate an account; withdraw unused links.
Every action is audited by `oversight/access/staff_links.py`, which the `staff ...` commands call too."""

from __future__ import annotations

from web.ui import require_role

user = require_role("admin")

from datetime import datetime  # noqa: E402

import streamlit as st  # noqa: E402

from oversight.access.staff_links import (LINK_DAYS, IssuedLink, invite, pending_links, reset_link,  # noqa: E402
                                          revoke_link, set_active, sign_out_everywhere, staff_list)
from web.ui import attempt, escape_markdown, flash_and_rerun, show_flash  # noqa: E402

NEW_LINK = "staff_new_link"


def _when(t: datetime | None) -> str:
    return t.strftime("%Y-%m-%d %H:%M UTC") if t is not None else "never"


def _keep(issued: IssuedLink, what: str) -> None:
    # The token is shown once: kept in this tab's state until the admin says they copied it.
    st.session_state[NEW_LINK] = issued
    flash_and_rerun(what)


st.title("Staff")
st.caption("Admins and experts. Participants join through their study's links (Participants page).")
show_flash()

issued: IssuedLink | None = st.session_state.get(NEW_LINK)
if issued is not None:
    with st.container(border=True):
        what = "sign-up" if issued.purpose == "invite" else "password reset"
        st.text(f"One-time {what} link for {issued.name} ({issued.role}), valid until {_when(issued.expires_at)}. "
                "Copy it now and send it to them: it is not shown again.")
        st.code(issued.link, language=None)
        if st.button("I have copied the link"):
            st.session_state.pop(NEW_LINK, None)
            st.rerun()

people = staff_list()
st.subheader("People")
st.dataframe([{"name": p.name, "role": p.role, "status": "active" if p.active else "deactivated",
               "last sign-in": _when(p.last_sign_in), "live sessions": p.live_sessions} for p in people],
             hide_index=True, width="stretch")

st.subheader("Invite an admin or expert")
with st.form("invite", clear_on_submit=True):
    name = st.text_input("Name", help="What they sign in with (an e-mail address for institution sign-in).")
    role = st.radio("Role", ["expert", "admin"], horizontal=True)
    if st.form_submit_button("Make a sign-up link", type="primary"):
        ok, made = attempt(invite, name=name, role=role, by=user.id)
        if ok:
            _keep(made, f"Sign-up link made for {made.name}. It works once, for {LINK_DAYS} days.")

st.subheader("Manage a person")
if people:
    by_id = {p.id: p for p in people}
    # Labels that do not change with an action: a changed option list would reset the choice to the first person,
    # and the next button would act on someone else.
    chosen = by_id[st.selectbox("Person", list(by_id), format_func=lambda i: f"{by_id[i].name} ({by_id[i].role})",
                                key="staff_person")]
    if not chosen.active:
        st.caption(f"{escape_markdown(chosen.name)} is deactivated: they cannot sign in.")
    cols = st.columns(3)
    if cols[0].button("Send a password reset link", disabled=not chosen.active,
                      help="A one-time link with which they set a new password; their sessions end when they do."):
        ok, made = attempt(reset_link, name=chosen.name, by=user.id)
        if ok:
            _keep(made, f"Password reset link made for {made.name}.")
    if cols[1].button("Sign out everywhere", help="Every open tab of theirs is signed out at its next click."):
        ok, ended = attempt(sign_out_everywhere, name=chosen.name, by=user.id)
        if ok:
            flash_and_rerun(f"{chosen.name} signed out everywhere ({ended} session(s) ended).")
    if chosen.active:
        if cols[2].button("Deactivate", help="They cannot sign in until reactivated; their sessions end now."):
            ok, ended = attempt(set_active, name=chosen.name, active=False, by=user.id)
            if ok:
                flash_and_rerun(f"{chosen.name} deactivated ({ended} session(s) ended).")
    elif cols[2].button("Reactivate", help="They can sign in again with their password."):
        ok, _ = attempt(set_active, name=chosen.name, active=True, by=user.id)
        if ok:
            flash_and_rerun(f"{chosen.name} reactivated.")

st.subheader("Links not used yet")
links = pending_links()
if not links:
    st.caption("None: every link was used, withdrawn or has expired.")
else:
    st.dataframe([{**link, "made": _when(link["made"]), "expires": _when(link["expires"])} for link in links],
                 hide_index=True, width="stretch")
    labels = {link["id"]: f"#{link['id']}: {link['purpose']} for {link['for']}" for link in links}
    link_id = st.selectbox("Link", list(labels), format_func=labels.__getitem__)
    if st.button("Withdraw this link"):
        ok, _ = attempt(revoke_link, link_id=link_id, by=user.id)
        if ok:
            flash_and_rerun(f"Link {labels[link_id]} withdrawn: it no longer works.")
