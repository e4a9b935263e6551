"""Issue 18, in Chromium: an admin edits the rubric through its form (no JSON) and accepts a participant's rules
proposal through a form of the version's rules (no `proposals accept --rules JSON`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ADMIN, cli, settled, type_into

pytestmark = pytest.mark.browser
SHOTS = Path("/tmp/shots/strategies")


def _study_with_a_rules_proposal(env: dict) -> tuple[int, int, int]:
    """A study, an assisted strategy (via the CLI) and one participant's open rules proposal about it."""
    from storage.db import session_scope
    from storage.models import Proposal, User

    study_id = int(cli(env, "study", "create", "--name", "Forms study").strip())
    strategy_id = int(cli(env, "strategy", "create", "--study", str(study_id), "--protocol", "assisted-qa",
                          "--name", "Helper").strip())
    with session_scope(env["OVERSIGHT_DATABASE_URL"]) as s:
        person = User(role="participant", name="p1", study_id=study_id)
        s.add(person)
        s.flush()
        p = Proposal(study_id=study_id, user_id=person.id, strategy_id=strategy_id, kind="rules",
                     text="Allow 20 messages", reason="10 ran out before I was sure")
        s.add(p)
        s.flush()
        return study_id, strategy_id, p.id


def _sign_in(page, url: str) -> None:
    page.context.clear_cookies()
    page.goto(url)
    page.get_by_label("Name", exact=True).fill(ADMIN[0])
    page.get_by_label("Password", exact=True).fill(ADMIN[1])
    page.get_by_role("button", name="Sign in").click()


def test_rubric_and_rules_proposal_through_forms(page, server):
    env, url = server["env"], server["url"]
    SHOTS.mkdir(parents=True, exist_ok=True)
    study_id, strategy_id, proposal_id = _study_with_a_rules_proposal(env)

    # The rubric: add an ordinal field through the form.
    _sign_in(page, f"{url}/reviews?study={study_id}")
    expect(page.get_by_role("heading", name="Review queue")).to_be_visible()
    page.get_by_role("tab", name="Rubric and settings").click()
    form = page.get_by_test_id("stForm").filter(has_text="Why the rubric changes")
    expect(form.get_by_text("New field")).to_be_visible()
    settled(page)
    type_into(form.get_by_label("Name (lower case, digits, _)").last, "effort")
    type_into(form.get_by_label("Question the expert answers").last, "How hard did the participant try?")
    type_into(form.get_by_label("Choices, one per line", exact=False).last, "low\nmedium\nhigh")
    type_into(form.get_by_label("Why the rubric changes"), "Effort explains wrong answers")
    page.screenshot(path=str(SHOTS / "rubric-form.png"), full_page=True)
    form.get_by_role("button", name="Save new version").click()
    expect(page.get_by_text("Rubric v2 saved")).to_be_visible()
    # Still on the rubric's tab: the message takes a fixed place, so the tabs keep the one chosen.
    expect(page.get_by_role("heading", name="Rubric v2")).to_be_visible()
    expect(page.get_by_label("Name (lower case, digits, _)").nth(-2)).to_have_value("effort")  # from v2 now

    from storage.db import session_scope
    from storage.models import Proposal, Rubric, Strategy

    with session_scope(env["OVERSIGHT_DATABASE_URL"], write=False) as s:
        v2 = s.query(Rubric).filter(Rubric.study_id == study_id, Rubric.version == 2).one()
    assert v2.fields[-1] == {"name": "effort", "label": "How hard did the participant try?", "kind": "choice",
                             "choices": ["low", "medium", "high"], "level": "nominal", "about_model": False}

    # The rules proposal: accepted with the rules edited in the form.
    page.goto(f"{url}/loops?study={study_id}")
    expect(page.get_by_text("Allow 20 messages")).to_be_visible()
    form = page.get_by_test_id("stForm").filter(has_text="Accept: edit the rules")
    box = form.get_by_label("Messages the participant may send")
    expect(box).to_have_value("10")
    settled(page)
    type_into(box, "20")
    page.screenshot(path=str(SHOTS / "rules-proposal-form.png"), full_page=True)
    form.get_by_role("button", name="Accept with these rules").click()
    expect(page.get_by_text("candidate version 2 (changed: Messages the participant may send)")).to_be_visible()
    page.screenshot(path=str(SHOTS / "rules-proposal-accepted.png"), full_page=True)
    with session_scope(env["OVERSIGHT_DATABASE_URL"], write=False) as s:
        p = s.get(Proposal, proposal_id)
        child = s.get(Strategy, p.child_strategy_id)
        assert (p.status, child.parent_id, child.rules["max_messages"]) == ("accepted", strategy_id, 20)

    # The new version, on the Strategies page: its rules by label, and what it changed.
    page.get_by_role("link", name="Strategies").click()
    expect(page.get_by_text("Rule: Messages the participant may send")).to_be_visible()
    page.screenshot(path=str(SHOTS / "strategy-version.png"), full_page=True)
