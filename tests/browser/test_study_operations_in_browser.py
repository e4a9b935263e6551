"""Running a paid study, in a real browser: the Study settings page (saved, audited, bad values refused),
Prolific participants sent back to Prolific with their code and paid once through the payment export, and a
server restart that leaves a participant in their task and an admin on their deep link."""

from __future__ import annotations

import json
import re
import sqlite3

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ADMIN, REPO, _free_port, app_env, cli, give_answer, start_streamlit, stop_streamlit
from tests.browser.test_sandwich_in_browser import answer_questionnaire, sign_in
from tests.browser.test_staff_session_in_browser import _session_cookie

pytestmark = pytest.mark.browser
COMPLETE = "https://app.prolific.com/submissions/complete?cc={code}"
CODE = "PILOT-7"
QUESTIONS = [("Which river flows through Vienna?", ["The Danube", "The Rhine"]),
             ("Which planet has the shortest year?", ["Mercury", "Venus"])]


@pytest.fixture(scope="module")
def ops(tmp_path_factory):
    """Two studies: one whose settings a test edits, and a paid pilot (direct QA, one item each, the correct answer
    first) with a Prolific completion URL, base pay and a bonus per correct answer, entered by the enrolment link."""
    tmp = tmp_path_factory.mktemp("operations")
    port = _free_port()
    env = app_env(tmp, port)
    cli(env, "init-db")
    cli(env, "create-user", "--role", "admin", "--name", ADMIN[0], stdin=ADMIN[1] + "\n")
    settings_study = cli(env, "study", "create", "--name", "Settings study").strip()
    pilot = cli(env, "study", "create", "--name", "Paid pilot").strip()
    items = tmp / "items.jsonl"
    items.write_text("".join(json.dumps({"id": f"q{k}", "question": q, "options": o, "gold": 0}) + "\n"
                             for k, (q, o) in enumerate(QUESTIONS)))
    cli(env, "import", "--study", pilot, "--format", "jsonl", str(items))
    version = cli(env, "strategy", "create", "--study", pilot, "--protocol", "direct-qa", "--rules",
                  '{"randomise_answer_order": false}').strip()
    cli(env, "conditions", "add", "--study", pilot, "--kind", "alone", "--strategy", version)
    cli(env, "study", "set", "--study", pilot, "--items-per-participant", "1", "--completion-code", CODE,
        "--completion-url", COMPLETE, "--base-pay", "1.50", "--bonus-rule", "per_correct", "--bonus-amount", "0.25")
    cli(env, "study", "open", "--study", pilot)  # a new study is a draft until the launch check opens it
    enrol = json.loads(cli(env, "enrolment", "--study", pilot, "--json"))["link"]
    state = {"url": f"http://127.0.0.1:{port}", "env": env, "port": port, "log": tmp / "streamlit.log",
             "db": tmp / "app.db", "settings_study": settings_study, "pilot": pilot, "enrol": enrol}
    state["proc"] = start_streamlit(env, port, state["log"])
    yield state
    stop_streamlit(state["proc"])


def enrol_link(ops: dict, pid: str) -> str:
    return (ops["enrol"].replace("{{%PROLIFIC_PID%}}", pid).replace("{{%STUDY_ID%}}", "prolific-study")
            .replace("{{%SESSION_ID%}}", f"session-{pid}"))


def start_task(page: Page, link: str) -> None:
    page.context.clear_cookies()
    page.goto(link)
    page.get_by_text("I have read this and agree").click()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text("Task 1 of 1")).to_be_visible()


def finish(page: Page, link: str, letter: str) -> None:
    """Do the one task (A is the correct answer: choose `letter` at 80 %), the questionnaire, and wait for the
    completion code."""
    start_task(page, link)
    give_answer(page, re.compile(rf"^{letter}\. "), 80)
    page.get_by_role("button", name="Submit final answer").click()
    expect(page.get_by_text("Your final answer is saved.")).to_be_visible()
    page.get_by_role("button", name="Next task").click()
    answer_questionnaire(page, with_model=False)
    expect(page.get_by_text(f"Your completion code: {CODE}")).to_be_visible()


def _db(ops: dict) -> sqlite3.Connection:
    return sqlite3.connect(ops["db"])


def _setting_events(ops: dict, study: str) -> dict[str, tuple]:
    rows = _db(ops).execute("select detail from event where kind = 'study.setting' and study_id = ? order by id",
                            (int(study),)).fetchall()
    return {d["field"]: (d["old"], d["new"]) for d in (json.loads(r[0]) for r in rows)}


def test_study_settings_are_saved_audited_and_bad_values_refused(page, ops):
    study = ops["settings_study"]
    sign_in(page, f"{ops['url']}/study_settings?study={study}", *ADMIN)
    expect(page.get_by_role("heading", name="Study settings")).to_be_visible()
    per_person = page.get_by_role("spinbutton", name=re.compile(r"^Items per participant"))
    url, currency = page.get_by_role("textbox", name="Completion redirect"), page.get_by_role("textbox", name="Currency")
    base, amount = page.get_by_role("spinbutton", name="Base pay"), page.get_by_role("spinbutton", name="Bonus amount")
    bonus = page.get_by_role("combobox", name="Bonus", exact=True)
    per_person.fill("3")
    url.fill(COMPLETE)
    currency.fill("USD")
    base.fill("2.50")
    bonus.click()
    bonus.press_sequentially("per correct")
    bonus.press("Enter")
    expect(bonus).to_have_value("per correct answer")
    amount.fill("0.30")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Saved: items per participant, completion url, currency, base pay, bonus rule, "
                            "bonus amount.")).to_be_visible()

    page.reload()
    expect(per_person).to_have_value("3")
    for box, value in ((url, COMPLETE), (currency, "USD"), (base, "2.50"), (amount, "0.30")):
        expect(box).to_have_value(value)
    expect(bonus).to_have_value("per correct answer")
    # The page lists the changes (from the audit log) with who made them; the table is drawn on a canvas, its
    # cells are also in the (screen-reader) table inside it.
    page.get_by_text("Changes to these settings").click()
    changes = page.get_by_test_id("stDataFrame").filter(has_text="setting").locator("tbody tr")
    expect(changes.filter(has_text="completion url").locator("td")).to_have_text(
        [re.compile(r"\d"), ADMIN[0], "completion url", "", COMPLETE])
    expect(changes.filter(has_text="base pay").locator("td")).to_have_text(
        [re.compile(r"\d"), ADMIN[0], "base pay", "0.0", "2.5"])
    audit = _setting_events(ops, study)
    assert audit == {"items_per_participant": (None, 3), "completion_url": (None, COMPLETE),
                     "currency": ("GBP", "USD"), "base_pay": (0.0, 2.5), "bonus_rule": ("none", "per_correct"),
                     "bonus_amount": (0.0, 0.3)}

    # Negative pay, or a redirect that is not an https address, is refused with a message; nothing changes.
    currency.fill("EUR")
    base.fill("-1")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Please enter a value between 0.00 and 1000.00")).to_be_visible()
    base.fill("2.50")
    url.fill("javascript:alert(1)")
    page.get_by_role("button", name="Save settings").click()
    # Shown through the one escaping function: an invisible word joiner keeps "https://" from becoming a link.
    expect(page.get_by_text(re.compile("the completion URL must be an https:\u2060?// address"))).to_be_visible()
    page.reload()
    expect(url).to_have_value(COMPLETE)
    expect(currency).to_have_value("USD")
    expect(base).to_have_value("2.50")
    page.get_by_text("Changes to these settings").click()
    expect(changes).to_have_count(6)
    page.get_by_test_id("stDataFrame").filter(has_text="setting").scroll_into_view_if_needed()  # for the screenshot
    assert _setting_events(ops, study) == audit


def test_prolific_participants_return_with_their_code_and_are_paid_once(page, ops):
    # The participant's "Return to Prolific" goes to Prolific in the same tab: answered here, no network needed.
    opened: list[str] = []

    def prolific(route) -> None:
        opened.append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body="<h1>Prolific: submission complete</h1>")

    page.context.route("https://app.prolific.com/**", prolific)
    finish(page, enrol_link(ops, "PID-RIGHT"), "A")
    back = page.get_by_role("link", name="Return to Prolific to record your submission")
    expect(back).to_be_visible()
    page.screenshot(path=str(REPO / "test-artifacts" / "completion-page.png"))
    back.click()  # a redirect in this tab, not a new tab (issue 17)
    expect(page.get_by_role("heading", name="Prolific: submission complete")).to_be_visible()
    assert len(page.context.pages) == 1
    assert opened == [COMPLETE.replace("{code}", CODE)]
    finish(page, enrol_link(ops, "PID-WRONG"), "B")

    # The admin sees who is owed what and whom to approve, exports, and downloads Prolific's bulk-bonus lines:
    # bonuses only, since Prolific pays the base pay when a submission is approved.
    sign_in(page, f"{ops['url']}/study_people?study={ops['pilot']}", *ADMIN)
    expect(page.get_by_role("heading", name="Payments")).to_be_visible()
    expect(page.get_by_text("Base pay 1.50 GBP for finishing every task, and a bonus of 0.25 per correct "
                            "answer.")).to_be_visible()
    owed = page.get_by_test_id("stDataFrame").filter(has_text="bonus").locator("tbody tr")
    expect(owed.locator("td")).to_have_text([re.compile("^P-"), "PID-RIGHT", "approve", "1.5", "0.25", "1.75",
                                             re.compile("^P-"), "PID-WRONG", "approve", "1.5", "0", "1.5"])
    page.get_by_role("button", name="Export payments").click()
    expect(page.get_by_text("Export 1: 3.25 GBP, 2 to approve, 0 to reject, 1 bonus line(s)")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("button", name="bonus.csv").click()
    lines = open(download.value.path()).read().splitlines()
    assert lines == ["PID-RIGHT,0.25"]

    # Nothing more to pay: the page says so and offers no second export, also after a reload.
    expect(page.get_by_text("Nothing is owed: everyone earned so far has been paid.")).to_be_visible()
    expect(page.get_by_role("button", name="Export payments")).to_have_count(0)
    page.reload()
    expect(page.get_by_text("Exports (newest first)")).to_be_visible()
    expect(page.get_by_role("button", name="approve.txt")).to_be_visible()  # the files stay after a reload
    expect(page.get_by_text("Nothing is owed: everyone earned so far has been paid.")).to_be_visible()
    expect(page.get_by_role("button", name="Export payments")).to_have_count(0)
    page.get_by_text("Exports (newest first)").scroll_into_view_if_needed()
    paid = _db(ops).execute("select kind, amount from payout order by id").fetchall()
    assert sorted(paid) == [("base", 1.5), ("base", 1.5), ("bonus", 0.25)]


def test_after_a_restart_a_participant_is_back_in_their_task_and_an_admin_on_their_deep_link(page, browser, ops):
    link = enrol_link(ops, "PID-RESTART")
    start_task(page, link)
    question = page.get_by_text(re.compile(r"^Which (river|planet)")).inner_text()
    transcript = _db(ops).execute("select max(id) from transcript").fetchone()[0]
    admin = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    deep = f"{ops['url']}/transcripts?study={ops['pilot']}&transcript={transcript}"
    sign_in(admin, deep, *ADMIN)
    expect(admin.get_by_role("heading", name=f"Transcript #{transcript}")).to_be_visible()
    _session_cookie(admin)  # the sign-in hands the session to an HttpOnly cookie just after it shows the page

    stop_streamlit(ops["proc"])
    ops["proc"] = start_streamlit(ops["env"], ops["port"], ops["log"])

    page.reload()
    expect(page.get_by_text("Task 1 of 1")).to_be_visible()
    expect(page.get_by_text(question, exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Submit final answer")).to_be_visible()
    page.goto(link)
    expect(page.get_by_text("Task 1 of 1")).to_be_visible()
    expect(page.get_by_text(question, exact=True)).to_be_visible()
    assert page.get_by_text("This page is not available to you").count() == 0
    give_answer(page, re.compile(r"^A\. "), 70)  # and the task works: the answer is stored
    page.get_by_role("button", name="Submit final answer").click()
    expect(page.get_by_text("Your final answer is saved.")).to_be_visible()

    admin.reload()
    expect(admin.get_by_role("heading", name=f"Transcript #{transcript}")).to_be_visible()
    expect(admin.get_by_text(f"Signed in as {ADMIN[0]} (admin)")).to_be_visible()
    admin.screenshot(path=str(REPO / "test-artifacts" / "restart-admin-deep-link.png"), full_page=True)
    admin.context.close()
