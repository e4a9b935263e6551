"""The admin models page, rendered with AppTest. Sign-in is another team's module; it is stubbed to an admin here."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from oversight.models import ExtractiveConfig, HFConfig, ModelsConfig, ScriptedConfig, configure

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "admin_models.py")


@pytest.fixture
def page(monkeypatch):
    pytest.importorskip("streamlit")
    from streamlit.testing.v1 import AppTest

    stub = types.ModuleType("ui")
    stub.require_role = lambda *roles: "admin"
    monkeypatch.setitem(sys.modules, "ui", stub)
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
    yield AppTest.from_file(PAGE, default_timeout=60)
    configure(None)


def test_lists_models_and_shows_a_load_failure_as_a_message(page):
    at = page.run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["name"]) == ["extractive", "big", "canned"]
    assert table.set_index("name").loc["big", "roles"] == "debater"
    at.selectbox[0].select("big").run()
    at.button[0].click().run()
    assert not at.exception
    assert "could not be loaded" in at.error[0].value
    assert "OVERSIGHT_MODEL__BIG__MODEL" in at.code[0].value
