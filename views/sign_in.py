"""Sign-in for admins and experts; participants who reach it with a bad link are told so (and see no staff form)."""

import streamlit as st

from oversight.access.auth import AuthError, authenticate
from web.session_cookie import ENDED_KEY, begin, client_address, oidc_ready
from web.ui import escape_markdown, sign_in_as

st.title("Oversight Lab")
link_error = st.session_state.pop("link_error", None)
if link_error:
    # A participant's link that does not work: what to do about it, and nothing else (the staff form below would
    # only puzzle them).
    st.error(escape_markdown(link_error))
    st.markdown("Please check that you opened the whole link exactly as you received it. If it still does not work, "
                "ask the researcher who invited you for a new link.")
    st.stop()

if st.session_state.get(ENDED_KEY):
    st.info("You were signed out: the session ended (signed out in another tab, a new password, or by an admin). "
            "Sign in again to go on.")

st.subheader("Sign in")
with st.form("sign_in"):
    name = st.text_input("Name")
    password = st.text_input("Password", type="password")
    submitted = st.form_submit_button("Sign in", type="primary")
if submitted:
    try:
        user = authenticate(name=name, password=password, client=client_address())
    except AuthError as exc:
        st.error(str(exc))
    else:
        sign_in_as(user)
        begin(user.id)
        st.rerun()

if oidc_ready():
    st.divider()
    # Streamlit's OpenID Connect sign-in ([auth] in .streamlit/secrets.toml); staff are matched by e-mail.
    st.button("Sign in with your institution", on_click=st.login)
    if st.user.is_logged_in:
        st.warning(f"{escape_markdown(str(st.user.get('email') or 'This account'))} is not an admin or expert here. Ask an admin to "
                   "create one named by that e-mail address.")
