"""Sending a participant back to the recruiting site when their participation ends, in the same tab.

`st.link_button` always opens a new tab (Streamlit 1.67 gives it no target), which leaves the study open in one
tab and Prolific in another. Streamlit's Markdown keeps an `<a>`'s own `target`, so the link is one anchor with
`target="_self"`, styled as a button. It is the only HTML the app renders: built here from the completion URL (an
https address the admin set, checked by oversight.study.studies) and a code of ASCII letters, digits, '-' and '_',
both escaped; nothing a participant or a model wrote ever goes into it.
"""

from __future__ import annotations

import html

import streamlit as st

from oversight.study.participation import Progress

STYLE = ("display:inline-block;padding:0.5rem 1rem;border-radius:0.5rem;background:#ff4b4b;color:white;"
         "text-decoration:none;font-weight:600")


def same_tab_link(label: str, url: str) -> None:
    """A button-styled link that opens `url` in this tab (https only; anything else is shown as text)."""
    if not url.startswith("https://") or any(c.isspace() or c in "<>\"'`" for c in url):
        st.text(f"{label}: {url}")
        return
    st.markdown(f'<a href="{html.escape(url, quote=True)}" target="_self" rel="noreferrer" style="{STYLE}">'
                f"{html.escape(label)}</a>", unsafe_allow_html=True)


def send_back(done: Progress) -> None:
    """The code for how participation ended, and the way back to the recruiting site."""
    if done.completion_code:
        st.text(f"Your completion code: {done.completion_code}")
    if done.completion_link:
        same_tab_link("Return to Prolific to record your submission", done.completion_link)
