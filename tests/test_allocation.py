"""Adaptive allocation: the probability each Thompson-dealt version had of being drawn is stored with the
assignment (for inverse-probability weights); balanced studies store none."""

from __future__ import annotations

import pytest
from sqlmodel import select

from oversight.access import auth
from oversight.sandwiching import conditions
from oversight.protocols import strategies
from oversight.sandwiching.allocation import draw_probabilities
from oversight.db import session_scope
from oversight.study.participation import next_task
from oversight.study.studies import update_study
from storage.models import Assignment, Event, ExpertReview, Item, ItemGold, VersionDecision


def test_draw_probabilities_are_the_chance_of_the_highest_beta_sample():
    """Beta(1, 1) against Beta(1, 1): even. Beta(2, 1) against Beta(1, 1): P(X > Y) = 2/3 exactly."""
    even = draw_probabilities([1, 2], {})
    assert even[1] == pytest.approx(0.5, abs=0.03) and even[1] + even[2] == pytest.approx(1)
    skewed = draw_probabilities([1, 2], {1: (1, 0)})
    assert skewed[1] == pytest.approx(2 / 3, abs=0.03)
    assert draw_probabilities([1, 2], {1: (1, 0)}) == skewed  # seeded: one posterior, one probability
    assert draw_probabilities([1, 2], {1: (500, 0), 2: (0, 500)})[2] == 1 / 4000  # never 0: its inverse is a weight


@pytest.fixture
def two_versions(study):
    """An assisted condition dealing v1 with candidate v2; v1's reviewed outcomes 2 correct, v2's 1 incorrect."""
    with session_scope() as s:
        for i in range(2):
            item = Item(study_id=study.id, external_id=f"q{i}", question="Q?", options=["a", "b"], source_text="t")
            s.add(item)
            s.flush()
            s.add(ItemGold(item_id=item.id, gold_index=0))
    v1 = strategies.create_strategy(study_id=study.id, name="help", protocol="assisted-qa")
    v2 = strategies.new_version(parent_id=v1.id, reason="tips", rules={"max_messages": 3})
    cond = conditions.add_condition(study_id=study.id, kind="assisted", strategy_id=v1.id)
    expert = auth.create_user(role="expert", name="rex", password="long enough password")
    reviewed = [i.user_id for i in auth.create_invites(study_id=study.id, count=3)]
    with session_scope() as s:
        s.add(VersionDecision(study_id=study.id, strategy_id=v2.id, decision="candidate"))
        item_id = s.exec(select(Item.id)).first()
        for person, (sid, outcome) in zip(reviewed, ((v1.id, "correct"), (v1.id, "correct"), (v2.id, "incorrect"))):
            a = Assignment(study_id=study.id, participant_id=person, item_id=item_id, strategy_id=sid,
                           condition_id=cond.id, state="done")
            s.add(a)
            s.flush()
            s.add(ExpertReview(study_id=study.id, expert_id=expert.id, assignment_id=a.id,
                               labels={"outcome": outcome}))
    return study, v1.id, v2.id


def _dealt(user_id: int) -> list[Assignment]:
    with session_scope(write=False) as s:
        return list(s.exec(select(Assignment).where(Assignment.participant_id == user_id)).all())


def test_thompson_assignments_store_the_chance_their_version_had(two_versions):
    study, v1, v2 = two_versions
    balanced = auth.create_invites(study_id=study.id, count=1)[0].user_id
    next_task(user_id=balanced)
    assert {a.allocation_probability for a in _dealt(balanced)} == {None}  # balanced: nothing new
    update_study(study_id=study.id, user_id=None, allocation="thompson")
    expected = draw_probabilities([v1, v2], {v1: (2, 0), v2: (0, 1)})
    for person in [i.user_id for i in auth.create_invites(study_id=study.id, count=4)]:
        next_task(user_id=person)
        dealt = _dealt(person)
        [version] = {a.strategy_id for a in dealt}
        assert {a.allocation_probability for a in dealt} == {expected[version]}
    with session_scope(write=False) as s:
        events = s.exec(select(Event).where(Event.kind == "allocation.thompson")).all()
    assert len(events) == 4 and all(e.detail["probability"] == round(expected[e.detail["chosen"]], 4)
                                    for e in events)


def test_a_single_candidate_is_dealt_with_certainty(study):
    with session_scope() as s:
        item = Item(study_id=study.id, external_id="q", question="Q?", options=["a", "b"], source_text="t")
        s.add(item)
        s.flush()
        s.add(ItemGold(item_id=item.id, gold_index=0))
    v1 = strategies.create_strategy(study_id=study.id, name="help", protocol="assisted-qa")
    conditions.add_condition(study_id=study.id, kind="assisted", strategy_id=v1.id)
    update_study(study_id=study.id, user_id=None, allocation="thompson")
    person = auth.create_invites(study_id=study.id, count=1)[0].user_id
    next_task(user_id=person)
    assert {(a.strategy_id, a.allocation_probability) for a in _dealt(person)} == {(v1.id, 1.0)}
