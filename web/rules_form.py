"""A protocol's rules as form inputs, shared by the Strategies page (new strategy, new version) and the Loops page
(accepting a rules proposal): one widget per Rules field, labelled from the field's metadata
(oversight.protocols.base.rule) with its unit."""

from __future__ import annotations

from dataclasses import MISSING, fields
from typing import Any

import streamlit as st

from oversight.protocols.base import Rules
from oversight.protocols.strategies import rule_label


def rule_widget(key: str, f, value: Any) -> Any:
    """One rule's widget, from the field's metadata (label and unit, help, range, choices)."""
    meta, wkey = f.metadata, f"{key}-{f.name}"
    text, help_ = rule_label(dict(meta), f.name), meta.get("help") or None
    default = f.default if f.default is not MISSING else None
    if "choices" in meta:
        choices = list(meta["choices"])
        return st.selectbox(text, choices, index=choices.index(value), help=help_, key=wkey)
    if isinstance(default, bool):
        return st.checkbox(text, value, help=help_, key=wkey)
    if isinstance(default, str):
        return st.text_area(text, value, max_chars=meta.get("max_chars"), help=help_, key=wkey)
    if default is None:  # an optional limit: 0 means none
        chosen = st.number_input(f"{text}, 0: none", 0, meta.get("max"), value or 0, help=help_, key=wkey)
        return int(chosen) or None
    if isinstance(default, float):
        return float(st.number_input(text, float(meta["min"]), float(meta["max"]), float(value),
                                     float(meta.get("step", 0.01)), help=help_, key=wkey))
    return int(st.number_input(text, meta.get("min"), meta.get("max"), int(value), help=help_, key=wkey))


def rules_inputs(key: str, rules: Rules, columns: int = 3) -> dict[str, Any]:
    """Every rule of `rules`' protocol, prefilled with its values; returns them as the strategy stores them."""
    out: dict[str, Any] = {}
    cols = st.columns(columns)
    for k, f in enumerate(fields(rules)):
        with cols[k % columns]:
            out[f.name] = rule_widget(key, f, getattr(rules, f.name))
    return out
