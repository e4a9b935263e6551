"""The actions whose SQL is budgeted (issue 23), driven through the real page path: `app.py` under AppTest, a
participant entering by their link (`?t=TOKEN`) and staff signed in, as in the browser. Shared by
tests/test_statement_budget.py (the budgets) and bench/run_cost.py (the CPU per run)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

from sqlmodel import select
from streamlit.testing.v1 import AppTest

from oversight.access import auth, staff_sessions
from oversight.sandwiching import conditions
from oversight import models
from oversight.protocols import strategies
from oversight.db import session_scope
from oversight.models.config import ModelsConfig, ScriptedConfig
from oversight.protocols import live
from oversight.study.studies import create_study
from tests.sql_counter import Counter, count_sql
from storage.models import Assignment, Item, ItemGold, Transcript

REPO = Path(__file__).resolve().parents[1]
SOURCE = "The key was under the blue flowerpot by the door. Nobody had moved it for years."


def configure_models() -> None:
    models.configure(ModelsConfig(
        models={"s": ScriptedConfig(name="s", choice_probs=[0.7, 0.3],
                                    responses=["Look: <quote>under the blue flowerpot</quote>.",
                                               "It was <quote>in the mailbox</quote>, clearly."])},
        roles={r: "s" for r in ("debater", "consultant", "assistant", "judge", "questioner", "feedback")}))


def make_study(kind: str, items: int = 4) -> int:
    """An open study whose participants work one way: "direct" (no condition), "assisted" or "debate"."""
    study = create_study(name=f"Budget {kind}", user_id=None, status="open",
                         instructions="Answer carefully.")
    with session_scope() as s:
        for n in range(items):
            item = Item(study_id=study.id, external_id=f"{kind}-{n}", question=f"Where was key {n}?",
                        options=["Under the flowerpot", "In the mailbox"], source_text=SOURCE)
            s.add(item)
            s.flush()
            s.add(ItemGold(item_id=item.id, gold_index=0))
    if kind != "direct":
        rules = {"randomise_answer_order": False}
        if kind == "debate":
            rules |= {"rounds": 2}
        arm = strategies.create_strategy(study_id=study.id, name=kind, protocol="debate" if kind == "debate"
                                         else "assisted-qa", rules=rules)
        conditions.add_condition(study_id=study.id, kind="assisted", strategy_id=arm.id)
    return study.id


def app() -> AppTest:
    return AppTest.from_file(str(REPO / "app.py"), default_timeout=60)


def join(token: str) -> AppTest:
    at = app()
    at.query_params["t"] = token
    at = at.run()
    settle()
    return at


def settle() -> None:
    """Wait for the process's one-off start-up threads (model warm-up): compiling the page while they import
    trips a CPython 3.11 bug in `ast.parse` across threads, and their work is no page run's cost."""
    for thread in threading.enumerate():
        if thread.name == "model-warmup":
            thread.join(timeout=120)


def tick_consent(at: AppTest) -> AppTest:
    at.checkbox[0].check()
    return at.run()


def consent(at: AppTest) -> AppTest:
    next(b for b in at.button if b.label == "Continue").click()
    return at.run()


def answer(at: AppTest, button: str) -> AppTest:
    at.radio[0].set_value(0)
    at.slider[0].set_value(80)
    next(b for b in at.button if b.label == button).click()
    return at.run()


def click(at: AppTest, label: str) -> AppTest:
    next(b for b in at.button if b.label.startswith(label)).click()
    return at.run()


def transcript_of(user_id: int) -> int:
    with session_scope(write=False) as s:
        return s.exec(select(Transcript.id).join(Assignment, Assignment.id == Transcript.assignment_id)
                      .where(Assignment.participant_id == user_id, Assignment.state == "active")).first()


def wait_for_judge(transcript_id: int) -> None:
    deadline = time.monotonic() + 30
    while live.load_state(transcript_id).step.kind != "judge":
        assert time.monotonic() < deadline, "speeches were never generated"
        time.sleep(0.02)


def participant(study_id: int) -> tuple[int, str]:
    invite = auth.create_invites(study_id=study_id, count=1)[0]
    return invite.user_id, invite.link.rsplit("t=", 1)[1]


def participant_actions(counter: Counter, kind: str) -> Iterator[tuple[str, AppTest]]:
    """Take one participant of a new `kind` study through its actions; yields (action, page) after each, with
    `counter` holding that action's runs only."""
    study_id = make_study(kind)
    user_id, token = participant(study_id)
    counter.mark()
    at = join(token)
    yield "join", at
    counter.mark()
    at = tick_consent(at)
    yield "tick consent", at
    counter.mark()
    at = consent(at)
    yield "consent", at
    if kind == "direct":
        counter.mark()
        at = answer(at, "Submit answer")  # stores it; the rerun shows the next task
        yield "submit", at
        counter.mark()
        at = at.run()  # any widget change or refresh: the task again
        yield "rerun", at
        return
    if kind == "assisted":
        tid = transcript_of(user_id)
        counter.mark()
        at.chat_input[0].set_value("Where is the key?")
        at = at.run()
        yield "send message", at
        live_runner_done(tid)
        counter.mark()
        at = answer(at, "Submit final answer")
        yield "submit", at
        counter.mark()
        at = click(at, "Next task")
        yield "next", at
        return
    tid = transcript_of(user_id)
    wait_for_judge(tid)
    counter.mark()
    at = at.run()  # the page once the speeches are stored
    yield "rerun", at
    counter.mark()
    at = answer(at, "Continue to round 2")
    yield "debate round", at
    # The speeches of round 2 are written while the page polls.
    counter.mark()
    at = at.run()
    yield "poll", at
    wait_for_judge(tid)
    at = at.run()
    counter.mark()
    at.text_area[-1].input("Only A's quote checked out.")
    at = answer(at, "Submit final answer")
    yield "submit", at
    counter.mark()
    at = click(at, "Next task")
    yield "next", at


def live_runner_done(transcript_id: int) -> None:
    """Wait for the assistant's reply to be stored."""
    deadline = time.monotonic() + 30
    while live.load_state(transcript_id).step.kind == "speeches":
        assert time.monotonic() < deadline, "the reply was never generated"
        time.sleep(0.02)


# The participant actions of each kind of study, in the order participant_actions takes them.
ACTIONS = {"direct": ["join", "tick consent", "consent", "submit", "rerun"],
           "assisted": ["join", "tick consent", "consent", "send message", "submit", "next"],
           "debate": ["join", "tick consent", "consent", "rerun", "debate round", "poll", "submit", "next"]}

STAFF_PAGES = {"admin": ["views/studies.py", "views/results.py", "views/study_people.py"],
               "expert": ["views/reviews.py"]}


def staff_actions(counter: Counter, role: str, study_id: int, name: str = "") -> Iterator[tuple[str, AppTest]]:
    """A staff member signed in (a refreshed tab with the user in its session) opening each page of theirs."""
    user = auth.create_user(role=role, name=name or f"{role}-budget", password="a long enough password")
    at = app()
    at.session_state["user_id"] = user.id
    at.session_state["staff_session_id"], _ = staff_sessions.start(user_id=user.id)  # as views/sign_in.py does
    at.query_params["study"] = str(study_id)
    for page in STAFF_PAGES[role]:
        at.switch_page(page)
        counter.mark()
        at = at.run()
        yield f"{role} {Path(page).stem}", at


def measure() -> dict[str, Counter]:
    """Every budgeted action once, on the configured (fresh) database: {action: its runs}."""
    configure_models()
    found: dict[str, Counter] = {}
    with count_sql() as counter:
        for kind in ("direct", "assisted", "debate"):
            for action, at in participant_actions(counter, kind):
                assert not at.exception, (kind, action, at.exception)
                found[f"{kind}: {action}"] = counter.copy()
        study_id = make_study("direct")
        for role in ("admin", "expert"):
            for action, at in staff_actions(counter, role, study_id):
                assert not at.exception, (action, at.exception)
                found[action] = counter.copy()
    return found
