"""Issue 18 in a real browser: a participant answers a practice item (a BoolQ passage with ``LaTeX'' quotes) and
sees its quotes as typography, then feedback people understand ("Correct — you were 80% sure", the score with its
rule explained once), never a bare "Your score: -0.32"."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import _free_port, app_env, cli, give_answer, start_streamlit, stop_streamlit

pytestmark = pytest.mark.browser
SHOTS = "/tmp/shots/participant"


@pytest.fixture
def practice_link(tmp_path, monkeypatch):
    from oversight import settings as settings_mod
    from storage import db as storage_db

    port = _free_port()
    env = app_env(tmp_path, port)
    cli(env, "init-db")
    monkeypatch.setenv("OVERSIGHT_DATABASE_URL", env["OVERSIGHT_DATABASE_URL"])
    settings_mod.reset_settings()
    storage_db.dispose_engines()
    from oversight.study.studies import create_study, update_study
    from tests import factories

    study = create_study(name="Feedback study", user_id=None, status="open").id
    [practice] = factories.items(study, 1, split="practice", options=["yes", "no"], explanation="It was, in 1817.")
    from oversight.db import session_scope
    from storage.models import Item

    with session_scope() as s:  # a BoolQ-style question, as imported
        s.get(Item, practice).question = "Was ``Persuasion'' -- Austen's last novel -- published in 1817?"
    factories.items(study, 1, start=1)
    update_study(study_id=study, user_id=None, practice_items=1, feedback="score")
    storage_db.dispose_engines()
    link = json.loads(cli(env, "invite", "--study", str(study), "--json"))[0]["link"]
    proc = start_streamlit(env, port, tmp_path / "streamlit.log")
    yield link
    stop_streamlit(proc)
    settings_mod.reset_settings()


def test_a_practice_answer_gets_feedback_people_understand(page, practice_link):
    from pathlib import Path

    Path(SHOTS).mkdir(parents=True, exist_ok=True)
    page.goto(practice_link)
    page.get_by_text("I have read this and agree").click()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text("A practice question")).to_be_visible()
    expect(page.get_by_text("Was “Persuasion” – Austen's last novel – published in 1817?")).to_be_visible()
    expect(page.get_by_text("``")).to_have_count(0)
    give_answer(page, re.compile(r"^A\. yes$"), 80)
    page.screenshot(path=f"{SHOTS}/practice-question.png", full_page=True)
    page.get_by_role("button", name="Submit answer").click()
    expect(page.get_by_text("Correct — you were 80% sure.")).to_be_visible()
    expect(page.get_by_text("Your score: -0.32")).to_be_visible()
    expect(page.get_by_text(re.compile("How the score works: .*80% on the right answer scores -0.32"))).to_be_visible()
    expect(page.get_by_text("Practice: the answer was yes")).to_be_visible()
    page.screenshot(path=f"{SHOTS}/practice-feedback.png", full_page=True)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text("Question 1?")).to_be_visible()
