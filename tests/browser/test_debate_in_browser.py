"""A participant judges a whole live debate in a real browser, with a server restart in the middle."""

from __future__ import annotations

import json
import re
import sqlite3

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import _free_port, app_env, cli, give_answer, start_streamlit, stop_streamlit

pytestmark = pytest.mark.browser

STORY = (
    "The village well had run dry in August. Tomas, the miller's son, noticed that the stream above the mill still "
    "ran clear, so he cut a channel from it to the old cistern behind the chapel. By September the cistern was full "
    "again, and the villagers drew their water there until the autumn rains refilled the well. The priest thanked "
    "the saints, but everyone who had watched Tomas dig knew where the water had come from."
)


@pytest.fixture
def debate_server(tmp_path):
    port = _free_port()
    env = app_env(tmp_path, port)
    cli(env, "init-db")
    study = cli(env, "study", "create", "--name", "Well study").strip()
    items = tmp_path / "well.jsonl"
    items.write_text(json.dumps({"id": "well", "question": "How was the cistern refilled?",
                                 "options": ["Tomas dug a channel from the stream", "The autumn rains"],
                                 "gold": 0, "source_text": STORY}) + "\n")
    cli(env, "import", "--study", study, "--format", "jsonl", str(items))
    sid = cli(env, "strategy", "create", "--study", study, "--protocol", "debate", "--rounds", "2",
              "--rules", json.dumps({"randomise_answer_order": False, "judge_questions": True,
                                     "judge_may_end_early": False}))
    cli(env, "conditions", "add", "--study", study, "--kind", "assisted", "--strategy", sid.strip())
    cli(env, "study", "open", "--study", study)  # a new study is a draft until the launch check opens it
    link = cli(env, "invite", "--study", study, "--count", "1").strip()
    state = {"proc": start_streamlit(env, port, tmp_path / "streamlit.log"), "env": env, "link": link,
             "port": port, "db": tmp_path / "app.db"}
    yield state
    stop_streamlit(state["proc"])


def test_a_participant_judges_a_whole_debate_across_a_restart(page, debate_server):
    # The first speech loads the sentence encoder in the server process: allow for it.
    page.set_default_timeout(90_000)
    expect.set_options(timeout=90_000)
    page.goto(debate_server["link"])
    page.get_by_text("I have read this and agree").click()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text("Your judgment after round 1")).to_be_visible()
    expect(page.get_by_text("Debater A").first).to_be_visible()
    expect(page.get_by_text("Debater B").first).to_be_visible()

    # The per-round report is the one answer form (choose, then how sure) plus a note to the debaters.
    give_answer(page, re.compile(r"^A\. Tomas dug a channel from the stream$"), 65)
    page.get_by_label("A question or note for the debaters (optional)").fill("B, where do the rains come in?")
    page.get_by_role("button", name="Continue to round 2").click()
    expect(page.get_by_text("Your report: A 65% · B 35%")).to_be_visible()

    # The server goes down and comes back on the same database; the same link resumes at round 2.
    stop_streamlit(debate_server["proc"])
    debate_server["proc"] = start_streamlit(debate_server["env"], debate_server["port"],
                                            debate_server["db"].parent / "streamlit.log")
    page.goto(debate_server["link"])
    expect(page.get_by_text("Your judgment after round 2")).to_be_visible()
    expect(page.get_by_text("Your report: A 65% · B 35%")).to_be_visible()

    give_answer(page, re.compile(r"^A\. Tomas dug a channel from the stream$"), 80)
    page.get_by_label("Your reasoning (needed to finish)").fill("A's quotes were checked; B had none for rain.")
    page.get_by_role("button", name="Submit final answer").click()
    expect(page.get_by_text(re.compile("The correct answer was A"))).to_be_visible()
    expect(page.get_by_text("Correct — you were 80% sure.")).to_be_visible()

    db = sqlite3.connect(debate_server["db"])
    rows = db.execute("select round, probabilities, is_final, rationale, answer_form from judgment order by round")\
        .fetchall()
    assert [(r[0], r[2]) for r in rows] == [(1, 0), (2, 1)]
    assert [json.loads(r[1]) for r in rows] == [pytest.approx([0.65, 0.35]), pytest.approx([0.8, 0.2])]
    assert {r[4] for r in rows} == {"choice-confidence"}
    assert rows[1][3] == "A's quotes were checked; B had none for rain."
    speeches = db.execute("select round, role from turn where role != 'judge' order by round, role").fetchall()
    assert speeches == [(1, "debater_a"), (1, "debater_b"), (2, "debater_a"), (2, "debater_b")]
    notes = db.execute("select text from turn where role = 'judge' and round = 1").fetchone()
    assert notes == ("B, where do the rains come in?",)
