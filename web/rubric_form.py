"""The rubric as form inputs, shared by the Review queue and the transcript viewer (Streamlit, so in web/); and the
rubric's own editor (admins, Review queue): its fields as inputs, checked by `oversight.sandwiching.rubrics`."""

from __future__ import annotations

from typing import Any

import streamlit as st

from oversight.sandwiching.reviews import Review
from oversight.sandwiching.rubrics import KINDS, LEVELS
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


KIND_LABELS = {"choice": "choice (named)", "scale": "scale (numbers)", "flag": "flag (yes/no)"}
NEW_FIELDS = 1  # blank field rows offered under the existing ones (one per save keeps the form short)


def _choices(kind: str, text: str) -> list[Any]:
    """A field's choices from one-per-line text, in order. A scale's lines that are whole numbers become numbers;
    anything else is kept as written, so that `check_fields` names what is wrong."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if kind == "scale":
        return [int(c) if c.lstrip("-").isdigit() else c for c in lines]
    return lines


def rubric_editor(fields: list[dict[str, Any]], *, key: str) -> list[dict[str, Any]]:
    """The rubric's fields as inputs inside the caller's form, prefilled, with one blank field to add; returns the
    fields as `new_rubric_version` takes them (removed and blank ones left out). Nothing is checked here: the
    domain's `check_fields` (the CLI's `rubric set` too) says what is wrong."""
    out: list[dict[str, Any]] = []
    blank = {"name": "", "label": "", "kind": "choice", "choices": [], "level": "nominal", "about_model": False}
    for k, f in enumerate([*fields, *[blank] * NEW_FIELDS]):
        new = k >= len(fields)
        wkey = f"{key}-{k}"
        with st.container(border=True):
            st.markdown("**New field** (leave the name empty to add none)" if new
                        else f"**Field {k + 1}: {escape_markdown(f['name'])}**")
            name_col, label_col = st.columns([1, 3])
            name = name_col.text_input("Name (lower case, digits, _)", f["name"], key=f"{wkey}-name")
            label = label_col.text_input("Question the expert answers", f["label"], key=f"{wkey}-label")
            kind_col, level_col, choices_col = st.columns([1, 1, 2])
            kind = kind_col.selectbox("Type", KINDS, index=KINDS.index(f["kind"]), key=f"{wkey}-kind",
                                      format_func=KIND_LABELS.__getitem__)
            level = level_col.selectbox("Level", LEVELS, index=LEVELS.index(f.get("level", "nominal")),
                                        key=f"{wkey}-level",
                                        help="Ordinal: the choices are a scale, in the order listed (agreement "
                                             "weighs near misses less).")
            choices = choices_col.text_area(
                "Choices, one per line, in order (lowest first for an ordinal field; a flag needs none)",
                "" if f["kind"] == "flag" else "\n".join(map(str, f["choices"])), key=f"{wkey}-choices")
            about = st.checkbox("About the model: asked only where a model took part (optional otherwise)",
                                bool(f.get("about_model")), key=f"{wkey}-about")
            removed = False if new else st.checkbox("Remove this field", key=f"{wkey}-remove")
        if removed or (new and not name.strip()):
            continue
        field: dict[str, Any] = {"name": name.strip(), "label": label.strip(), "kind": kind, "level": level,
                                 "about_model": about}
        if kind != "flag":
            field["choices"] = _choices(kind, choices)
        out.append(field)
    return out
