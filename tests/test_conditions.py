"""Conditions: which strategy each kind accepts (by protocol properties), no removal while in use, the audit
log, and the model-alone run as a job."""

from __future__ import annotations

import pytest
from sqlmodel import select

from oversight.access import auth
from oversight.sandwiching import conditions
from oversight.protocols import strategies
from oversight.sandwiching.conditions import ConditionError
from oversight.db import session_scope
from oversight.study.participation import next_task
from oversight.study.studies import create_study
from storage.models import Event, Item, ItemGold


@pytest.fixture
def versions(study):
    return {p: strategies.create_strategy(study_id=study.id, name=p, protocol=p).id
            for p in ("assisted-qa", "debate", "consultancy", "direct-qa", "model-alone", "preference")}


@pytest.mark.parametrize("kind, protocol, ok", [
    ("assisted", "assisted-qa", True), ("assisted", "debate", True), ("assisted", "consultancy", True),
    ("assisted", "direct-qa", False), ("assisted", "model-alone", False),
    ("model", "model-alone", True), ("model", "debate", False), ("model", "direct-qa", False),
    ("alone", "direct-qa", True), ("alone", "debate", False), ("alone", "model-alone", False),
    ("expert", "direct-qa", True), ("expert", "assisted-qa", False),
])
def test_each_kind_takes_the_strategies_its_people_and_models_fit(study, versions, kind, protocol, ok):
    add = lambda: conditions.add_condition(study_id=study.id, kind=kind, strategy_id=versions[protocol])  # noqa: E731
    if ok:
        assert add().strategy_id == versions[protocol]
    else:
        with pytest.raises(ConditionError, match="cannot be"):
            add()
        assert conditions.list_conditions(study_id=study.id) == []


def test_bad_input_is_refused_with_a_message(study, versions):
    with pytest.raises(ConditionError, match="kind must be one of"):
        conditions.add_condition(study_id=study.id, kind="crowd")
    with pytest.raises(ConditionError, match="needs a strategy version"):
        conditions.add_condition(study_id=study.id, kind="assisted")
    other = strategies.create_strategy(study_id=create_study(name="other", user_id=None).id, name="x",
                                       protocol="debate")
    with pytest.raises(ConditionError, match="not in this study"):
        conditions.add_condition(study_id=study.id, kind="assisted", strategy_id=other.id)
    conditions.add_condition(study_id=study.id, kind="expert")
    with pytest.raises(ConditionError, match="expert condition already"):
        conditions.add_condition(study_id=study.id, kind="expert", name="Experts again")
    with pytest.raises(ConditionError, match="exists"):
        conditions.add_condition(study_id=study.id, kind="alone", name="Experts")


def test_a_condition_in_use_cannot_be_removed_and_every_change_is_logged(study, versions):
    with session_scope() as s:
        item = Item(study_id=study.id, external_id="q", question="Q?", options=["a", "b"])
        s.add(item)
        s.flush()
        s.add(ItemGold(item_id=item.id, gold_index=0))
    alone = conditions.add_condition(study_id=study.id, kind="alone", user_id=None)
    spare = conditions.add_condition(study_id=study.id, kind="model", strategy_id=versions["model-alone"])
    next_task(user_id=auth.create_invites(study_id=study.id, count=1)[0].user_id)
    with pytest.raises(ConditionError, match="cannot be removed"):
        conditions.remove_condition(condition_id=alone.id)
    conditions.rename_condition(condition_id=alone.id, name="Solo")
    conditions.repoint_condition(condition_id=alone.id, strategy_id=versions["direct-qa"])
    with pytest.raises(ConditionError, match="cannot be"):
        conditions.repoint_condition(condition_id=alone.id, strategy_id=versions["debate"])
    conditions.remove_condition(condition_id=spare.id)
    assert [c.name for c in conditions.list_conditions(study_id=study.id)] == ["Solo"]
    with session_scope(write=False) as s:
        kinds = [e.kind for e in s.exec(select(Event).where(Event.kind.like("condition.%")).order_by(Event.id))]
    assert kinds == ["condition.add", "condition.add", "condition.rename", "condition.repoint", "condition.remove"]
    [summary] = conditions.design_summary(study_id=study.id)
    assert (summary.assignments, summary.items) == (1, 1)


def test_running_the_model_alone_condition_is_a_batch_job_over_the_items(study, versions):
    from oversight.jobs import get_job, run_worker

    with session_scope() as s:
        item = Item(study_id=study.id, external_id="q", question="Q?", options=["a", "b"], source_text="a it is")
        s.add(item)
        s.flush()
        s.add(ItemGold(item_id=item.id, gold_index=0))
    model = conditions.add_condition(study_id=study.id, kind="model", strategy_id=versions["model-alone"])
    job_id = conditions.run_model_condition(condition_id=model.id)
    assert get_job(job_id).state == "queued" and run_worker(once=True) == 1
    job = get_job(job_id)
    assert job.state == "done" and job.result["n"] == 1 and job.params["condition_id"] == model.id
    with pytest.raises(ConditionError, match="not a model-alone"):
        conditions.run_model_condition(condition_id=conditions.add_condition(study_id=study.id, kind="alone").id)
