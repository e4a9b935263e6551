"""The strategies page under AppTest: build a strategy, version it with a reason, deal it to participants."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from oversight import auth
from oversight.strategies import list_strategies
from oversight.studies import get_study

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def admin(study):
    return auth.create_user(role="admin", name="ada", password="long enough").id


def page(admin_id: int, study_id: int) -> AppTest:
    at = AppTest.from_file(str(REPO / "pages" / "strategies.py"), default_timeout=60)
    at.session_state["user_id"] = admin_id
    at.query_params["study"] = str(study_id)
    return at.run()


def test_build_version_and_deal_a_strategy(admin, study):
    at = page(admin, study.id)
    assert not at.exception
    at.text_input(key="new-name").input("Debate, 2 rounds")
    at.number_input(key="new-rounds").set_value(2)
    at.radio(key="new-sp").set_value("sequential")
    at.checkbox(key="new-jq").check()
    next(b for b in at.button if b.label == "Save version 1").click()
    at.run()
    assert not at.exception and any("Saved Debate, 2 rounds v1" in s.value for s in at.success)
    [v1] = list_strategies(study_id=study.id)
    assert v1.protocol == "debate" and v1.rules["rounds"] == 2 and v1.rules["speeches"] == "sequential"
    assert v1.rules["judge_questions"] is True and v1.rules["char_limit"] == 750  # defaults are stored too

    # A new version needs a reason, and records its parent.
    at.number_input(key=f"ver-{v1.id}-rounds").set_value(3)
    next(b for b in at.button if b.label == "Save as a new version").click()
    at.run()
    assert any("say why" in e.value for e in at.error)
    at.text_area(key=f"ver-reason-{v1.id}").input("Judges asked for a third round")
    next(b for b in at.button if b.label == "Save as a new version").click()
    at.run()
    v1_again, v2 = list_strategies(study_id=study.id)
    assert (v2.version, v2.parent_id, v2.rules["rounds"], v2.reason) == (2, v1.id, 3, "Judges asked for a third round")
    assert v1_again.rules["rounds"] == 2  # the old version never changes

    at.multiselect[0].select(v2.id)
    next(b for b in at.button if b.label == "Save arms").click()
    at.run()
    assert get_study(study.id).arms == [v2.id]


def test_bad_rules_are_refused_with_the_field_named(admin, study):
    at = page(admin, study.id)
    at.text_input(key="new-name").input("Too many quotes")
    at.number_input(key="new-cl").set_value(100)
    at.number_input(key="new-ql").set_value(500)
    next(b for b in at.button if b.label == "Save version 1").click()
    at.run()
    assert any("quote_limit" in e.value for e in at.error)
    assert list_strategies(study_id=study.id) == []
