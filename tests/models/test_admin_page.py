"""The admin models page, rendered with AppTest as a user signed in by name and password (the app's own session)."""

from __future__ import annotations

import pytest

from oversight.access import auth
from oversight.models import ExtractiveConfig, HFConfig, ModelsConfig, ScriptedConfig, configure

pytest.importorskip("streamlit")
from tests.pages.apptest import run_page  # noqa: E402


@pytest.fixture
def models():
    configure(ModelsConfig(
        models={
            "extractive": ExtractiveConfig(name="extractive"),
            "big": HFConfig(name="big", model="/nowhere/qwen-7b"),
            "canned": ScriptedConfig(name="canned", responses=["<b>bold</b>"]),
        },
        roles={"debater": "big", "consultant": "extractive", "assistant": "extractive", "judge": "canned",
               "feedback": "canned"},
        source="test config",
    ))
    yield
    configure(None)


def signed_in(role: str) -> int:
    """A staff user created and signed in with their password, as the sign-in page does; their id."""
    auth.create_user(role=role, name=f"{role}-1", password="a long password")
    return auth.authenticate(name=f"{role}-1", password="a long password").id


def test_lists_models_and_shows_a_load_failure_as_a_message(db, models):
    at = run_page("admin_models", signed_in("admin"))
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    assert list(table["name"]) == ["extractive", "big", "canned"]
    assert table.set_index("name").loc["big", "roles"] == "debater"
    assert table.set_index("name").loc["big", "model"] == "/nowhere/qwen-7b"
    at.selectbox[0].select("big").run()
    at.button[0].click().run()
    assert not at.exception
    assert "could not be loaded" in at.error[0].value
    assert "OVERSIGHT_MODEL__BIG__MODEL" in at.code[0].value


def test_experts_and_participants_are_refused(study, models):
    participant = auth.create_invites(study_id=study.id, count=1)[0].user_id
    for user_id in (signed_in("expert"), participant):
        at = run_page("admin_models", user_id)
        assert at.error and "not available to you" in at.error[0].value
        assert not at.dataframe and not at.button and not at.selectbox
