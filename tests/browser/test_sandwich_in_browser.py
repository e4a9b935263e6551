"""A small sandwiching study end to end in a real browser: two participants (one alone, one with the assistant, by
the balanced design), two experts reviewing, a proposal made into a version and promoted, and the sandwich chart
with every condition. The server is fresh, and the admin's first request is a deep link (regression: a page file
used to run on its own before `app.py` had run once, showing "not available" instead of the sign-in form)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import (ADMIN, _free_port, app_env, choose_answer, cli, settled, start_streamlit,
                                    stop_streamlit)
from tests.browser.test_debate_in_browser import STORY

pytestmark = pytest.mark.browser
EXPERTS = [("ada", "expert-one-pass"), ("ben", "expert-two-pass")]
SECOND_STORY = ("The lighthouse keeper logged every ship. In the storm of 1903 the lamp failed for an hour, and "
                "the keeper rowed out with a lantern to warn the schooner Mary Ellen off the rocks.")


@pytest.fixture
def study_server(tmp_path: Path):
    port = _free_port()
    env = app_env(tmp_path, port)
    cli(env, "init-db")
    cli(env, "create-user", "--role", "admin", "--name", ADMIN[0], stdin=ADMIN[1] + "\n")
    for name, password in EXPERTS:
        cli(env, "create-user", "--role", "expert", "--name", name, stdin=password + "\n")
    study = cli(env, "study", "create", "--name", "Sandwich study").strip()
    items = tmp_path / "items.jsonl"
    items.write_text("\n".join(json.dumps(r) for r in [
        {"id": "well", "question": "How was the cistern refilled?", "gold": 0, "source_text": STORY,
         "options": ["Tomas dug a channel from the stream", "The autumn rains"]},
        {"id": "lamp", "question": "What did the keeper do when the lamp failed?", "gold": 1,
         "source_text": SECOND_STORY, "options": ["He fired a flare", "He rowed out with a lantern"]},
    ]) + "\n")
    cli(env, "import", "--study", study, "--format", "jsonl", str(items))
    assistant = json.loads(cli(env, "strategy", "create", "--study", study, "--protocol", "assisted-qa", "--name",
                               "Helper", "--rules", '{"max_messages": 3}', "--json"))["id"]
    model = json.loads(cli(env, "strategy", "create", "--study", study, "--protocol", "model-alone", "--name",
                           "Model", "--json"))["id"]
    cli(env, "conditions", "add", "--study", study, "--kind", "alone", "--name", "Alone")
    cli(env, "conditions", "add", "--study", study, "--kind", "assisted", "--name", "With helper",
        "--strategy", str(assistant))
    made = json.loads(cli(env, "conditions", "add", "--study", study, "--kind", "model", "--name", "Model alone",
                          "--strategy", str(model), "--json"))
    cli(env, "conditions", "add", "--study", study, "--kind", "expert", "--name", "Experts")
    cli(env, "conditions", "run", "--condition", str(made["id"]), "--quiet")
    cli(env, "study", "set", "--study", study, "--design", "between", "--items-per-participant", "1",
        "--review-share", "1", "--completion-code", "SANDWICH-1")
    cli(env, "study", "open", "--study", study)  # a new study is a draft until the launch check opens it
    links = [i["link"] for i in json.loads(cli(env, "invite", "--study", study, "--count", "2", "--json"))]
    proc = start_streamlit(env, port, tmp_path / "streamlit.log")
    yield {"url": f"http://127.0.0.1:{port}", "study": study, "links": links, "env": env}
    stop_streamlit(proc)


def sign_in(page: Page, url: str, name: str, password: str) -> None:
    page.context.clear_cookies()
    page.goto(url)
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def answer_questionnaire(page: Page, with_model: bool) -> None:
    def pick(question: str, option: str) -> None:
        page.get_by_test_id("stRadio").filter(has_text=question).get_by_text(option, exact=True).click()

    expect(page.get_by_text("A few questions before you finish")).to_be_visible()
    if with_model:
        pick("How much did the AI help", "4")
    pick("How sure are you", "4")
    page.get_by_role("button", name="Submit").click()


def participate(page: Page, link: str, *, propose: bool) -> bool:
    """Do the one task this participant is dealt; True when it was with the assistant."""
    page.context.clear_cookies()
    page.goto(link)
    page.get_by_text("I have read this and agree").click()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text("Task 1 of 1")).to_be_visible()
    chat, alone = page.get_by_placeholder("Ask the assistant…"), page.get_by_role("button", name="Submit answer")
    expect(chat.or_(alone)).to_be_visible()
    with_model = chat.is_visible()
    if with_model:
        box = page.get_by_placeholder("Ask the assistant…")
        box.fill("What does the text say happened?")
        box.press("Enter")
        expect(page.get_by_text("You can send 2 more messages.")).to_be_visible()
        choose_answer(page, re.compile(r"^[AB]\. (Tomas dug a channel from the stream|He rowed out with a lantern)$"))
        page.get_by_role("button", name="Submit final answer").click()
        expect(page.get_by_text("Your final answer is saved.")).to_be_visible()
        page.get_by_role("button", name="Next task").click()
    else:  # the same answer form alone: nothing preselected, so choose before submitting
        page.get_by_role("button", name="Submit answer").click()
        expect(page.get_by_text("Choose an answer first: nothing was saved.")).to_be_visible()
        choose_answer(page, re.compile(r"^[AB]\. (Tomas dug a channel from the stream|He rowed out with a lantern)$"))
        page.get_by_role("button", name="Submit answer").click()
    answer_questionnaire(page, with_model)
    if propose:
        page.get_by_text("Optional: suggest an improvement").click()
        page.get_by_label("Your suggestion").fill("Quote the sentence that decides the answer.")
        page.get_by_label("Why would it help?").fill("I could not tell which part of the text it used.")
        page.get_by_role("button", name="Send suggestion").click()
        expect(page.get_by_text(re.compile(r"your suggestion #\d+ was sent"))).to_be_visible()
    expect(page.get_by_text("Your completion code: SANDWICH-1")).to_be_visible()
    return with_model


def asks_about_the_model(page: Page) -> bool:
    """Whether the review form shown asks about the model (only for answers given with the assistant)."""
    expect(page.get_by_role("button", name="Submit review")).to_be_visible()
    try:
        expect(page.get_by_text("Quality of the model's help")).to_be_visible(timeout=3_000)
        return True
    except AssertionError:
        return False


def review_next(page: Page) -> None:
    with_model = asks_about_the_model(page)
    page.get_by_role("radio", name="correct", exact=True).check(force=True)
    if with_model:
        page.get_by_role("radio", name="4", exact=True).check(force=True)
    page.get_by_role("button", name="Submit review").click()
    expect(page.get_by_text(re.compile(r"assignment #\d+ saved"))).to_be_visible()


def test_a_sandwiching_study_end_to_end(page, study_server):
    # The first reply loads the sentence encoder in the server process: allow for it.
    page.set_default_timeout(90_000)
    expect.set_options(timeout=90_000)
    url, study = study_server["url"], study_server["study"]
    page.goto(f"{url}/loops")  # the server's very first request: a deep link, signed out
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()

    # Two participants: the between-subject design deals one alone and one with the assistant.
    kinds = [participate(page, link, propose=(k == 0)) for k, link in enumerate(study_server["links"])]
    assert sorted(kinds) == [False, True]

    # The first expert reviews both answers; the second reviews one of them again.
    # The study has an expert condition: experts who review first choose to, and are then never dealt its items.
    sign_in(page, f"{url}/?study={study}", *EXPERTS[0])
    expect(page.get_by_role("heading", name="Review queue")).to_be_visible()
    page.get_by_role("button", name="Review without answering").click()
    review_next(page)
    expect(page.get_by_text("1 waiting for you")).to_be_visible()
    review_next(page)
    expect(page.get_by_text("Nothing left for you to review here")).to_be_visible()
    sign_in(page, f"{url}/?study={study}", *EXPERTS[1])
    page.get_by_role("button", name="Review without answering").click()
    expect(page.get_by_text("a second review")).to_be_visible()
    review_next(page)

    # The admin makes the proposal a candidate version and promotes it, citing the reviews.
    sign_in(page, f"{url}/loops?study={study}", *ADMIN)
    expect(page.get_by_role("heading", name="Loops")).to_be_visible()
    page.get_by_role("button", name="Make candidate version").click()
    expect(page.get_by_text(re.compile(r"is now candidate version 2"))).to_be_visible()
    page.get_by_role("tab", name="Outer loop (experts)").click()
    expect(page.get_by_role("heading", name="Promote or retire a version")).to_be_visible()
    # Choosing the version redraws the form (its reviews are that version's): wait for it, as a person would.
    for label, typed in (("Version", "Helper v2"), ("The expert reviews it answers", "#")):
        box = page.get_by_role("combobox", name=label)
        box.click()
        box.press_sequentially(typed)
        box.press("Enter")
        settled(page)
    page.keyboard.press("Escape")
    page.get_by_label("Rationale (kept with the decision)").fill("Quoting answers the misreadings the experts saw.")
    page.get_by_role("button", name="Promote").click()
    expect(page.get_by_text(re.compile(r"Promoted Helper v2.*Now dealt by: With helper"))).to_be_visible()

    # The sandwich chart: every condition, the gold standing in for experts (none answered).
    page.goto(f"{url}/results?study={study}")
    page.get_by_role("tab", name="Sandwich").click()
    chart = page.locator('[data-testid="stPlotlyChart"]:visible').first
    expect(chart).to_be_visible()
    for name in ("Model alone", "Alone", "With helper", "Experts (gold stands in)"):
        expect(chart.get_by_text(name, exact=False).first).to_be_visible()

    from storage.db import session_scope
    from storage.models import Condition, ExpertReview, Proposal, VersionDecision

    with session_scope(study_server["env"]["OVERSIGHT_DATABASE_URL"], write=False) as s:
        assert s.query(ExpertReview).count() == 3
        [proposal] = s.query(Proposal).all()
        decisions = [(d.decision, d.strategy_id) for d in s.query(VersionDecision).order_by(VersionDecision.id)]
        helper = s.query(Condition).filter(Condition.name == "With helper").one()
    assert proposal.status == "accepted" and decisions == [("candidate", proposal.child_strategy_id),
                                                           ("promoted", proposal.child_strategy_id)]
    assert helper.strategy_id == proposal.child_strategy_id  # new participants get the promoted version
