"""A small study for review tests: conditions, finished answers, experts (imported as a fixture)."""

from __future__ import annotations

import pytest

from oversight import auth
from oversight.db import session_scope
from storage.models import Assignment, Condition, Item, ItemGold, Judgment, Strategy

GOOD = {"outcome": "correct", "help_quality": 4}


@pytest.fixture
def world(study):
    """A study with two conditions, three participants' finished answers, a pending one, a practice one, and
    three experts (one of whom also answered an item) and an admin."""
    with session_scope() as s:
        strategy = Strategy(study_id=study.id, name="Helper", version=2, protocol="assisted-qa")
        s.add(strategy)
        s.flush()
        alone = Condition(study_id=study.id, name="Alone", kind="alone")
        assisted = Condition(study_id=study.id, name="With helper", kind="assisted", strategy_id=strategy.id)
        s.add_all([alone, assisted])
        items = [Item(study_id=study.id, external_id=f"q{k}", question=f"Question {k}?", options=["yes", "no"],
                      source_text="The sky is blue.") for k in range(6)]
        s.add_all(items)
        s.flush()
        s.add_all([ItemGold(item_id=i.id, gold_index=0, explanation="blue") for i in items])
        ids = dict(strategy=strategy.id, alone=alone.id, assisted=assisted.id, study=study.id)
    people = [u.user_id for u in auth.create_invites(study_id=study.id, count=3)]
    experts = [auth.create_user(role="expert", name=f"expert{k}", password="long enough").id for k in range(3)]
    admin = auth.create_user(role="admin", name="boss", password="long enough").id
    with session_scope() as s:
        rows = []
        plan = [(people[0], 0, "alone", "done", False), (people[1], 1, "assisted", "done", False),
                (people[2], 2, "assisted", "done", False), (experts[2], 3, "alone", "done", False),
                (people[0], 4, "alone", "active", False), (people[1], 5, "alone", "done", True)]
        for n, (who, item, cond, state, practice) in enumerate(plan):
            a = Assignment(study_id=study.id, participant_id=who, item_id=items[item].id, state=state,
                           practice=practice, condition_id=ids[cond], position=n,
                           strategy_id=ids["strategy"] if cond == "assisted" else None)
            s.add(a)
            s.flush()
            rows.append(a.id)
            if state == "done":
                s.add(Judgment(item_id=items[item].id, assignment_id=a.id, judge_id=who, probabilities=[0.8, 0.2],
                               answer_index=0, rationale="the text says blue", is_final=True))
    return dict(ids, people=people, experts=experts, admin=admin, a=rows)
