"""Once per server process, before any page reads the database: migrate it, start the job worker, warm the models.

A module of its own so that `st.cache_resource` decorates the function once, at import: decorated in `app.py`, the
decorator ran again on every script run and read the function's source (inspect) each time, 2-3 % of the server's
CPU under load."""

from __future__ import annotations

import threading

import streamlit as st

from oversight.db import init_db
from oversight.jobs import start_embedded_worker
from oversight.access import auth
from oversight.models.registry import limit_cpu_threads, warm_configured
from oversight.settings import get_settings


_warmed = threading.Event()


def ready() -> bool:
    """The database is migrated and the models configured to warm up have loaded (or failed to): what a proxy's
    health check and the load bench wait for before sending people (serve.py's /oversight/ready)."""
    return _warmed.is_set()


def start_in_background() -> None:
    """Run `schema_ready` now, at process start (serve.py), so that loading the models (importing transformers
    and the encoder: seconds of one core) is over before the first participant instead of competing with them.
    The first page run waits for it (st.cache_resource runs a function once, others wait for its value)."""
    threading.Thread(target=schema_ready, name="startup", daemon=True).start()


@st.cache_resource
def schema_ready() -> str:
    # Create or migrate the database, then start this process's job worker (unless workers run as their own
    # processes: `python -m oversight worker`).
    revision = init_db()
    if get_settings().embedded_worker:
        start_embedded_worker()
    # Models configured with `warmup = true` (the offline extractive model among them) load and compile now, in
    # the background, so that no participant's request pays for it.
    threads = get_settings().app_torch_threads

    def warm() -> None:
        try:
            limit_cpu_threads(threads)
            auth.warm()  # the hash an unknown name is checked against: its first sign-in costs what the others do
            warm_configured()
        finally:
            _warmed.set()  # a model that failed to warm is reported on the Models page, not by waiting forever

    threading.Thread(target=warm, name="model-warmup", daemon=True).start()
    return revision
