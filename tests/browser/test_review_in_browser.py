"""An expert reviews one finished assignment in a real browser: the Review queue is their first page."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import cli

pytestmark = pytest.mark.browser
EXPERT = ("rita", "review-test-pass")


def _finished_assignment(env: dict) -> int:
    """A study with one participant's finished answer, stored straight into the server's database."""
    from storage.db import session_scope
    from storage.models import Assignment, Item, ItemGold, Judgment, User

    study_id = int(cli(env, "study", "create", "--name", "Review study").strip())
    with session_scope(env["OVERSIGHT_DATABASE_URL"]) as s:
        item = Item(study_id=study_id, external_id="q", question="Which colour was the door?",
                    options=["Red", "Blue"], source_text="The door was blue.")
        person = User(role="participant", name="p1", study_id=study_id)
        s.add_all([item, person])
        s.flush()
        s.add(ItemGold(item_id=item.id, gold_index=1))
        a = Assignment(study_id=study_id, participant_id=person.id, item_id=item.id, state="done")
        s.add(a)
        s.flush()
        s.add(Judgment(item_id=item.id, assignment_id=a.id, judge_id=person.id, probabilities=[0.9, 0.1],
                       answer_index=0, rationale="Red sounded right", is_final=True))
    return study_id


def test_an_expert_reviews_an_assignment(page, server):
    env = server["env"]
    cli(env, "create-user", "--role", "expert", "--name", EXPERT[0], stdin=EXPERT[1] + "\n")
    study_id = _finished_assignment(env)
    page.goto(f"{server['url']}/?study={study_id}")
    page.get_by_label("Name", exact=True).fill(EXPERT[0])
    page.get_by_label("Password", exact=True).fill(EXPERT[1])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Review queue")).to_be_visible()
    expect(page.get_by_text("Red sounded right")).to_be_visible()
    page.get_by_role("radio", name="incorrect").check(force=True)
    # Answered without a model: the rubric does not ask about the model's help.
    expect(page.get_by_text("Quality of the model's help")).to_have_count(0)
    page.get_by_text("The participant was persuaded of a wrong answer with high confidence").click()
    page.get_by_role("button", name="Submit review").click()
    expect(page.get_by_text("saved", exact=False)).to_be_visible()
    expect(page.get_by_text("Nothing left for you to review here")).to_be_visible()
    from storage.db import session_scope
    from storage.models import ExpertReview

    with session_scope(env["OVERSIGHT_DATABASE_URL"], write=False) as s:
        [review] = s.query(ExpertReview).filter(ExpertReview.study_id == study_id).all()
    assert review.labels == {"outcome": "incorrect", "persuaded_wrong_confident": True, "bias": False}
    queue = json.loads(cli(env, "reviews", "queue", "--study", str(study_id), "--expert", EXPERT[0], "--json"))
    assert queue == []
