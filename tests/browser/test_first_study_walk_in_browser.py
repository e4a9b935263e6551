"""A researcher's first sandwiching study, walked in Chromium from an empty lab to the archive (issue 18).

The only command-line use is the operator's setup: `init-db` and one admin (`create-user`). Everything else is done
through the pages, as a new researcher would: invite two experts from the Staff page (they sign up through their own
links, in their own browsers), create the study, upload its items, build two strategies, add the four conditions of a
sandwich (alone, with the assistant, the model alone, experts), set the design, pay, completion code and feedback, run
the model alone and watch its counters, run a dry run and open its results, open the study through the launch check,
make three participant links; three participants take part (a practice item with feedback people understand, answers
at 40-70 %, one leaves partway); the experts answer their condition and review; the admin reads the sandwich chart,
promotes a participant's proposal on Loops, looks at Monitor, exports payments and the study, and archives it (the
participant links are then refused). The page is never reloaded to see a result.

Each step saves a screenshot named after it (STEPS) to test-artifacts/first-study/, and to $OVERSIGHT_GUIDE_SHOTS when
set: docs/first-study.md shows them (tests/test_first_study_guide.py checks the guide names only these steps)."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from oversight.importers import FORMATS
from tests.browser.conftest import ADMIN, REPO, _free_port, app_env, cli, give_answer, settled, start_streamlit, stop_streamlit

pytestmark = pytest.mark.browser

# The guide's screenshots, in the order the walk takes them (docs/first-study.md may show only these names).
STEPS = (
    "staff-invite", "expert-sign-up", "new-study", "items-imported", "strategy-assisted", "conditions",
    "settings-design-pay", "model-alone-done", "dry-run-done", "dry-run-results", "launch-check",
    "participant-links", "participant-practice-feedback", "participant-assisted", "participant-finished",
    "expert-answer-first", "expert-review", "expert-queue-empty", "results-sandwich", "loops-promote", "monitor",
    "payments", "export", "archived", "link-refused",
)
ARTIFACTS = REPO / "test-artifacts" / "first-study"
EXPERTS = [("ada", "ada's own passphrase"), ("ben", "ben's own passphrase")]
CODE = "WALK-DONE-1"
STUDY = "My first sandwich"

# (id, question, four options, gold index, the passage)
REAL = [
    ("ferry", "Where did the ferry stop in winter?", ["At the north pier", "At the island", "At the old mill",
                                                       "At the harbour mouth"], 0,
     "In winter the ferry stopped at the north pier, because ice closed the harbour mouth."),
    ("door", "What colour was the lighthouse door?", ["Crimson", "Olive", "Navy", "Amber"], 3,
     "The keeper painted the lighthouse door amber every spring, so ships could see it in fog."),
]
PRACTICE = ("spider", "How many legs does a spider have?", ["Six", "Eight", "Ten", "Four"], 1,
            "Spiders are arachnids, not insects: they have eight legs.")
CATCH = ("catch", "Attention check: please choose the answer Blue.", ["Red", "Green", "Blue", "Yellow"], 2, None)
GOLD = {q: (options, gold) for _, q, options, gold, _ in [*REAL, PRACTICE, CATCH]}
# Per participant, in the order they meet their tasks: (right?, confidence %) for the practice item, the real items
# and the catch item. The third leaves after their first real task.
PLANS = [
    {"practice": [(True, 60)], "real": [(True, 55), (False, 45)], "catch": [(True, 70)]},
    {"practice": [(True, 50)], "real": [(True, 65), (True, 40)], "catch": [(True, 60)]},
    {"practice": [(False, 45)], "real": [(True, 50)], "catch": []},
]
EXPERT_PLAN = {"practice": [(True, 70)], "real": [(True, 70), (True, 60)], "catch": []}
ITEMS_FILE = "first-study-items.jsonl"


def shot(page: Page, step: str, near=None, *, full: bool = False) -> None:
    """The viewport (scrolled to `near` first: a locator or a text), saved under the step's name."""
    assert step in STEPS, step
    if step in TAKEN:  # the first person to reach a step is the one shown
        return
    if near is not None:
        target = page.get_by_text(near).first if isinstance(near, str) else near
        target.scroll_into_view_if_needed()
    settled(page)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{step}.png"
    page.screenshot(path=str(path), full_page=full)
    if guide := os.environ.get("OVERSIGHT_GUIDE_SHOTS"):
        Path(guide).mkdir(parents=True, exist_ok=True)
        _small_copy(path, Path(guide) / f"{step}.png")
    TAKEN.append(step)


def _small_copy(src: Path, dest: Path) -> None:
    """The guide's copy as a 256-colour PNG (a third of the size; the pages are flat colours)."""
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow comes with streamlit
        shutil.copyfile(src, dest)
        return
    with Image.open(src) as image:
        image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(dest, optimize=True)


TAKEN: list[str] = []



@pytest.fixture
def lab(tmp_path: Path):
    """The operator's setup, and nothing more: a database and one admin."""
    port = _free_port()
    env = app_env(tmp_path, port)
    cli(env, "init-db")
    cli(env, "create-user", "--role", "admin", "--name", ADMIN[0], "--password-stdin", stdin=ADMIN[1] + "\n")
    proc = start_streamlit(env, port, tmp_path / "streamlit.log")
    yield {"url": f"http://127.0.0.1:{port}", "env": env, "tmp": tmp_path}
    stop_streamlit(proc)


# --- small moves a person makes -------------------------------------------------------------------------------

def sign_in(page: Page, url: str, name: str, password: str) -> None:
    page.goto(url)
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text(f"Signed in as {name}")).to_be_visible()


def go(page: Page, title: str, heading: str | None = None) -> None:
    """Open a page from the sidebar menu, as a person would."""
    page.get_by_test_id("stSidebar").get_by_role("link", name=title, exact=True).click()
    expect(page.get_by_role("heading", name=heading or title, exact=True)).to_be_visible()


def study_is(page: Page, study: int) -> None:
    """The page's Study picker shows this study (the choice follows the researcher from page to page)."""
    expect(page.get_by_role("combobox", name="Study", exact=True)).to_have_value(f"{STUDY} (#{study})")


def pick(page: Page, label: str, option: str) -> None:
    """Choose `option` in the selectbox labelled `label`."""
    box = page.get_by_role("combobox", name=label, exact=True)
    for attempt in range(3):  # a text field just left reruns the page, which may close the list: open it again
        settled(page)
        box.click()
        try:
            page.get_by_role("option", name=option, exact=True).click(timeout=5_000)
            break
        except Exception:
            if attempt == 2:
                raise
    expect(box).to_have_value(option)
    settled(page)


def _condition_row(page: Page, name: str):
    """A row of the Conditions table (the grid's screen-reader table is drawn while the grid is on screen)."""
    from playwright.sync_api import Error

    for attempt in range(3):  # a live-progress rerun can redraw the table under the scroll: settle and again
        settled(page)
        try:
            page.get_by_text("Items it can deal: real items").scroll_into_view_if_needed(timeout=15_000)
            break
        except Error:
            if attempt == 2:
                raise
    return page.get_by_test_id("stDataFrame").filter(has_text="tasks dealt").locator("tbody tr").filter(
        has=page.get_by_text(name, exact=True))


def write_items(path: Path) -> None:
    rows = [{"id": i, "question": q, "options": o, "gold": g, "source_text": src} for i, q, o, g, src in REAL]
    i, q, o, g, src = PRACTICE
    rows.append({"id": i, "question": q, "options": o, "gold": g, "source_text": src, "split": "practice",
                 "explanation": "Spiders are arachnids: eight legs, where insects have six."})
    i, q, o, g, _ = CATCH
    rows.append({"id": i, "question": q, "options": o, "gold": g, "split": "catch"})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def shown_question(page: Page, seen: set[str]) -> str:
    for _ in range(200):
        settled(page)
        now = [q for q in GOLD if q not in seen and page.get_by_text(q, exact=True).count()]
        if len(now) == 1:
            return now[0]
        page.wait_for_timeout(100)
    raise AssertionError(f"no new task on the page (seen: {sorted(seen)})")


def do_tasks(page: Page, plan: dict, *, total: int, stop_after: int | None = None, shots: bool = False) -> dict:
    """Work through the tasks by the plan (a participant's or an expert's); returns how many of each kind were met.
    With `stop_after`, leave after that many tasks (a drop-out)."""
    plan = {kind: list(answers) for kind, answers in plan.items()}
    seen: set[str] = set()
    met: dict[str, int] = {}
    asked = False
    for k in range(1, total + 1):
        if stop_after is not None and k > stop_after:
            break
        expect(page.get_by_text(f"Task {k} of {total}")).to_be_visible()
        question = shown_question(page, seen)
        seen.add(question)
        live = page.get_by_role("button", name="Submit final answer").count() > 0
        practice = page.get_by_text("A practice question").count() > 0
        kind = "practice" if practice else "catch" if question == CATCH[1] else "real"
        met[kind] = met.get(kind, 0) + 1
        met["live"] = met.get("live", 0) + live
        just_asked = live and not asked and kind == "real"
        if just_asked:  # the assistant answers one question from the passage
            box = page.get_by_placeholder("Ask the assistant…")
            box.fill("What does the passage say?")
            box.press("Enter")
            expect(page.get_by_text("You can send 1 more message.")).to_be_visible()
            settled(page)
            asked = True
        right, percent = plan[kind].pop(0)
        options, gold = GOLD[question]
        text = options[gold] if right else options[(gold + 1) % len(options)]
        give_answer(page, re.compile(rf"^[A-D]\. {re.escape(text)}$"), percent)
        if shots and just_asked:
            shot(page, "participant-assisted", page.get_by_text("Your final answer", exact=True))
        page.get_by_role("button", name="Submit final answer" if live else "Submit answer").click()
        if practice:
            # Feedback people understand: right or not and how sure, never a bare log score.
            headline = f"{'Correct' if right else 'Not correct'} — you were {percent}% sure."
            expect(page.get_by_text(headline)).to_be_visible()
            expect(page.get_by_text("Your score:")).to_have_count(0)
            expect(page.get_by_text(f"Practice: the answer was {options[gold]}")).to_be_visible()
            if shots:
                shot(page, "participant-practice-feedback")
        if live:
            expect(page.get_by_text("Your final answer is saved.")).to_be_visible()
            page.get_by_role("button", name="Next task").click()
        elif practice:
            page.get_by_role("button", name="Continue").click()
    return met


def questionnaire(page: Page, with_model: bool) -> None:
    expect(page.get_by_text("A few questions before you finish")).to_be_visible()
    settled(page)
    for question in ("How much did the AI help", "How sure are you") if with_model else ("How sure are you",):
        page.get_by_test_id("stRadio").filter(has_text=question).get_by_text("4", exact=True).click()
    page.get_by_role("button", name="Submit", exact=True).click()


def review_next(page: Page) -> None:
    # One form: the previous answer's form is gone once the rerun after a review has finished drawing.
    expect(page.get_by_role("button", name="Submit review")).to_have_count(1)
    settled(page)
    waiting = page.get_by_text(re.compile(r"waiting for you · assignment #\d+")).inner_text()

    def choose(question: str, option: str) -> None:
        group = page.get_by_test_id("stRadio").filter(has_text=question)
        group.get_by_text(option, exact=True).click()
        expect(group.get_by_role("radio", name=option, exact=True)).to_be_checked()

    choose("Was the participant's final outcome correct?", "correct")
    if page.get_by_text("Quality of the model's help").count():
        choose("Quality of the model's help", "4")
    page.get_by_role("button", name="Submit review").click()
    assignment = re.search(r"#(\d+)", waiting).group(1)
    expect(page.get_by_text(f"Review of assignment #{assignment} saved", exact=False)).to_be_visible()


# --- the walk ---------------------------------------------------------------------------------------------------

def test_a_first_sandwiching_study_from_an_empty_lab_to_the_archive(page: Page, browser: Browser, lab):
    url, tmp = lab["url"], lab["tmp"]
    TAKEN.clear()
    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    # The model-alone run and the assistant's first reply load the sentence encoder in the server: allow for it.
    page.set_default_timeout(60_000)
    expect.set_options(timeout=60_000)
    contexts = []

    def new_page() -> Page:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(context)
        p = context.new_page()
        p.set_default_timeout(60_000)
        return p

    try:
        # 1. Staff: the admin invites two experts; each signs up through their own link, in their own browser.
        sign_in(page, url, *ADMIN)
        experts = []
        for n, (name, password) in enumerate(EXPERTS):
            go(page, "Staff")
            page.get_by_label("Name", exact=True).fill(name)
            page.get_by_role("button", name="Make a sign-up link").click()
            code = page.get_by_test_id("stCode")
            expect(code).to_contain_text("?invite=")
            link = re.search(r"https?://\S+\?invite=[\w-]+", code.inner_text()).group(0)
            if n == 0:
                shot(page, "staff-invite")
            page.get_by_role("button", name="I have copied the link").click()
            expect(page.get_by_test_id("stCode")).to_have_count(0)
            expert = new_page()
            expert.goto(link)
            expect(expert.get_by_text(f"You were invited as expert '{name}'")).to_be_visible()
            expert.get_by_label("New password", exact=True).fill(password)
            expert.get_by_label("New password again", exact=True).fill(password)
            if n == 0:
                shot(expert, "expert-sign-up")
            expert.get_by_role("button", name="Set password and sign in").click()
            expect(expert.get_by_text(f"Signed in as {name} (expert)")).to_be_visible()
            experts.append(expert)

        # 2. The study, on the Studies page.
        go(page, "Studies")
        page.get_by_label("Name", exact=True).fill(STUDY)
        page.get_by_label("Instructions (shown to participants)").fill(
            "Read the passage, choose an answer and say how sure you are.")
        page.get_by_role("button", name="Create study").click()
        made = page.get_by_text(re.compile(r"Created study #\d+ as a draft"))
        expect(made).to_be_visible()
        study = int(re.search(r"#(\d+)", made.inner_text()).group(1))
        shot(page, "new-study")

        # 3. Items: upload a JSONL file (two real items with passages, a practice item, a catch item).
        go(page, "Items")
        study_is(page, study)
        items = tmp / ITEMS_FILE
        write_items(items)
        pick(page, "Format", f"jsonl — {FORMATS['jsonl']}")
        # A new format draws a new uploader (its key names the format): wait for it before giving it the file.
        page.locator('.st-key-upload-jsonl input[type="file"]').set_input_files(str(items))
        expect(page.get_by_role("button", name=f"Remove {ITEMS_FILE}")).to_be_visible()
        expect(page.get_by_role("button", name="Import", exact=True)).to_be_enabled()
        page.get_by_role("button", name="Import", exact=True).click()
        imported = page.get_by_test_id("stAlertContentSuccess")
        expect(imported).to_contain_text(ITEMS_FILE)  # the uploaded file's own name, no server temp path
        expect(imported).not_to_contain_text("/tmp")
        expect(page.get_by_test_id("stDataFrame")).to_contain_text(CATCH[1])  # the items table, without a reload
        shot(page, "items-imported")

        # 4. Strategies: an assistant that answers questions about the passage, and the model on its own.
        go(page, "Strategies")
        study_is(page, study)
        page.get_by_role("tab", name="New strategy").click()
        for name, protocol in (("Helper", "Assisted QA"), ("Model", "Model alone")):
            page.get_by_label("Name", exact=True).fill(name)
            pick(page, "Protocol", protocol)
            if name == "Helper":
                page.get_by_label(re.compile("^Messages the participant may send")).fill("2")
                shot(page, "strategy-assisted", page.get_by_text("Rules", exact=True))
            page.get_by_role("button", name="Save version 1").click()
            expect(page.get_by_text(re.compile(rf"Saved {name} v1 \(#\d+\)"))).to_be_visible()

        # 5. Study settings: the four conditions of a sandwich.
        go(page, "Study settings")
        study_is(page, study)
        for kind, name in (("Non-expert alone", "Alone"), ("Non-expert + model", "With helper"),
                           ("Model alone", "Model alone"), ("Experts", "Experts")):
            pick(page, "Kind", kind)
            page.get_by_label("Name (optional)").fill(name)
            page.get_by_role("button", name="Add condition").click()
            expect(page.get_by_text(f"Added condition {name}.")).to_be_visible()
            settled(page)
            expect(page.get_by_label("Name (optional)")).to_have_value("")  # the form starts afresh
        table = page.get_by_test_id("stDataFrame").filter(has_text="With helper")
        expect(table.first).to_be_visible()
        shot(page, "conditions", page.get_by_role("heading", name="Conditions"))

        # 6. The design, pay, completion code and feedback.
        page.get_by_label("Completed", exact=True).fill(CODE)
        page.get_by_role("spinbutton", name="Base pay for finishing").fill("2.00")
        pick(page, "Bonus", "per correct answer")
        page.get_by_role("spinbutton", name="Bonus amount").fill("0.25")
        page.get_by_text("between: one condition each").click()
        page.get_by_role("spinbutton", name="Practice items (answer shown after each)").fill("1")
        page.get_by_role("spinbutton", name="Catch items per participant (0: off)").fill("1")
        page.get_by_role("spinbutton", name="Review share (assignments a second expert reviews)").fill("0")
        shot(page, "settings-design-pay", page.get_by_text("Completion and pay"))
        page.get_by_role("button", name="Save settings").click()
        expect(page.get_by_text(re.compile(r"^Saved: .*completion code"))).to_be_visible()
        feedback = page.get_by_test_id("stForm").filter(has_text="Feedback to participants")
        expect(feedback.get_by_role("radio").first).to_be_checked()  # right or not and how sure: the default

        # 7. The model alone, run from the page: its progress and the counters update without a reload.
        model_row = lambda: _condition_row(page, "Model alone")  # noqa: E731
        expect(model_row().locator("td").nth(4)).to_have_text("0")
        chooser = page.get_by_role("combobox", name="Change a condition")
        chooser.click()
        chooser.press_sequentially("Model alone")
        chooser.press("Enter")
        expect(chooser).to_have_value(re.compile(r"^Model alone"))
        page.get_by_role("button", name="Run the model alone over the items people are dealt").click()
        bar = page.get_by_test_id("stProgress").filter(has_text="model alone")
        expect(bar.first).to_contain_text(re.compile(r"done · (\d+)/\1 done"), timeout=180_000)
        expect(model_row().locator("td").nth(4)).to_have_text(str(len(REAL)))
        page.wait_for_timeout(600)  # the bar's width animates to full
        shot(page, "model-alone-done", bar.first)

        # 8. A dry run: simulated people through the same design, its results opened from the page.
        page.get_by_role("spinbutton", name="Simulated participants").fill("4")
        page.get_by_role("spinbutton", name="Simulated experts (answer and review)").fill("1")
        page.get_by_role("button", name="Start dry run").click()
        opener = page.get_by_role("button", name=re.compile(r"^Open the results of dry run #\d+"))
        expect(opener).to_be_visible(timeout=180_000)
        shot(page, "dry-run-done", opener)
        copy = int(re.search(r"#(\d+)", opener.inner_text()).group(1))
        opener.click()
        expect(page).to_have_url(re.compile(rf"/results\?study={copy}$"))
        expect(page.get_by_text(re.compile("simulated", re.IGNORECASE)).first).to_be_visible()
        shot(page, "dry-run-results")

        # 9. Back to the study: the launch check, then open it.
        go(page, "Study settings")
        pick(page, "Study", f"{STUDY} (#{study})")  # the dry run's copy was on screen
        check = page.get_by_test_id("stExpander").filter(has_text="Launch check")
        expect(check.get_by_text(re.compile(r"Practice: 1 asked, 1 item\(s\) set aside"))).to_be_visible()
        shot(page, "launch-check", check)
        page.get_by_role("button", name="Open the study").click()
        expect(page.get_by_text(f"Study #{study} is open.")).to_be_visible()

        # 10. Participants: three personal links.
        go(page, "Participants")
        study_is(page, study)
        page.get_by_role("spinbutton", name="How many").fill("3")
        page.get_by_role("button", name="Create links").click()
        code = page.get_by_test_id("stCode").first
        expect(code).to_contain_text("?t=")
        links = re.findall(r"https?://\S+\?t=[\w-]+", code.inner_text())
        assert len(links) == 3
        shot(page, "participant-links")

        # 11. Three participants: practice, two items, the catch item (one leaves after their first real task).
        kinds = []
        for n, (link, plan) in enumerate(zip(links, PLANS)):
            person = new_page()
            person.goto(link)
            person.get_by_text("I have read this and agree").click()
            person.get_by_role("button", name="Continue").click()
            total = 1 + len(REAL) + 1
            met = do_tasks(person, plan, total=total, stop_after=2 if n == 2 else None, shots=n < 2)
            kinds.append(met.get("live", 0) > 0)
            if n == 2:  # leaves partway: their context is closed
                person.context.close()
                contexts.remove(person.context)
                break
            assert met["practice"] == 1 and met["real"] == len(REAL) and met["catch"] == 1
            questionnaire(person, with_model=kinds[-1])
            if kinds[-1]:  # with the assistant: a suggestion for the researchers
                settled(person)  # the completion page has finished drawing before anyone types into it
                person.get_by_text("Optional: suggest an improvement").click()
                person.get_by_label("Your suggestion").fill("Quote the sentence that answers the question.")
                person.get_by_label("Why would it help?").fill("I could not tell which part of the passage it used.")
                settled(person)
                person.get_by_role("button", name="Send suggestion").click()
                expect(person.get_by_text(re.compile(r"your suggestion #\d+ was sent"))).to_be_visible()
            expect(person.get_by_text(f"Your completion code: {CODE}")).to_be_visible()
            if n == 1:
                shot(person, "participant-finished")
            participant_link = links[0]
            person.context.close()
            contexts.remove(person.context)
        assert sorted(kinds[:2]) == [False, True]  # between subjects: one alone, one with the assistant

        # 12. The experts: the queue says why it waits, they answer their condition, then review.
        for n, expert in enumerate(experts):
            expert.goto(f"{url}/answer?study={study}")  # the link the admin sends them: answer first
            expect(expert.get_by_text(f"Task 1 of {1 + len(REAL)}")).to_be_visible()
            go(expert, "Review queue")  # the queue waits, and says why
            study_is(expert, study)
            expect(expert.get_by_text(f"You still have {1 + len(REAL)} of this study's items to answer")).to_be_visible()
            if n == 0:
                shot(expert, "expert-answer-first")
            go(expert, "Answer items", STUDY)
            met = do_tasks(expert, EXPERT_PLAN, total=1 + len(REAL))
            assert met == {"practice": 1, "real": len(REAL), "live": 0}
            expect(expert.get_by_text("You have finished every task. Thank you!")).to_be_visible()
            go(expert, "Review queue")
            study_is(expert, study)
        first, second = experts
        review_next(first)
        shot(first, "expert-review", first.get_by_text("Question", exact=True))
        reviews = 1
        while first.get_by_role("button", name="Submit review").count() and reviews < 3:
            review_next(first)
            reviews += 1
        # The second expert opens the queue now (a queue page left open while another expert reviews still shows
        # the answer that expert took: see the walk's report).
        go(second, "Review queue")
        second_done = 0
        while True:
            settled(second)
            if not second.get_by_role("button", name="Submit review").count():
                break
            review_next(second)
            second_done += 1
        empty = second.get_by_test_id("stAlertContentInfo").first
        expect(empty).to_be_visible()
        assert "Nothing left for you" in empty.inner_text() or "reviewed" in empty.inner_text()
        shot(second, "expert-queue-empty")

        # 13. Results: the sandwich chart with every condition.
        go(page, "Results")
        study_is(page, study)
        page.get_by_role("tab", name="Sandwich").click()
        chart = page.locator('[data-testid="stPlotlyChart"]:visible').first
        expect(chart).to_be_visible()
        for name in ("Model alone", "Alone", "With helper", "Experts"):
            expect(chart.get_by_text(name, exact=False).first).to_be_visible()
        shot(page, "results-sandwich", chart)

        # 14. Loops: the participant's suggestion becomes a candidate version, promoted with the experts' reviews.
        go(page, "Loops")
        study_is(page, study)
        page.get_by_role("button", name="Make candidate version").click()
        expect(page.get_by_text(re.compile(r"is now candidate version 2"))).to_be_visible()
        page.get_by_role("tab", name="Outer loop (experts)").click()
        expect(page.get_by_role("heading", name="Promote or retire a version")).to_be_visible()
        for label, typed in (("Version", "Helper v2"), ("The expert reviews it answers", "#")):
            box = page.get_by_role("combobox", name=label)
            box.click()
            box.press_sequentially(typed)
            box.press("Enter")
        page.keyboard.press("Escape")
        page.get_by_label("Rationale (kept with the decision)").fill("Quoting the passage answers what people asked.")
        shot(page, "loops-promote", page.get_by_role("heading", name="Promote or retire a version"))
        page.get_by_role("button", name="Promote").click()
        expect(page.get_by_text(re.compile(r"Promoted Helper v2.*Now dealt by: With helper"))).to_be_visible()

        # 15. Monitor: who finished, who left partway.
        go(page, "Monitor")
        study_is(page, study)
        expect(page.get_by_test_id("stMetric").filter(has_text="Finished")).to_contain_text("2")
        shot(page, "monitor")

        # 16. Wrap-up: payments (the files to pay from), the study's export, then the archive.
        go(page, "Participants")
        study_is(page, study)
        page.get_by_role("button", name="Export payments").click()
        expect(page.get_by_text(re.compile(r"^Export \d+: "))).to_be_visible()
        with page.expect_download() as download:
            page.get_by_role("button", name="by-hand.csv").click()
        owed = Path(download.value.path()).read_text().splitlines()
        # Personal links (no Prolific ID): paid by hand. The two who finished get base pay and bonus; the one who left
        # partway the bonus of their one right answer.
        amounts = sorted(float(line.split(",")[1]) for line in owed)
        assert amounts == [0.25, 2.25, 2.5], owed
        shot(page, "payments", page.get_by_role("heading", name="Payments"))

        go(page, "Results")
        study_is(page, study)
        page.get_by_role("button", name="Prepare the export").click()
        with page.expect_download() as download:
            page.get_by_role("button", name=re.compile(r"^Download .*\.zip$")).click()
        import zipfile

        with zipfile.ZipFile(download.value.path()) as archive:
            assert any(n.endswith("study.json") for n in archive.namelist())
        shot(page, "export", page.get_by_role("heading", name="Export"))

        go(page, "Studies")
        expect(page.get_by_role("combobox", name="Study", exact=True)).to_have_value(f"{STUDY} (#{study}, open)")
        page.get_by_role("button", name="Archive", exact=True).click()
        expect(page.get_by_text(f"Archived study #{study}")).to_be_visible()
        shot(page, "archived", page.get_by_text(f"Archived study #{study}"))
        person = new_page()
        person.goto(participant_link)
        expect(person.get_by_text("This study has been archived: its links no longer work.")).to_be_visible()
        expect(person.get_by_label("Password", exact=True)).to_have_count(0)  # no staff form under the error
        shot(person, "link-refused")
        assert sorted(TAKEN) == sorted(STEPS), TAKEN  # every step the guide may show was taken
    finally:
        for context in contexts:
            context.close()
