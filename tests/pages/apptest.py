"""Run a page once under AppTest, as a given user."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

REPO = Path(__file__).resolve().parents[2]


def run_page(name: str, user_id: int | None, **query: str) -> AppTest:
    """Run views/<name>.py once as the given user (None: nobody signed in), with these query parameters."""
    at = AppTest.from_file(str(REPO / "views" / f"{name}.py"), default_timeout=60)
    if user_id is not None:
        at.session_state["user_id"] = user_id
    for k, v in query.items():
        at.query_params[k] = v
    return at.run()
