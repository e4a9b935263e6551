"""A participant's path: tasks dealt once, answers durable on submit, no gold in what they receive."""

from __future__ import annotations

import dataclasses

import pytest
from sqlmodel import select

from oversight import auth
from oversight.db import session_scope
from oversight.participation import ParticipationError, next_task, progress, record_consent, submit_answer
from storage.models import Item, ItemGold, Judgment


@pytest.fixture
def items(study):
    with session_scope() as s:
        for i in range(3):
            item = Item(study_id=study.id, external_id=f"q{i}", question=f"Question {i}?",
                        options=["yes", "no"], source_text="secret passage")
            s.add(item)
            s.flush()
            s.add(ItemGold(item_id=item.id, gold_index=1, explanation="because"))
    return study


@pytest.fixture
def participant(items):
    return auth.create_invites(study_id=items.id, count=1)[0].user_id


def test_the_same_task_comes_back_until_it_is_answered(participant):
    record_consent(user_id=participant)
    first = next_task(user_id=participant)
    assert next_task(user_id=participant) == first  # a refresh shows the same task
    submit_answer(user_id=participant, assignment_id=first.assignment_id, probabilities=[30, 70], rationale="hm")
    second = next_task(user_id=participant)
    assert second.assignment_id != first.assignment_id and second.position == 2


def test_a_submitted_answer_is_stored_normalised_and_final(participant):
    task = next_task(user_id=participant)
    submit_answer(user_id=participant, assignment_id=task.assignment_id, probabilities=[1, 3])
    with session_scope(write=False) as s:
        j = s.exec(select(Judgment)).one()
    assert j.probabilities == [0.25, 0.75] and j.answer_index == 1 and j.is_final and j.judge_id == participant
    with pytest.raises(ParticipationError, match="already submitted"):
        submit_answer(user_id=participant, assignment_id=task.assignment_id, probabilities=[1, 0])


def test_tasks_carry_no_gold_and_no_hidden_source(participant):
    task = next_task(user_id=participant)
    fields = {f.name for f in dataclasses.fields(task)}
    assert not fields & {"gold", "gold_index", "explanation", "source_text"}
    assert "secret passage" not in repr(task) and "because" not in repr(task)


def test_one_participant_cannot_answer_anothers_task(items):
    a, b = (i.user_id for i in auth.create_invites(study_id=items.id, count=2))
    task = next_task(user_id=a)
    with pytest.raises(ParticipationError, match="not yours"):
        submit_answer(user_id=b, assignment_id=task.assignment_id, probabilities=[1, 1])


def test_completion_code_only_when_everything_is_done(participant):
    while (task := next_task(user_id=participant)) is not None:
        assert progress(user_id=participant).completion_code is None
        submit_answer(user_id=participant, assignment_id=task.assignment_id, probabilities=[1, 1])
    done = progress(user_id=participant)
    assert done.done == done.total == 3 and done.completion_code


def test_bad_probabilities_are_refused_and_store_nothing(participant):
    task = next_task(user_id=participant)
    for bad in ([1], [0, 0], [-1, 2]):
        with pytest.raises(ParticipationError):
            submit_answer(user_id=participant, assignment_id=task.assignment_id, probabilities=bad)
    with session_scope(write=False) as s:
        assert s.exec(select(Judgment)).all() == []


def test_arms_are_dealt_only_where_their_protocol_can_run(study):
    """Two arms in rotation: a debate (two options and a source) and assisted QA with the source hidden from the
    assistant (any item). Items a debate cannot run on go to the other arm; every item gets an arm."""
    from oversight import strategies
    from storage.models import Assignment

    with session_scope() as s:
        for i in range(6):
            three = i % 2 == 0  # even items have three options: no debate there
            item = Item(study_id=study.id, external_id=f"q{i}", question=f"Q{i}?",
                        options=["a", "b", "c"] if three else ["a", "b"], source_text="passage")
            s.add(item)
            s.flush()
            s.add(ItemGold(item_id=item.id, gold_index=0))
    debate = strategies.create_strategy(study_id=study.id, name="d", protocol="debate")
    chat = strategies.create_strategy(study_id=study.id, name="c", protocol="assisted-qa")
    strategies.set_arms(study_id=study.id, strategy_ids=[debate.id, chat.id])
    dealt = []
    for user_id in [i.user_id for i in auth.create_invites(study_id=study.id, count=4)]:
        next_task(user_id=user_id)
        with session_scope(write=False) as s:
            dealt += [(a.item_id, a.strategy_id, a.arm, len(s.get(Item, a.item_id).options))
                      for a in s.exec(select(Assignment).where(Assignment.participant_id == user_id)).all()]
    assert len(dealt) == 24
    assert all(sid == chat.id and arm == "assisted-qa" for _, sid, arm, n in dealt if n == 3)
    two_option = [sid for _, sid, _, n in dealt if n == 2]
    assert {debate.id, chat.id} == set(two_option)  # both arms are dealt where both can run
    with pytest.raises(Exception, match="no human judge"):
        strategies.set_arms(study_id=study.id,
                            strategy_ids=[strategies.create_strategy(study_id=study.id, name="m",
                                                                     protocol="model-alone").id])


def test_experts_answer_a_study_as_a_condition_of_their_own(items):
    """An expert is dealt the study's tasks like a participant (their own order, no gold shown), per study; their
    answers are human judgments told apart by the judge's role; no completion code is handed out."""
    expert = auth.create_user(role="expert", name="erin", password="long enough password")
    with pytest.raises(ParticipationError, match="choose a study"):
        next_task(user_id=expert.id)
    task = next_task(user_id=expert.id, study_id=items.id)
    assert task.total == 3 and not hasattr(task, "gold_index")
    submit_answer(user_id=expert.id, assignment_id=task.assignment_id, probabilities=[0, 1])
    with pytest.raises(ParticipationError, match="not yours"):
        submit_answer(user_id=auth.create_invites(study_id=items.id, count=1)[0].user_id,
                      assignment_id=task.assignment_id, probabilities=[1, 0])
    with session_scope(write=False) as s:
        [j] = s.exec(select(Judgment)).all()
    assert j.judge_id == expert.id and j.judge_kind == "human" and j.is_final
    for _ in range(2):
        t = next_task(user_id=expert.id, study_id=items.id)
        submit_answer(user_id=expert.id, assignment_id=t.assignment_id, probabilities=[1, 0])
    done = progress(user_id=expert.id, study_id=items.id)
    assert (done.done, done.total, done.completion_code) == (3, 3, None)
    assert next_task(user_id=expert.id, study_id=items.id) is None
