"""Oversight Lab: `streamlit run app.py`. Sign-in gate, then the menu of the signed-in role."""

from __future__ import annotations

import streamlit as st

from oversight.access import auth
from oversight.db import run_reads
from oversight.access.staff_sessions import STAFF_ROLES
from storage.db import StorageUnavailable
from web.session_cookie import SESSION_KEY, after_sign_out, client_address, hand_over, restore, session_checked
from web.session_cookie import signed_out_here
from web.session_cookie import end as end_staff_session
from web.startup import schema_ready
from web.ui import USER_KEY, current_user, sign_in_as, sign_out, storage_unavailable

st.set_page_config(page_title="Oversight Lab", page_icon="⚖️", layout="wide")


def _enter_by_link() -> None:
    """Participants arrive with `?t=TOKEN` (personal link) or `?enrol=TOKEN&PROLIFIC_PID=...`."""
    params = st.query_params
    if "t" in params:
        try:
            user = auth.participant_for_token(params["t"], client=client_address())
        except auth.AuthError as exc:
            st.session_state.pop("user_id", None)
            st.session_state["link_error"] = str(exc)
            return
        if user is None:
            st.session_state.pop("user_id", None)
            st.session_state["link_error"] = "This participation link is not valid or has been withdrawn."
        else:
            sign_in_as(user)
    elif "enrol" in params:
        try:
            user = auth.enrol(enrol_token=params["enrol"], external_id=params.get("PROLIFIC_PID", ""),
                              external_study_id=params.get("STUDY_ID", ""),
                              external_session_id=params.get("SESSION_ID", ""), client=client_address())
            sign_in_as(user)
        except auth.AuthError as exc:
            st.session_state.pop("user_id", None)
            st.session_state["link_error"] = str(exc)


def _staff_link_opened() -> bool:
    """A staff link (`?invite=TOKEN`): an invited admin or expert sets their password (see oversight/access/
    staff_links.py). Not when a participant link is in the address too: that one decides."""
    params = st.query_params
    return "invite" in params and "t" not in params and "enrol" not in params


def pages(role: str) -> dict[str, list[st.Page]]:
    """The menu of one role. Built for the signed-in role only: every st.Page resolves and stats its file, on every
    run, and a participant's run needs one page, not all of them."""
    if role == "admin":
        return {
            "Studies": [
                st.Page("views/studies.py", title="Studies", icon=":material/folder_open:", default=True),
                st.Page("views/study_settings.py", title="Study settings", icon=":material/settings:"),
                st.Page("views/study_items.py", title="Items", icon=":material/library_books:"),
                st.Page("views/study_people.py", title="Participants", icon=":material/group:"),
                st.Page("views/monitor.py", title="Monitor", icon=":material/monitor_heart:"),
                st.Page("views/strategies.py", title="Strategies", icon=":material/tune:"),
                st.Page("views/results.py", title="Results", icon=":material/monitoring:"),
                st.Page("views/transcripts.py", title="Transcripts", icon=":material/forum:"),
                st.Page("views/reviews.py", title="Review queue", icon=":material/rate_review:"),
                st.Page("views/loops.py", title="Loops", icon=":material/autorenew:"),
            ],
            "Labs": [
                st.Page("views/rlaif.py", title="RLAIF", icon=":material/thumbs_up_down:"),
                st.Page("views/w2s.py", title="Weak-to-strong", icon=":material/trending_up:"),
            ],
            "System": [st.Page("views/admin_models.py", title="Models", icon=":material/smart_toy:"),
                       st.Page("views/staff.py", title="Staff", icon=":material/badge:"),
                       st.Page("views/backup.py", title="Backup", icon=":material/backup:")],
        }
    if role == "expert":
        return {
            "Review": [
                st.Page("views/reviews.py", title="Review queue", icon=":material/rate_review:", default=True),
                st.Page("views/results.py", title="Results", icon=":material/monitoring:"),
                st.Page("views/transcripts.py", title="Transcripts", icon=":material/forum:"),
                st.Page("views/study_items.py", title="Items", icon=":material/library_books:"),
                st.Page("views/participant.py", title="Answer items", icon=":material/edit_note:", url_path="answer"),
            ],
        }
    return {"": [st.Page("views/participant.py", title="Your tasks", icon=":material/edit_note:", default=True)]}


def main() -> None:
    schema_ready()
    # One read transaction per script run: every helper's read joins it, and a row read once (the signed-in
    # user, the study) is not read again in the run (oversight.db.run_reads).
    with run_reads():
        _enter_by_link()
        # Staff: every run of a signed-in tab re-reads its session on the server, so a sign-out elsewhere, a new
        # password or `sign-out --name` signs this tab out at its next click (the read also loads the user that
        # current_user needs).
        checked = session_checked(st.session_state.get(USER_KEY))
        if checked is False:
            signed_out_here()
        # A refresh keeps the sign-in while the session cookie is live (see oversight/access/staff_sessions.py).
        restored = restore(signed_in=st.session_state.get(USER_KEY) is not None)
        if restored is not None:
            sign_in_as(restored)
            checked = True
        user = current_user()
        if user is not None and user.role in STAFF_ROLES and not checked:
            # Staff signed in without a server-side session (none is made any other way): not signed in.
            signed_out_here()
            user = None

        if _staff_link_opened():
            # A staff sign-up or password reset link (`?invite=TOKEN`, views/sign_up.py); a participant link in the
            # same address takes precedence (handled above).
            nav = st.navigation([st.Page("views/sign_up.py", title="Set your password", icon=":material/key:",
                                         default=True)], position="hidden")
            hand_over()
        elif user is None:
            # Every staff page's address shows the sign-in form, so that a deep link (`/transcripts?transcript=5`)
            # opens that page once signed in instead of "Page not found".
            staff_paths = sorted({p.url_path for role in ("admin", "expert") for group in pages(role).values()
                                  for p in group if p.url_path})
            sign_in = st.Page("views/sign_in.py", title="Sign in", icon=":material/login:", default=True)
            nav = st.navigation([sign_in] + [st.Page("views/sign_in.py", title="Sign in", url_path=path)
                                             for path in staff_paths], position="hidden")
            hand_over()
        else:
            # Every staff page stays listed (by default Streamlit folds all but a few behind "View more").
            nav = st.navigation(pages(user.role), position="sidebar" if user.role != "participant" else "hidden",
                                expanded=True)
            if user.role != "participant":
                with st.sidebar:
                    st.text(f"Signed in as {user.name} ({user.role})")
                    hand_over()
                    if st.button("Sign out"):
                        end_staff_session()
                        sign_out()
                        after_sign_out()
                        st.rerun()
        nav.run()


try:
    main()
except StorageUnavailable as exc:
    # A read-only, missing or full database: a message for people, never Streamlit's error page (a staff tab, which
    # holds a staff session, also sees the cause).
    storage_unavailable(exc, staff=st.session_state.get(SESSION_KEY) is not None)
