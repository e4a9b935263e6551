"""Streamlit helpers shared by the pages: who is signed in, the role check, study picking, messages.

Every page starts with `require_role(...)`: the menu hides pages of other roles, but the check in the
page is what keeps a participant who types an admin URL out.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from typing import Any

import streamlit as st

from oversight.access.auth import get_user
from oversight.errors import USER_ERRORS
from oversight.study.studies import list_studies, study_label
from oversight.text import display_text
from storage.db import StorageUnavailable
from web.session_cookie import ended_in_fragment
from storage.models import User

UNAVAILABLE = ("The study is temporarily unavailable; your answers so far are saved. "
               "Please try again in a few minutes.")

USER_KEY = "user_id"


def current_user() -> User | None:
    """The signed-in user, re-read each run so a revoked link or deleted account takes effect at once."""
    user_id = st.session_state.get(USER_KEY)
    if user_id is None:
        return None
    user = get_user(user_id)
    if user is None or (user.role == "participant" and user.token_revoked):
        st.session_state.pop(USER_KEY, None)
        return None
    return user


def sign_in_as(user: User) -> None:
    st.session_state[USER_KEY] = user.id


def sign_out() -> None:
    st.session_state.clear()
    st.query_params.clear()


def require_role(*roles: str) -> User:
    user = current_user()
    if user is None or user.role not in roles:
        st.error("This page is not available to you. Sign in with an account that may see it.")
        st.stop()
    return user


def user_error(exc: Exception) -> None:
    """Show a domain error as a message (never a traceback), as text: a value in it cannot render Markdown."""
    st.error(escape_markdown(str(exc)))


def flash_and_rerun(text: str, key: str = "flash") -> None:
    """Rerun the page so that everything on it shows the change just made (a table drawn above the form that
    made it would otherwise lag one run behind), with `text` shown once by `show_flash`."""
    st.session_state[key] = text
    st.rerun()


def show_flash(key: str = "flash") -> None:
    """The message of the change that just reran the page; always one element, so the page keeps its layout."""
    box = st.empty()
    if text := st.session_state.pop(key, None):
        box.success(escape_markdown(text))


def attempt(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> tuple[bool, Any]:
    """Call a domain function the way every page does: (True, its result), or (False, None) after showing the
    user error it raised. Anything else is a bug and keeps its traceback."""
    try:
        return True, fn(*args, **kwargs)
    except USER_ERRORS as exc:
        user_error(exc)
        return False, None


LAST_STUDY = "picked_study"


def pick_study(label: str = "Study") -> int:
    """A study selector that remembers the choice in the URL (`?study=ID`, for refreshes and links) and in the tab's
    session (the sidebar's page links drop the URL's parameters), so the chosen study follows the researcher from
    page to page. With nothing chosen yet, the newest study that is not a dry-run copy. With no study yet it shows
    how to make one and stops the page."""
    wanted = st.query_params.get("study")
    # Archived studies are hidden, except the one the URL names (opened from the Studies page's archived list).
    studies = [s for s in list_studies(include_archived=True) if s.status != "archived" or str(s.id) == wanted]
    if not studies:
        st.info("No studies yet. Create one on the Studies page.")
        st.stop()
    ids = [s.id for s in studies]
    names = {s.id: f"{study_label(s)} (#{s.id})" + (" [archived]" if s.status == "archived" else "")
             for s in studies}
    remembered = st.session_state.get(LAST_STUDY)
    if wanted and wanted.isdigit() and int(wanted) in ids:
        default = int(wanted)
    elif remembered in ids:
        default = remembered
    else:  # a dry run's copy is newer than its study, but rarely the one meant
        default = next((s.id for s in studies if s.dry_run_of is None), ids[0])
    chosen = st.selectbox(label, ids, index=ids.index(default), format_func=names.__getitem__)
    st.query_params["study"] = str(chosen)
    st.session_state[LAST_STUDY] = chosen
    return chosen


def staff_fragment(*, run_every: float | str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`st.fragment(run_every=...)` for staff pages: a timed refresh (or a click inside it) of a tab whose session
    ended elsewhere reruns the whole app, which signs the tab out, instead of showing the page's data on."""
    def decorate(body: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(body)
        def checked(*args: Any, **kwargs: Any) -> Any:
            if ended_in_fragment():
                st.rerun(scope="app")
            return body(*args, **kwargs)
        return st.fragment(run_every=run_every)(checked)
    return decorate


def storage_unavailable(exc: StorageUnavailable, *, staff: bool) -> None:
    """A page run that could not reach the database (read-only, missing, full, down): everyone gets a clear message
    instead of Streamlit's error page, staff also the cause; the log gets the cause and its traceback."""
    cause = f"{exc.reason} ({exc.__cause__})" if exc.__cause__ is not None else exc.reason
    logging.getLogger("oversight.app").error("database unavailable: %s", cause, exc_info=exc)
    st.warning(UNAVAILABLE)
    if staff:
        st.error("Cause (shown to staff only): " + escape_markdown(cause[:2000]))


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~:$&=])")
# GFM turns bare addresses into links after parsing, escapes or not (remark-gfm finds "http://", "www." and "a@b.c" in
# the text itself): a word joiner (U+2060, invisible, not a space) inside each keeps them text.
_AUTOLINK = re.compile(r"(?<=:)(?=//)|(?<=\bwww)(?=\.)|(?<=@)", re.IGNORECASE)
_WORD_JOINER = "\u2060"


def escape_markdown(text: str) -> str:
    """Model and user text as literal text wherever Streamlit renders Markdown (st.markdown, titles, captions,
    alerts, and every widget label, radio option, tab and expander label, which render images and links too):
    every character Markdown (or HTML) could interpret is escaped, and bare addresses are kept from becoming links.
    The one escaping function: route all text from items, studies, people and models through it, or show it with
    st.text / st.code / st.dataframe, which render nothing."""
    return _MD_SPECIAL.sub(r"\\\1", _AUTOLINK.sub(_WORD_JOINER, text)).replace("\n", "  \n")


def speech_markdown(text: str, quotes: list[dict]) -> str:
    """A speech with its quotes marked: verified ones highlighted, unverified ones struck through and labelled.

    `quotes` are the stored quote records (text, verified, start, end of the tagged span in `text`)."""
    # Imported typography shown as people read it (oversight.text.display_text), per piece so the stored quote
    # offsets stay valid; normalised first, then escaped.
    out, pos = [], 0
    for q in sorted(quotes, key=lambda q: q["start"]):
        out.append(escape_markdown(display_text(text[pos:q["start"]])))
        inner = escape_markdown(display_text(q["text"].strip()))
        if q["verified"]:
            out.append(f":green-background[“{inner}”]")
        else:
            out.append(f":red-background[~~“{inner}”~~ (unverified quote)]")
        pos = q["end"]
    out.append(escape_markdown(display_text(text[pos:])))
    return "".join(out)


__all__ = ["USER_ERRORS", "attempt", "current_user", "escape_markdown", "flash_and_rerun", "pick_study", "show_flash", "speech_markdown", "require_role", "staff_fragment", "storage_unavailable", "sign_in_as", "sign_out", "user_error"]


def upload_limit_mb() -> int:
    """What every uploader says it takes: the import limit (oversight/importers/bounds.py), never more than the
    server accepts (server.maxUploadSize, set to the same bound in .streamlit/config.toml)."""
    from oversight.importers.bounds import upload_limit_mb as import_limit_mb

    return max(1, min(import_limit_mb(), st.get_option("server.maxUploadSize")))
