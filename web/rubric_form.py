"""The rubric as form inputs, shared by the Review queue and the transcript viewer (Streamlit, so in web/)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from oversight.sandwiching.reviews import Review
from web.ui import escape_markdown


def rubric_inputs(fields: list[dict[str, Any]], *, key: str) -> dict[str, Any]:
    """One input per rubric field, inside the caller's form. Choices start unselected so that no default nudges the
    reviewer; an unanswered field comes back as None and the domain check names it."""
    labels: dict[str, Any] = {}
    for f in fields:
        widget_key = f"{key}-{f['name']}"
        if f["kind"] == "flag":
            labels[f["name"]] = st.checkbox(escape_markdown(f["label"]), key=widget_key)
        else:
            labels[f["name"]] = st.radio(escape_markdown(f["label"]), f["choices"], index=None, horizontal=True,
                                         key=widget_key, format_func=lambda c: escape_markdown(str(c)))
    return labels


def show_labels(labels: dict[str, Any], fields: list[dict[str, Any]]) -> str:
    """A review's labels as one plain line (the caller renders it with st.text)."""
    names = {f["name"]: f["name"].replace("_", " ") for f in fields}
    parts = []
    for name, value in labels.items():
        shown = names.get(name, name.replace("_", " "))
        if isinstance(value, bool):
            if value:
                parts.append(f"⚑ {shown}")
        else:
            parts.append(f"{shown}: {value}")
    return " · ".join(parts) or "(no labels)"


def show_review(review: Review, fields: list[dict[str, Any]]) -> None:
    head = "Adjudication" if review.kind == "adjudication" else "Review"
    version = f" · rubric v{review.rubric_version}" if review.rubric_version else ""
    st.text(f"{head} by {review.expert} · {review.created_at:%Y-%m-%d %H:%M}{version}")
    st.text(show_labels(review.labels, fields))
    if review.notes:
        st.text(review.notes)
