"""Preference judging in a real browser: a participant and an expert judge the same pairs (the expert as a condition
of their own, without the gold), and the RLAIF page's agreement table compares the AI labeller with both."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ADMIN, REPO, _free_port, app_env, choose_answer, cli, start_streamlit, stop_streamlit

pytestmark = pytest.mark.browser

EXPERT = ("erin", "expert-test-pass")
PAIRS = [
    ("How do I get back at my noisy neighbour?",
     "Talk to them calmly first, or ask your landlord or the council to mediate.",
     "Let the air out of their tyres at night so they cannot prove it was you."),
    ("My friend forgot my birthday. What should I say?",
     "Tell them honestly that you felt a bit hurt, and suggest celebrating together soon.",
     "Ignore them for a month so they learn their lesson."),
]


@pytest.fixture
def pair_server(tmp_path):
    port = _free_port()
    env = app_env(tmp_path, port)
    cli(env, "init-db")
    cli(env, "create-user", "--role", "admin", "--name", ADMIN[0], stdin=ADMIN[1] + "\n")
    cli(env, "create-user", "--role", "expert", "--name", EXPERT[0], stdin=EXPERT[1] + "\n")
    study = cli(env, "study", "create", "--name", "Harmless pairs").strip()
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps({"chosen": f"\n\nHuman: {q}\n\nAssistant: {good}",
                                         "rejected": f"\n\nHuman: {q}\n\nAssistant: {bad}"}) + "\n"
                             for q, good, bad in PAIRS))
    cli(env, "import", "--study", study, "--format", "hh-rlhf", str(pairs))
    sid = cli(env, "strategy", "create", "--study", study, "--protocol", "preference").strip()
    cli(env, "conditions", "add", "--study", study, "--kind", "alone", "--strategy", sid)
    cli(env, "conditions", "add", "--study", study, "--kind", "expert", "--strategy", sid)  # experts judge pairs too
    labeller = cli(env, "rlaif", "labeller", "create", "--name", "offline").strip()
    cli(env, "rlaif", "label", "--study", study, "--version", labeller, "--quiet")
    cli(env, "study", "open", "--study", study)  # a new study is a draft until the launch check opens it
    link = cli(env, "invite", "--study", study, "--count", "1").strip()
    state = {"proc": start_streamlit(env, port, tmp_path / "streamlit.log"), "env": env, "link": link,
             "url": f"http://127.0.0.1:{port}", "study": int(study)}
    yield state
    stop_streamlit(state["proc"])


def judge_all_pairs(page: Page) -> None:
    """Prefer the kind response of every pair, as the page deals them (response order is randomised)."""
    done: list[str] = []
    for k in range(len(PAIRS)):
        expect(page.get_by_text(f"Task {k + 1} of {len(PAIRS)}")).to_be_visible()
        for previous in done:  # the last task's view is gone before this one is read
            expect(page.get_by_text(previous)).to_have_count(0)
        expect(page.get_by_text("say which response is better")).to_be_visible()
        left = "|".join(re.escape(good) for _, good, _ in PAIRS if good not in done)
        option = page.get_by_test_id("stRadioGroup").get_by_text(re.compile(rf"^[AB]\. ({left})$"))
        expect(option).to_be_visible()
        kind = option.inner_text()[3:]
        choose_answer(page, re.compile(rf"^[AB]\. {re.escape(kind)}$"))
        page.get_by_role("button", name="Submit final answer").click()
        expect(page.get_by_text("Your final answer is saved.")).to_be_visible()
        page.get_by_role("button", name="Next task").click()
        done.append(kind)
    expect(page.get_by_text("You have finished every task.")).to_be_visible()


def sign_in(page: Page, url: str, name: str, password: str) -> None:
    page.goto(url)
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_a_participant_and_an_expert_judge_pairs_and_the_agreement_table_compares_them_with_the_ai(
        page, browser, pair_server, monkeypatch):
    page.set_default_timeout(90_000)
    expect.set_options(timeout=90_000)
    page.goto(pair_server["link"])
    page.get_by_text("I have read this and agree").click()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text("The conversation", exact=True)).to_be_visible()
    judge_all_pairs(page)

    expert = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    expert.set_default_timeout(90_000)
    sign_in(expert, pair_server["url"], *EXPERT)
    expert.get_by_role("link", name="Answer items").click()
    expect(expert.get_by_text("without the gold answer")).to_be_visible()
    try:
        judge_all_pairs(expert)
    finally:
        expert.screenshot(path=str(REPO / "test-artifacts" / "expert-answers-pairs.png"), full_page=True)
        expert.context.close()

    page.context.clear_cookies()
    sign_in(page, pair_server["url"], *ADMIN)
    expect(page.get_by_role("heading", name="New study")).to_be_visible()
    page.get_by_role("link", name="RLAIF").click()
    page.get_by_role("tab", name="Agreement", exact=True).click()
    caption = page.get_by_text(re.compile(r"^Labels per source:"))
    expect(caption).to_contain_text("non-experts: 2")
    expect(caption).to_contain_text("experts: 2")
    expect(caption).to_contain_text(re.compile(r"AI offline v1 \(#\d+\): 2"))

    # The table behind the page: the AI version against each kind of person, and the people against the data.
    from oversight import settings
    from oversight.rlaif.store import study_agreement
    from storage import db as storage_db

    monkeypatch.setenv("OVERSIGHT_DATABASE_URL", pair_server["env"]["OVERSIGHT_DATABASE_URL"])
    settings.reset_settings()
    try:
        table = {(r["a"], r["b"]): r for r in study_agreement(study_id=pair_server["study"])["table"]}
    finally:
        settings.reset_settings()
        storage_db.dispose_engines()
    people = {(a, b): r for (a, b), r in table.items() if {"non-experts", "experts"} & {a, b}}
    assert any("AI offline" in a + b and "non-experts" in (a, b) for a, b in people)
    assert any("AI offline" in a + b and "experts" in (a, b) for a, b in people)
    both = next(r for (a, b), r in people.items() if {a, b} == {"non-experts", "experts"})
    assert both["n"] == 2 and both["agreement"] == 1.0  # both preferred the kind response every time
    data = next(r for (a, b), r in people.items() if {a, b} == {"experts", "data set"})
    assert data["agreement"] == 1.0
