"""A participant's path: tasks dealt once, answers durable on submit, no gold in what they receive."""

from __future__ import annotations

import dataclasses

import pytest
from sqlmodel import select

from oversight.access import auth
from oversight.db import session_scope
from oversight.study.participation import ParticipationError, next_task, progress, record_consent, submit_answer
from oversight.vocab import CHOICE_CONFIDENCE
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
        submit_answer(user_id=participant, assignment_id=task.assignment_id, probabilities=[1, 2])
    done = progress(user_id=participant)
    assert done.done == done.total == 3 and done.completion_code


def test_bad_probabilities_are_refused_and_store_nothing(participant):
    task = next_task(user_id=participant)
    for bad in ([1], [0, 0], [-1, 2]):
        with pytest.raises(ParticipationError):
            submit_answer(user_id=participant, assignment_id=task.assignment_id, probabilities=bad)
    with session_scope(write=False) as s:
        assert s.exec(select(Judgment)).all() == []


def test_a_final_answer_must_choose_one_option_and_keeps_its_form(participant):
    """An untouched uniform form, or a tie at the top, chooses no option: refused with a reason, nothing stored.
    An answer that chooses one is stored with the form it came from."""
    task = next_task(user_id=participant)
    for tie in ([1, 1], [50, 50]):
        with pytest.raises(ParticipationError, match="choose one answer"):
            submit_answer(user_id=participant, assignment_id=task.assignment_id, probabilities=tie,
                          answer_form=CHOICE_CONFIDENCE)
    with pytest.raises(ParticipationError, match="unknown answer form"):
        submit_answer(user_id=participant, assignment_id=task.assignment_id, probabilities=[70, 30],
                      answer_form="sliders")
    with session_scope(write=False) as s:
        assert s.exec(select(Judgment)).all() == []
    submit_answer(user_id=participant, assignment_id=task.assignment_id, probabilities=[30, 70],
                  answer_form=CHOICE_CONFIDENCE)
    with session_scope(write=False) as s:
        [j] = s.exec(select(Judgment)).all()
    assert (j.answer_index, j.answer_form) == (1, CHOICE_CONFIDENCE)


def _dealt(user_id: int) -> list:
    from storage.models import Assignment

    with session_scope(write=False) as s:
        return list(s.exec(select(Assignment).where(Assignment.participant_id == user_id)
                           .order_by(Assignment.position)).all())


def test_conditions_are_dealt_balanced_where_every_protocol_can_run(study):
    """Two non-expert + model conditions: a debate (two options and a source) and assisted QA. Items a debate
    cannot run on (three options) stay out of the design, so that the balance holds exactly: across a block of
    two participants each dealt item is under each condition once."""
    from collections import Counter

    from oversight.sandwiching import conditions
    from oversight.protocols import strategies

    with session_scope() as s:
        for i in range(6):
            three = i % 2 == 0
            item = Item(study_id=study.id, external_id=f"q{i}", question=f"Q{i}?",
                        options=["a", "b", "c"] if three else ["a", "b"], source_text=f"passage {i}")
            s.add(item)
            s.flush()
            s.add(ItemGold(item_id=item.id, gold_index=0))
    debate = strategies.create_strategy(study_id=study.id, name="d", protocol="debate")
    chat = strategies.create_strategy(study_id=study.id, name="c", protocol="assisted-qa")
    d = conditions.add_condition(study_id=study.id, kind="assisted", strategy_id=debate.id)
    c = conditions.add_condition(study_id=study.id, kind="assisted", strategy_id=chat.id)
    dealt = []
    for user_id in [i.user_id for i in auth.create_invites(study_id=study.id, count=4)]:
        next_task(user_id=user_id)
        dealt += _dealt(user_id)
    assert len(dealt) == 12
    with session_scope(write=False) as s:
        assert all(len(s.get(Item, a.item_id).options) == 2 for a in dealt)
    counts = Counter((a.item_id, a.condition_id) for a in dealt)
    assert set(counts.values()) == {2} and len(counts) == 6
    assert all((a.condition_id, a.strategy_id, a.protocol) in ((d.id, debate.id, "debate"), (c.id, chat.id, "assisted-qa"))
               for a in dealt)
    assert conditions.balance(study_id=study.id) == {}  # balance counts answered tasks: none yet
    for a in dealt:
        submit_answer(user_id=a.participant_id, assignment_id=a.id, probabilities=[1, 0])
    assert conditions.balance(study_id=study.id) == {i: {d.id: 2, c.id: 2} for i, _ in counts}
    check = conditions.balance_check(study_id=study.id)
    assert (check.items, check.balanced, check.blocks, check.block_size, check.answered) == (3, 3, 2, 2, 12)


def test_practice_items_come_first_with_their_answer_after_submitting(items):
    from oversight.study.participation import practice_feedback
    from oversight.study.studies import update_study

    with session_scope() as s:  # three sources (a practice source is never dealt for real)
        for n, item in enumerate(s.exec(select(Item)).all()):
            item.source_text = f"passage {n}"
    update_study(study_id=items.id, user_id=None, practice_items=1)
    user = auth.create_invites(study_id=items.id, count=1)[0].user_id
    task = next_task(user_id=user)
    assert task.practice and task.total == 3
    with pytest.raises(ParticipationError, match="submit your answer first"):
        practice_feedback(user_id=user, assignment_id=task.assignment_id)
    submit_answer(user_id=user, assignment_id=task.assignment_id, probabilities=[1, 2])
    feedback = practice_feedback(user_id=user, assignment_id=task.assignment_id)
    assert feedback.answer == "no" and feedback.explanation == "because"
    real = next_task(user_id=user)
    assert not real.practice
    submit_answer(user_id=user, assignment_id=real.assignment_id, probabilities=[1, 2])
    with pytest.raises(ParticipationError, match="practice items only"):
        practice_feedback(user_id=user, assignment_id=real.assignment_id)
    other = auth.create_invites(study_id=items.id, count=1)[0].user_id
    with pytest.raises(ParticipationError, match="not yours"):
        practice_feedback(user_id=other, assignment_id=task.assignment_id)
    assert [a.practice for a in _dealt(user)] == [True, False, False]


def test_items_split_practice_are_the_practice_and_never_real(items):
    from oversight.study.studies import update_study

    with session_scope() as s:
        first = s.exec(select(Item).order_by(Item.id)).first()
        first.split = "practice"
        practice_id = first.id
    update_study(study_id=items.id, user_id=None, practice_items=1)
    for user in (i.user_id for i in auth.create_invites(study_id=items.id, count=3)):
        next_task(user_id=user)
        dealt = _dealt(user)
        assert (dealt[0].item_id, dealt[0].practice) == (practice_id, True)
        assert all(a.item_id != practice_id for a in dealt[1:])


def test_experts_are_dealt_the_expert_condition_only_and_no_practice(items):
    from oversight.sandwiching import conditions
    from oversight.study.studies import update_study

    alone = conditions.add_condition(study_id=items.id, kind="alone")
    expert_condition = conditions.add_condition(study_id=items.id, kind="expert")
    update_study(study_id=items.id, user_id=None, practice_items=1)
    expert = auth.create_user(role="expert", name="eve", password="long enough password")
    next_task(user_id=expert.id, study_id=items.id)
    dealt = _dealt(expert.id)
    assert len(dealt) == 3 and all(a.condition_id == expert_condition.id and not a.practice for a in dealt)
    person = auth.create_invites(study_id=items.id, count=1)[0].user_id
    next_task(user_id=person)
    assert {a.condition_id for a in _dealt(person)} == {alone.id}


def _next_task_in_two_tabs(user: int) -> list:
    """`next_task` for `user` from two threads at once (two browser tabs): both tasks; fails on any error."""
    import threading

    tasks, errors = [], []

    def tab():
        try:
            tasks.append(next_task(user_id=user))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=tab) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors and len(tasks) == 2
    return tasks


def test_two_tabs_dealing_at_once_store_one_set(items):
    """Both tabs compute the same deal (the index is the rank of the id); the unique participant+item
    constraint keeps one set, and the loser reads it."""
    user = auth.create_invites(study_id=items.id, count=1)[0].user_id
    tasks = _next_task_in_two_tabs(user)
    assert len(_dealt(user)) == 3 and tasks[0].assignment_id == tasks[1].assignment_id


def test_two_tabs_showing_a_task_at_once_store_one_start_time_and_one_transcript(items, monkeypatch):
    """Both tabs read the task as never shown, then both store its first showing: the second finds the first's
    start time and live transcript (the task rows are read again in the write), so both show the same."""
    import threading

    from oversight.protocols import strategies
    from oversight.sandwiching import conditions
    from oversight.study import participation
    from storage.models import Assignment, Transcript

    chat = strategies.create_strategy(study_id=items.id, name="c", protocol="assisted-qa")
    conditions.add_condition(study_id=items.id, kind="assisted", strategy_id=chat.id)
    user = auth.create_invites(study_id=items.id, count=1)[0].user_id
    participation._deal_once(user, None)
    both_read = threading.Barrier(2, timeout=30)
    show = participation._show

    def show_after_both_read(*args):
        both_read.wait()
        return show(*args)

    monkeypatch.setattr(participation, "_show", show_after_both_read)
    first, second = _next_task_in_two_tabs(user)
    assert first.transcript_id is not None and first == second
    with session_scope() as s:
        shown = s.get(Assignment, first.assignment_id)
        assert shown.state == "active" and shown.started_at.isoformat()[:19] == first.started_at_iso[:19]
        assert len(s.exec(select(Transcript).where(Transcript.assignment_id == shown.id)).all()) == 1
    assert next_task(user_id=user) == first  # a refresh afterwards: the same task, start time and transcript


def test_thompson_allocation_favours_the_version_with_more_expert_judged_successes(study):
    """Two versions of one assisted strategy, the child a candidate: the parent's reviewed outcomes are all
    incorrect, the child's all correct. With Thompson allocation most new participants get the child; the draw is
    in the audit log. With the default (balanced) allocation everyone gets the condition's current version."""
    from oversight.sandwiching import conditions
    from oversight.protocols import strategies
    from oversight.study.studies import update_study
    from storage.models import Assignment, Event, ExpertReview, VersionDecision

    with session_scope() as s:
        for i in range(2):
            item = Item(study_id=study.id, external_id=f"q{i}", question="Q?", options=["a", "b"],
                        source_text=f"text {i}")
            s.add(item)
            s.flush()
            s.add(ItemGold(item_id=item.id, gold_index=0))
    v1 = strategies.create_strategy(study_id=study.id, name="help", protocol="assisted-qa")
    v2 = strategies.new_version(parent_id=v1.id, reason="tips", rules={"max_messages": 3})
    cond = conditions.add_condition(study_id=study.id, kind="assisted", strategy_id=v1.id)
    expert = auth.create_user(role="expert", name="rex", password="long enough password")
    seed_people = [i.user_id for i in auth.create_invites(study_id=study.id, count=1)]
    next_task(user_id=seed_people[0])
    assert {a.strategy_id for a in _dealt(seed_people[0])} == {v1.id}  # balanced: the current version
    earlier = [i.user_id for i in auth.create_invites(study_id=study.id, count=16)]  # reviewed people
    with session_scope() as s:
        s.add(VersionDecision(study_id=study.id, strategy_id=v2.id, decision="candidate"))
        item_id = s.exec(select(Item.id)).first()
        for n, person in enumerate(earlier):
            sid, outcome = (v1.id, "incorrect") if n % 2 else (v2.id, "correct")
            a = Assignment(study_id=study.id, participant_id=person, item_id=item_id, strategy_id=sid,
                           condition_id=cond.id, state="done")
            s.add(a)
            s.flush()
            s.add(ExpertReview(study_id=study.id, expert_id=expert.id, assignment_id=a.id,
                               labels={"outcome": outcome}))
    balanced = auth.create_invites(study_id=study.id, count=1)[0].user_id
    next_task(user_id=balanced)  # a candidate exists, but the study still deals balanced
    assert {a.strategy_id for a in _dealt(balanced)} == {v1.id}
    update_study(study_id=study.id, user_id=None, allocation="thompson")
    chosen = []
    for user_id in [i.user_id for i in auth.create_invites(study_id=study.id, count=12)]:
        next_task(user_id=user_id)
        chosen.append({a.strategy_id for a in _dealt(user_id)})
    assert all(len(c) == 1 for c in chosen)
    assert sum(c == {v2.id} for c in chosen) >= 10
    with session_scope(write=False) as s:
        draws = s.exec(select(Event).where(Event.kind == "allocation.thompson")).all()
    assert len(draws) == 12 and all(str(v2.id) in e.detail["samples"] for e in draws)


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


def test_thompson_draws_follow_the_beta_posteriors():
    """Pure: with a seeded generator, a version with 9 of 10 successes beats one with 1 of 10 almost always, and
    two versions without data are picked about equally often."""
    import random

    from oversight.sandwiching.allocation import thompson_pick

    rng = random.Random(7)
    wins = sum(thompson_pick([1, 2], {1: (1, 9), 2: (9, 1)}, rng).chosen == 2 for _ in range(200))
    assert wins >= 195
    even = sum(thompson_pick([1, 2], {}, rng).chosen == 1 for _ in range(400))
    assert 150 < even < 250



def test_a_declared_practice_item_no_condition_can_run_never_turns_a_real_item_into_practice():
    """A study that declares practice items (split "practice") deals only those as practice: when its conditions
    can run none of them, nobody gets practice, rather than a real item set aside as practice (its answers would
    vanish from the results). Without declared practice items, whole sources are set aside as before."""
    from oversight.study.eligibility import DesignPool, practice_to_deal

    refused = DesignPool(real=[], practice=[], catch=[], practice_declared=1)
    assert practice_to_deal(2, refused) == 0 and practice_to_deal(2, refused, expert=True) == 0
    some = DesignPool(real=[], practice=[7], catch=[], practice_declared=2)
    assert practice_to_deal(2, some) == 1 and practice_to_deal(2, some, expert=True) == 1
    undeclared = DesignPool(real=[], practice=[], catch=[])
    assert practice_to_deal(2, undeclared) == 2 and practice_to_deal(2, undeclared, expert=True) == 0


def test_a_closed_study_deals_nobody_new(db):
    """Closing a study is enforced where people are dealt, not only on the page: a newcomer gets nothing."""
    from oversight.study.studies import create_study
    from storage.models import Study

    study = create_study(name="closing", user_id=None, status="open")
    with session_scope() as s:
        item = Item(study_id=study.id, external_id="q", question="?", options=["a", "b"])
        s.add(item)
        s.flush()
        s.add(ItemGold(item_id=item.id, gold_index=0))
        s.get(Study, study.id).status = "closed"
    person = auth.create_invites(study_id=study.id, count=1)[0].user_id
    with pytest.raises(ParticipationError, match="closed"):
        next_task(user_id=person)
