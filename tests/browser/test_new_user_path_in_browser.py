"""The new user's path, in a real browser: a study of 4-option items with three conditions (alone: direct QA;
assisted: assisted QA with the offline extractive model; expert), one practice item and one catch item. Two
participants and an expert answer through the one answer form (choose an option, then how sure, here 40-70 %),
right or wrong as planted; the admin's Sandwich figures must equal the planted accuracies. A 4-option answer at
40 % on the gold is correct (the gold is strictly the likeliest), and a catch item answered right at 40 % excludes
nobody.

This is the path issue 16 found broken: four sliders preset to 25 % stored 70/145 = 0.48 for a raised answer,
which scored wrong, so alone and experts came out at 0 % and the catch item excluded everyone."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ADMIN, REPO, _free_port, app_env, give_answer, settled, start_streamlit, stop_streamlit
from tests.browser.test_sandwich_in_browser import sign_in

pytestmark = pytest.mark.browser
EXPERT = ("erin", "expert-pass-4")
CODE = "NEW-USER-1"

# (question, four options, gold index, the passage the assistant reads)
REAL = [
    ("Which tool did the clockmaker lose?", ["A brass key", "A pair of tweezers", "His loupe", "A small file"], 2,
     "The clockmaker searched all morning for his loupe; without it he could not see the tiny gears."),
    ("Where did the ferry stop in winter?", ["At the north pier", "At the island", "At the old mill",
                                             "At the harbour mouth"], 0,
     "In winter the ferry stopped at the north pier, because ice closed the harbour mouth."),
    ("What colour was the lighthouse door?", ["Crimson", "Olive", "Navy", "Amber"], 3,
     "The keeper painted the lighthouse door amber every spring, so ships could see it in fog."),
    ("Who baked the bread for the festival?", ["The mayor", "The miller's daughter", "The priest",
                                               "The blacksmith"], 1,
     "The miller's daughter rose before dawn to bake the bread for the festival."),
]
# Practice is dealt under any condition, so it has a passage too (assisted QA needs one).
PRACTICE = ("How many legs does a spider have?", ["Six", "Eight", "Ten", "Four"], 1,
            "Spiders are arachnids, not insects: they have eight legs.")
CATCH = ("Attention check: please choose the answer Blue.", ["Red", "Green", "Blue", "Yellow"], 2, None)
GOLD = {q: (options, gold) for q, options, gold, _ in [*REAL, PRACTICE, CATCH]}

# What each person does, per kind of task, in the order they meet them: (answers right?, confidence %).
PLAN = [
    {"alone": [(True, 40), (False, 70)], "assisted": [(True, 55), (False, 60)],
     "catch": [(True, 40)], "practice": [(True, 50)]},
    {"alone": [(False, 55), (False, 45)], "assisted": [(True, 70), (False, 40)],
     "catch": [(True, 60)], "practice": [(False, 65)]},
]
EXPERT_PLAN = [(True, 40), (True, 70), (False, 55), (True, 45)]


def planted(kind: str) -> float:
    answers = [right for person in PLAN for right, _ in person[kind]] if kind != "expert" else \
        [right for right, _ in EXPERT_PLAN]
    return sum(answers) / len(answers)


@pytest.fixture
def new_study(tmp_path: Path, monkeypatch):
    """The study as a new user makes it, through the domain functions, on the app's database."""
    from oversight.access import auth
    from oversight.sandwiching import conditions
    from oversight.protocols import strategies
    from oversight import settings as settings_mod
    from oversight.db import init_db
    from oversight.importers import import_path
    from oversight.study.launch import set_study_status
    from oversight.study.studies import create_study, update_study
    from storage import db as storage_db

    port = _free_port()
    env = app_env(tmp_path, port)
    for key in ("OVERSIGHT_DATABASE_URL", "OVERSIGHT_DATA_DIR", "OVERSIGHT_PUBLIC_URL"):
        monkeypatch.setenv(key, env[key])  # the links point at this server
    settings_mod.reset_settings()
    storage_db.dispose_engines()
    init_db()
    admin = auth.create_user(role="admin", name=ADMIN[0], password=ADMIN[1])
    auth.create_user(role="expert", name=EXPERT[0], password=EXPERT[1])
    study = create_study(name="Four options", user_id=admin.id).id
    items = tmp_path / "items.jsonl"
    rows = [{"id": f"q{k}", "question": q, "options": o, "gold": g, "source_text": src}
            for k, (q, o, g, src) in enumerate(REAL)]
    rows.append({"id": "practice", "question": PRACTICE[0], "options": PRACTICE[1], "gold": PRACTICE[2],
                 "source_text": PRACTICE[3], "split": "practice", "explanation": "Spiders are arachnids."})
    rows.append({"id": "catch", "question": CATCH[0], "options": CATCH[1], "gold": CATCH[2], "split": "catch"})
    items.write_text("".join(json.dumps(r) + "\n" for r in rows))
    import_path(study_id=study, fmt="jsonl", path=items, user_id=admin.id)
    helper = strategies.create_strategy(study_id=study, name="Helper", protocol="assisted-qa",
                                        rules={"max_messages": 2},
                                        model_roles={"assistant": "extractive", "judge": "extractive"},
                                        user_id=admin.id)
    conditions.add_condition(study_id=study, kind="alone", name="Alone", user_id=admin.id)
    conditions.add_condition(study_id=study, kind="assisted", name="With assistant", strategy_id=helper.id,
                             user_id=admin.id)
    conditions.add_condition(study_id=study, kind="expert", name="Experts", user_id=admin.id)
    # One wrong catch answer would exclude a participant: the check must bite only the wrong answers.
    update_study(study_id=study, user_id=admin.id, design="within", items_per_participant=len(REAL),
                 practice_items=1, catch_items=1, attention_warn=1, attention_exclude=1, completion_code=CODE)
    set_study_status(study_id=study, status="open", user_id=admin.id)
    links = [i.link for i in auth.create_invites(study_id=study, count=len(PLAN), created_by=admin.id)]
    storage_db.dispose_engines()
    proc = start_streamlit(env, port, tmp_path / "streamlit.log")
    yield {"url": f"http://127.0.0.1:{port}", "study": study, "links": links, "env": env}
    stop_streamlit(proc)
    storage_db.dispose_engines()
    settings_mod.reset_settings()



def shown_question(page: Page, before: set[str]) -> str:
    """The question of the task now on the page (one this person has not met yet)."""
    for _ in range(200):
        settled(page)
        now = [q for q in GOLD if q not in before and page.get_by_text(q, exact=True).count()]
        if len(now) == 1:
            return now[0]
        page.wait_for_timeout(100)
    raise AssertionError(f"no new task on the page (seen: {sorted(before)})")


def answer(page: Page, question: str, right: bool, percent: int) -> None:
    options, gold = GOLD[question]
    text = options[gold] if right else options[(gold + 1) % len(options)]
    give_answer(page, re.compile(rf"^[A-D]\. {re.escape(text)}$"), percent)


def do_tasks(page: Page, plan: dict, *, total: int, ask: bool, screenshot: str | None) -> dict[str, int]:
    """Work through every task by the plan; returns how many of each kind were met."""
    plan = {kind: list(answers) for kind, answers in plan.items()}
    seen: set[str] = set()
    met: dict[str, int] = {}
    for k in range(1, total + 1):
        expect(page.get_by_text(f"Task {k} of {total}")).to_be_visible()
        question = shown_question(page, seen)
        seen.add(question)
        # Tell the kind of task only once its answer form is drawn (a busy machine draws the page in parts).
        expect(page.get_by_role("button", name=re.compile(r"^Submit (final )?answer$"))).to_be_visible()
        settled(page)
        live = page.get_by_role("button", name="Submit final answer").count() > 0
        practice = page.get_by_text("A practice question").count() > 0
        kind = "practice" if practice else "catch" if question == CATCH[0] else "assisted" if live else "alone"
        met[kind] = met.get(kind, 0) + 1
        if kind == "assisted" and ask:  # the offline extractive assistant answers once
            box = page.get_by_placeholder("Ask the assistant…")
            box.fill("What does the text say?")
            box.press("Enter")
            expect(page.get_by_text("You can send 1 more message.")).to_be_visible()
            settled(page)
            ask = False
        right, percent = plan[kind].pop(0)
        if not live:  # nothing chosen yet: refused, nothing stored
            page.get_by_role("button", name="Submit answer").click()
            expect(page.get_by_text("Choose an answer first: nothing was saved.")).to_be_visible()
        answer(page, question, right, percent)
        if screenshot and kind == "alone":
            page.screenshot(path=screenshot, full_page=True)
            screenshot = None
        page.get_by_role("button", name="Submit final answer" if live else "Submit answer").click()
        if live:
            expect(page.get_by_text("Your final answer is saved.")).to_be_visible()
            page.get_by_role("button", name="Next task").click()
        elif practice:
            expect(page.get_by_text(f"Practice: the answer was {PRACTICE[1][PRACTICE[2]]}")).to_be_visible()
            page.get_by_role("button", name="Continue").click()
    assert all(not left for left in plan.values()), f"tasks planted but not dealt: {plan}"
    return met


def questionnaires(page: Page) -> None:
    """One short questionnaire per part of the study (alone, with the assistant), then the completion code."""
    for part in range(2):
        expect(page.get_by_text("A few questions before you finish")).to_be_visible()
        if part == 0:
            expect(page.get_by_text(re.compile(r"\(2 parts left\)"))).to_be_visible()
        else:
            expect(page.get_by_text(re.compile(r"parts left"))).to_have_count(0)
        settled(page)
        for question in ("How much did the AI help", "How sure are you"):
            group = page.get_by_test_id("stRadio").filter(has_text=question)
            if group.count():
                group.get_by_text("4", exact=True).click()
        page.get_by_role("button", name="Submit", exact=True).click()
    expect(page.get_by_text(f"Your completion code: {CODE}")).to_be_visible()


def test_a_new_users_four_option_study_gives_the_planted_figures(page, new_study):
    # The first reply loads the sentence encoder in the server process: allow for it.
    page.set_default_timeout(90_000)
    expect.set_options(timeout=90_000)
    url, study = new_study["url"], new_study["study"]
    out = REPO / "test-artifacts"
    out.mkdir(exist_ok=True)

    # Two participants: a practice item, two items alone, two with the assistant, one attention check.
    for n, (link, plan) in enumerate(zip(new_study["links"], PLAN)):
        page.context.clear_cookies()
        page.goto(link)
        page.get_by_text("I have read this and agree").click()
        page.get_by_role("button", name="Continue").click()
        met = do_tasks(page, plan, total=len(REAL) + 2, ask=n == 0,
                       screenshot=str(out / "answer-form-4-options.png") if n == 0 else None)
        assert met == {"practice": 1, "alone": 2, "assisted": 2, "catch": 1}
        questionnaires(page)

    # The expert answers the practice item as practice (its answer shown after), then the expert condition (every
    # real item, no catch) with the same form.
    sign_in(page, f"{url}/answer?study={study}", *EXPERT)
    met = do_tasks(page, {"alone": EXPERT_PLAN, "practice": [(True, 80)]}, total=len(REAL) + 1, ask=False,
                   screenshot=None)
    assert met == {"practice": 1, "alone": len(REAL)}
    expect(page.get_by_text("You have finished every task. Thank you!")).to_be_visible()

    # The admin's Sandwich: the planted accuracies, with everyone counted (the catch item excluded nobody).
    sign_in(page, f"{url}/results?study={study}", *ADMIN)
    page.get_by_role("tab", name="Sandwich").click()
    chart = page.locator('[data-testid="stPlotlyChart"]:visible').first
    expect(chart).to_be_visible()
    chart.scroll_into_view_if_needed()
    page.screenshot(path=str(out / "new-user-sandwich.png"))
    with page.expect_download() as download:
        page.get_by_role("button", name="Download table (CSV)").click()
    every = list(csv.DictReader(open(download.value.path(), encoding="utf-8")))
    rows = {r["name"]: r for r in every if r["kind"] != "gap closed"}  # the gap rows follow the conditions'
    gap = next(r for r in every if r["kind"] == "gap closed")
    assert float(gap["estimate"]) == pytest.approx(0.5)  # (0.5 - 0.25) / (0.75 - 0.25)
    figures = {name: (float(rows[name]["estimate"]), int(rows[name]["n"]))
               for name in ("Alone", "With assistant", "Experts")}
    assert figures == {"Alone": (pytest.approx(planted("alone")), 4),
                       "With assistant": (pytest.approx(planted("assisted")), 4),
                       "Experts": (pytest.approx(planted("expert")), 4)}
    assert (planted("alone"), planted("assisted"), planted("expert")) == (0.25, 0.5, 0.75)
    assert rows["Experts"]["gold_stands_in"] in ("False", "false", "0")  # measured, not the gold

    from oversight.study.attention import attention

    _, people = attention(study_id=study)
    assert [(p.catch_answered, p.catch_wrong, p.status) for p in people] == [(1, 0, "ok")] * len(PLAN)
