"""A staff link (`?invite=TOKEN`): a new admin or expert sets their own password and is signed in, or an existing
one sets a new password (a reset). A link that does not work shows why, and nothing else. See
oversight/access/staff_links.py."""

from __future__ import annotations

import streamlit as st

from oversight.access.auth import AuthError
from oversight.access.staff_links import INVITE_PARAM, LINK_BROKEN, open_link, use_link
from web.session_cookie import begin, client_address
from web.ui import current_user, escape_markdown, sign_in_as

st.title("Oversight Lab")
token = st.query_params.get(INVITE_PARAM, "")
signed_in = current_user()
try:
    link = open_link(token, client=client_address())
except AuthError as exc:  # too many links that do not work from this address
    st.error(escape_markdown(str(exc)))
    st.stop()
if link is None:
    st.error(LINK_BROKEN)
    st.stop()
if signed_in is not None:
    # The link belongs to someone (maybe this person); using it here would mix two sign-ins in one tab.
    st.warning(f"You are signed in as {escape_markdown(signed_in.name)}. Sign out first, or open this link in a "
               "private window, to use it.")
    st.stop()

if link.purpose == "invite":
    st.subheader("Set your password")
    st.text(f"You were invited as {link.role} {link.name!r}. Choose a password to finish signing up; "
            f"from then on you sign in with the name {link.name!r} and this password.")
else:
    st.subheader("Set a new password")
    st.text(f"Choose a new password for {link.name!r}. Your other sign-ins end when you do.")

with st.form("set_password"):
    password = st.text_input("New password", type="password", help="At least 8 characters, not your name.")
    repeated = st.text_input("New password again", type="password")
    submitted = st.form_submit_button("Set password and sign in", type="primary")
if submitted:
    try:
        user = use_link(token=token, password=password, repeated=repeated, client=client_address())
    except AuthError as exc:
        st.error(escape_markdown(str(exc)))
    else:
        sign_in_as(user)
        begin(user.id)
        # The token leaves the address bar (and the browser's history entry of this page) once used.
        st.query_params.clear()
        st.rerun()
