"""The participant's questionnaire in a real browser: after their items, one short questionnaire per part of the
study, then the completion code; a reload asks nothing twice."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import _free_port, app_env, cli, start_streamlit, stop_streamlit

pytestmark = pytest.mark.browser


@pytest.fixture
def finished_participant(tmp_path, monkeypatch):
    """A study where one participant has answered one item alone and one with the assistant."""
    from oversight import settings as settings_mod
    from storage import db as storage_db

    port = _free_port()
    env = app_env(tmp_path, port)
    cli(env, "init-db")
    study = int(cli(env, "study", "create", "--name", "Loops study").strip())
    cli(env, "study", "set", "--study", str(study), "--completion-code", "C0DE-42")
    link = json.loads(cli(env, "invite", "--study", str(study), "--json"))[0]
    # Plant the finished assignments straight in the app's database (conditions are made elsewhere).
    monkeypatch.setenv("OVERSIGHT_DATABASE_URL", env["OVERSIGHT_DATABASE_URL"])
    settings_mod.reset_settings()
    storage_db.dispose_engines()
    from tests import factories

    items = factories.items(study, 2)
    v1 = factories.assisted_strategy(study)
    alone = factories.condition(study, "alone", "alone", position=0)
    assisted = factories.condition(study, "assisted", "assisted", v1, position=1)
    factories.answered(study, link["user_id"], items[0], condition_id=alone, strategy_id=None, answer=0)
    factories.answered(study, link["user_id"], items[1], condition_id=assisted, strategy_id=v1, answer=0)
    storage_db.dispose_engines()
    cli(env, "study", "open", "--study", str(study))  # a new study is a draft until the launch check opens it
    proc = start_streamlit(env, port, tmp_path / "streamlit.log")
    yield {"link": link["link"], "env": env}
    stop_streamlit(proc)
    settings_mod.reset_settings()


def pick(page: Page, question: str, option: str) -> None:
    page.get_by_test_id("stRadio").filter(has_text=question).get_by_text(option, exact=True).click()


def test_questionnaire_per_part_then_the_completion_code(page, finished_participant):
    page.goto(finished_participant["link"])
    page.get_by_text("I have read this and agree").click()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text("About the tasks you did this way: On your own")).to_be_visible()
    expect(page.get_by_text("C0DE-42")).to_have_count(0)
    pick(page, "How sure are you", "4")
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_text("About the tasks you did this way: Assisted QA")).to_be_visible()
    pick(page, "How much did the AI help", "5 · very")
    pick(page, "How sure are you", "3")
    page.get_by_label("What would you change").fill("Let me see the text for a minute.")
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_text("Your completion code: C0DE-42")).to_be_visible()
    page.reload()
    expect(page.get_by_text("Your completion code: C0DE-42")).to_be_visible()
    expect(page.get_by_text("A few questions before you finish")).to_have_count(0)
