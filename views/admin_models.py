"""Admin: the configured models — backend, weights, device, memory, queue, throughput, recent errors — and a button
that loads (and, where configured, compiles) a model so that no participant waits for it."""

from __future__ import annotations

from web.ui import escape_markdown, require_role, staff_fragment

user = require_role("admin")

import streamlit as st  # noqa: E402

from oversight.models import ModelError, get_model, model_infos  # noqa: E402
from oversight.models.registry import get_config  # noqa: E402

COLUMNS = ["name", "roles", "backend", "model", "loaded", "device", "memory_mb", "queued", "in_flight",
           "tokens_per_s", "requests", "max_batch", "compiled_buckets", "attention"]

st.title("Models")


def show_error(message: str, err: ModelError) -> None:
    # Model and configuration text is shown as plain text, never rendered.
    st.error(escape_markdown(message))
    st.code(str(err) + (f"\n\nSetting to change: {err.setting}" if err.setting else ""), language=None)


try:
    source = get_config().source
except ModelError as err:
    show_error("The model configuration could not be read.", err)
    st.stop()
st.text(f"Configuration: {source}")


def _cell(value) -> object:
    # One type per column for the table: lists (compiled batch buckets) as text.
    return ", ".join(str(v) for v in value) if isinstance(value, (list, tuple)) else value


@staff_fragment(run_every="5s")
def live_table() -> None:
    rows = model_infos()
    st.dataframe([{c: _cell(row.get(c, "")) for c in COLUMNS} for row in rows], hide_index=True)
    for row in rows:
        if row.get("recent_errors"):
            st.text(f"Recent errors of {row['name']}:")
            st.code("\n".join(row["recent_errors"]), language=None)


live_table()

names = [row["name"] for row in model_infos()]
name = st.selectbox("Model", names)
if st.button("Load / warm up", help="Loads the weights (and compiles, if configured) once for the whole server."):
    with st.spinner("Loading…"):
        try:
            get_model(name).warm()
        except ModelError as err:
            show_error(f"Model {name} could not be loaded.", err)
        else:
            st.success("Loaded.")
