"""Expert review: rubric reviews of finished assignments, the queue, blind review, adjudication, final labels."""

from __future__ import annotations

import threading

import pytest
from sqlmodel import select

from oversight.access import auth
from oversight.db import session_scope
from oversight.sandwiching.reviews import (ALREADY_REVIEWED, ReviewError, adjudicate, adjudication_queue, final_labels,
                               review_context, review_queue, review_transcript, reviews_for, second_review_chosen,
                               set_review_settings, submit_review)
from storage.models import Assignment, Condition, ExpertReview, Transcript
from tests.factories import GOOD, world  # noqa: F401 (a fixture)



def test_a_review_is_stored_against_the_current_rubric(world):
    rid = submit_review(assignment_id=world["a"][0], expert_id=world["experts"][0],
                        labels={**GOOD, "misled": True}, notes=" fine ")
    with session_scope(write=False) as s:
        row = s.get(ExpertReview, rid)
    # Answered alone: the fields about the model are optional (given ones kept, flags left out stay out).
    assert row.labels == {"outcome": "correct", "help_quality": 4, "misled": True,
                          "persuaded_wrong_confident": False, "bias": False}
    assert (row.kind, row.notes, row.rubric_id is not None) == ("review", "fine", True)


@pytest.mark.parametrize("labels, message", [
    ({"help_quality": 4}, "choose one of correct"),
    ({**GOOD, "outcome": "maybe"}, "got 'maybe'"),
    ({**GOOD, "help_quality": 9}, "choose one of 1, 2, 3, 4, 5"),
    ({**GOOD, "misled": "yes"}, "yes or no"),
    ({**GOOD, "vibes": 1}, "unknown rubric field"),
])
def test_bad_labels_are_refused_and_nothing_is_stored(world, labels, message):
    with pytest.raises(ReviewError, match=message):
        submit_review(assignment_id=world["a"][0], expert_id=world["experts"][0], labels=labels)
    with session_scope(write=False) as s:
        assert s.exec(select(ExpertReview)).all() == []


def test_who_may_review_what(world):
    a = world["a"]
    with pytest.raises(ReviewError, match="only experts and admins"):
        submit_review(assignment_id=a[0], expert_id=world["people"][1], labels=GOOD)
    with pytest.raises(ReviewError, match="not finished"):
        submit_review(assignment_id=a[4], expert_id=world["experts"][0], labels=GOOD)
    with pytest.raises(ReviewError, match="practice"):
        submit_review(assignment_id=a[5], expert_id=world["experts"][0], labels=GOOD)
    with pytest.raises(ReviewError, match="answered this item yourself"):
        submit_review(assignment_id=a[3], expert_id=world["experts"][2], labels=GOOD)
    submit_review(assignment_id=a[3], expert_id=world["admin"], labels=GOOD)  # admins review too


def test_a_second_review_by_the_same_expert_is_refused(world):
    submit_review(assignment_id=world["a"][0], expert_id=world["experts"][0], labels=GOOD)
    with pytest.raises(ReviewError, match=r"already reviewed this \(in another tab\?\)"):
        submit_review(assignment_id=world["a"][0], expert_id=world["experts"][0], labels=GOOD)


def test_two_tabs_submitting_at_once_store_one_review(world):
    barrier, outcomes = threading.Barrier(2), []

    def submit():
        barrier.wait()
        try:
            outcomes.append(submit_review(assignment_id=world["a"][0], expert_id=world["experts"][0], labels=GOOD))
        except ReviewError as exc:
            outcomes.append(str(exc))

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes, key=str)[1] == ALREADY_REVIEWED
    with session_scope(write=False) as s:
        assert len(s.exec(select(ExpertReview)).all()) == 1


def test_the_database_refuses_a_duplicate_live_review(world):
    # The rule does not depend on the function's checks: the partial unique index holds it.
    from sqlalchemy.exc import IntegrityError

    submit_review(assignment_id=world["a"][0], expert_id=world["experts"][0], labels=GOOD)
    with pytest.raises(IntegrityError):
        with session_scope() as s:
            s.add(ExpertReview(study_id=world["study"], expert_id=world["experts"][0], assignment_id=world["a"][0]))


def test_queue_order_unreviewed_first_then_chosen_second_reviews(world):
    a, e0, e1 = world["a"], world["experts"][0], world["experts"][1]
    queue = [q.assignment_id for q in review_queue(study_id=world["study"], expert_id=e0)]
    assert queue == a[:4]  # finished, non-practice; the pending and the practice one are not there
    assert [q.assignment_id for q in review_queue(study_id=world["study"], expert_id=world["experts"][2])] == a[:3]
    submit_review(assignment_id=a[0], expert_id=e0, labels=GOOD)
    submit_review(assignment_id=a[1], expert_id=e0, labels=GOOD)
    # No share: a reviewed assignment leaves every queue.
    assert [q.assignment_id for q in review_queue(study_id=world["study"], expert_id=e1)] == [a[2], a[3]]
    set_review_settings(study_id=world["study"], user_id=world["admin"], review_share=1.0)
    queue = review_queue(study_id=world["study"], expert_id=e1)
    assert [(q.assignment_id, q.second) for q in queue] == [(a[2], False), (a[3], False), (a[0], True),
                                                           (a[1], True)]
    assert [q.assignment_id for q in review_queue(study_id=world["study"], expert_id=e0)] == [a[2], a[3]]
    submit_review(assignment_id=a[0], expert_id=e1, labels=GOOD)
    # Never a third plain review.
    assert a[0] not in [q.assignment_id for q in review_queue(study_id=world["study"], expert_id=world["admin"])]


def test_the_second_review_share_is_reproducible_and_about_right():
    chosen = [second_review_chosen(k, 0.25) for k in range(1, 2001)]
    assert chosen == [second_review_chosen(k, 0.25) for k in range(1, 2001)]
    assert 0.2 < sum(chosen) / len(chosen) < 0.3
    assert not any(second_review_chosen(k, 0.0) for k in range(1, 200))
    # A larger share keeps every assignment a smaller one chose.
    assert all(second_review_chosen(k, 0.5) for k in range(1, 2001) if chosen[k - 1])


def test_queue_filters_by_condition_and_strategy(world):
    e0 = world["experts"][0]
    by_condition = review_queue(study_id=world["study"], expert_id=e0, condition_id=world["assisted"])
    assert [q.assignment_id for q in by_condition] == world["a"][1:3]
    with pytest.raises(ReviewError, match="blind"):
        review_queue(study_id=world["study"], expert_id=e0, strategy_id=world["strategy"])
    set_review_settings(study_id=world["study"], user_id=None, blind_review=False)
    by_strategy = review_queue(study_id=world["study"], expert_id=e0, strategy_id=world["strategy"])
    assert [(q.assignment_id, q.strategy) for q in by_strategy] == [(world["a"][1], "Helper v2"),
                                                                    (world["a"][2], "Helper v2")]


def test_blind_review_spares_experts_the_version_and_the_participant(world):
    e0, aid = world["experts"][0], world["a"][1]
    blind = review_context(assignment_id=aid, expert_id=e0)
    assert (blind.blind, blind.strategy, blind.participant) == (True, None, None)
    assert (blind.question, blind.gold_index, blind.answer_index, blind.confidence, blind.rationale) == (
        "Question 1?", 0, 0, 0.8, "the text says blue")
    assert review_queue(study_id=world["study"], expert_id=e0)[1].strategy is None
    admin_view = review_context(assignment_id=aid, expert_id=world["admin"])
    assert admin_view.strategy == "Helper v2" and admin_view.participant is not None
    set_review_settings(study_id=world["study"], user_id=None, blind_review=False)
    open_view = review_context(assignment_id=aid, expert_id=e0)
    assert open_view.strategy == "Helper v2" and open_view.participant is not None


def test_the_review_context_includes_the_transcript(world):
    with session_scope() as s:
        t = Transcript(study_id=world["study"], item_id=s.get(Assignment, world["a"][1]).item_id,
                       assignment_id=world["a"][1], strategy_id=world["strategy"], protocol="assisted QA")
        s.add(t)
    ctx = review_context(assignment_id=world["a"][1], expert_id=world["experts"][0])
    assert ctx.transcript is not None and ctx.transcript.strategy is None  # blind


def test_adjudication(world):
    a, (e0, e1, e2) = world["a"], world["experts"]
    set_review_settings(study_id=world["study"], user_id=None, review_share=1.0)
    submit_review(assignment_id=a[0], expert_id=e0, labels={"outcome": "correct", "help_quality": 4})
    submit_review(assignment_id=a[0], expert_id=e1, labels={"outcome": "incorrect", "help_quality": 4})
    submit_review(assignment_id=a[1], expert_id=e0, labels=GOOD)
    submit_review(assignment_id=a[1], expert_id=e1, labels=GOOD)
    assert adjudication_queue(study_id=world["study"], expert_id=e0) == []  # a reviewer of it
    [entry] = adjudication_queue(study_id=world["study"], expert_id=e2)
    assert (entry.assignment_id, entry.disputed, len(entry.reviews)) == (a[0], ["outcome"], 2)
    assert [x.assignment_id for x in adjudication_queue(study_id=world["study"], expert_id=world["admin"])] == [a[0]]
    with pytest.raises(ReviewError, match="another expert"):
        adjudicate(assignment_id=a[0], expert_id=e1, labels={"outcome": "correct"})
    with pytest.raises(ReviewError, match="agree on help_quality"):
        adjudicate(assignment_id=a[0], expert_id=e2, labels={"outcome": "correct", "help_quality": 3})
    with pytest.raises(ReviewError, match="nothing to adjudicate"):
        adjudicate(assignment_id=a[1], expert_id=e2, labels={})
    labels = final_labels(study_id=world["study"])
    assert labels[a[0]]["outcome"].status == "open" and labels[a[0]]["help_quality"].status == "unanimous"
    adjudicate(assignment_id=a[0], expert_id=e2, labels={"outcome": "correct"}, notes="gold says so")
    with pytest.raises(ReviewError, match="already adjudicated"):
        adjudicate(assignment_id=a[0], expert_id=world["admin"], labels={"outcome": "incorrect"})
    assert adjudication_queue(study_id=world["study"], expert_id=e2) == []
    labels = final_labels(study_id=world["study"])
    assert (labels[a[0]]["outcome"].value, labels[a[0]]["outcome"].status) == ("correct", "adjudicated")
    assert labels[a[0]]["help_quality"].status == "unanimous"


def test_a_transcript_review_is_a_rubric_review_of_its_assignment(world):
    with session_scope() as s:
        item_id = s.get(Assignment, world["a"][1]).item_id
        live = Transcript(study_id=world["study"], item_id=item_id, assignment_id=world["a"][1], protocol="x")
        imported = Transcript(study_id=world["study"], item_id=item_id, source_setting="human debate", origin="imported")
        s.add_all([live, imported])
        s.flush()
        live_id, imported_id = live.id, imported.id
    review_transcript(transcript_id=live_id, expert_id=world["experts"][0], labels=GOOD, notes="ok")
    with pytest.raises(ReviewError, match="already reviewed"):
        submit_review(assignment_id=world["a"][1], expert_id=world["experts"][0], labels=GOOD)
    review_transcript(transcript_id=imported_id, expert_id=world["experts"][0], labels=GOOD)
    with pytest.raises(ReviewError, match="already reviewed"):
        review_transcript(transcript_id=imported_id, expert_id=world["experts"][0], labels=GOOD)
    [r] = reviews_for(transcript_id=live_id)
    assert (r.expert, r.labels["outcome"], r.rubric_version, r.notes) == ("expert0", "correct", 1, "ok")
    assert len(reviews_for(transcript_id=imported_id)) == 1


def test_review_settings_are_checked(world):
    with pytest.raises(ReviewError, match="0 to 1"):
        set_review_settings(study_id=world["study"], user_id=None, review_share=1.5)
    assert set_review_settings(study_id=world["study"], user_id=None, review_share=0.2) == ["review_share"]
    assert set_review_settings(study_id=world["study"], user_id=None, review_share=0.2) == []


def test_the_export_says_how_each_label_was_settled(world, tmp_path):
    import json

    from oversight.results.export import export_study

    a, (e0, e1, e2) = world["a"], world["experts"]
    set_review_settings(study_id=world["study"], user_id=None, review_share=1.0)
    submit_review(assignment_id=a[0], expert_id=e0, labels={"outcome": "correct", "help_quality": 4})
    submit_review(assignment_id=a[0], expert_id=e1, labels={"outcome": "incorrect", "help_quality": 4, "bias": True})
    with pytest.raises(ReviewError, match="disagree on: bias"):
        adjudicate(assignment_id=a[0], expert_id=e2, labels={"outcome": "incorrect"})
    adjudicate(assignment_id=a[0], expert_id=e2, labels={"outcome": "incorrect", "bias": False})
    submit_review(assignment_id=a[1], expert_id=e0, labels=GOOD)
    submit_review(assignment_id=a[2], expert_id=e0, labels=GOOD)
    submit_review(assignment_id=a[2], expert_id=e1, labels={**GOOD, "misled": True})
    manifest = export_study(study_id=world["study"], out_dir=tmp_path / "out")
    assert manifest["counts"]["reviews"] == 6 and manifest["counts"]["rubrics"] == 1
    rows = {r["assignment_id"]: r["labels"] for r in map(json.loads, (tmp_path / "out" / "final_labels.jsonl")
                                                          .read_text().splitlines())}
    assert rows[a[0]]["outcome"] == {"value": "incorrect", "status": "adjudicated"}
    assert rows[a[0]]["bias"] == {"value": False, "status": "adjudicated"}
    assert rows[a[0]]["help_quality"] == {"value": 4, "status": "unanimous"}
    assert rows[a[1]]["outcome"] == {"value": "correct", "status": "single"}
    assert rows[a[2]]["misled"] == {"value": None, "status": "open"}
    reviews = [json.loads(x) for x in (tmp_path / "out" / "reviews.jsonl").read_text().splitlines()]
    assert reviews[0]["final_status"]["outcome"] == "adjudicated" and reviews[0]["labels"]["outcome"] == "correct"


def test_two_reviews_at_once_store_one_on_each_database(any_db):
    """The race on both engines: the unique index decides, the loser gets the message."""
    from oversight.study.studies import create_study
    from storage.models import Item

    study = create_study(name="Race", user_id=None, status="open")
    person = auth.create_invites(study_id=study.id, count=1)[0].user_id
    expert = auth.create_user(role="expert", name="racer", password="long enough").id
    with session_scope() as s:
        item = Item(study_id=study.id, external_id="q", question="?", options=["a", "b"])
        s.add(item)
        s.flush()
        a = Assignment(study_id=study.id, participant_id=person, item_id=item.id, state="done")
        s.add(a)
        s.flush()
        aid = a.id
    barrier, outcomes = threading.Barrier(4), []

    def submit():
        barrier.wait()
        try:
            outcomes.append(submit_review(assignment_id=aid, expert_id=expert, labels=GOOD))
        except ReviewError as exc:
            outcomes.append(str(exc))

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(map(str, outcomes)).count(ALREADY_REVIEWED) == 3
    with session_scope(write=False) as s:
        assert len(s.exec(select(ExpertReview)).all()) == 1


def test_an_expert_answers_the_study_before_seeing_its_gold(world):
    """Experts dealt the expert condition see no gold (review, transcripts) until their own answers are in, and an
    expert who has reviewed a study (and so seen its gold) is not dealt its items to answer."""
    from oversight.study.participation import ParticipationError, next_task, submit_answer
    from oversight.sandwiching.reviews import choose_review_without_answering, gold_gate, gold_withheld

    with session_scope() as s:
        s.add(Condition(study_id=world["study"], name="Experts", kind="expert"))
    answering, reviewer = world["experts"][0], world["experts"][1]
    first = next_task(user_id=answering, study_id=world["study"])
    assert first is not None
    assert "items to answer" in gold_withheld(study_id=world["study"], user_id=answering)
    with pytest.raises(ReviewError, match="items to answer"):
        review_context(assignment_id=world["a"][0], expert_id=answering)
    # An expert not yet dealt the items is not shown the gold either (it would spoil their answers later), until
    # they choose to review without answering; from then on they are never dealt the study's items.
    gate = gold_gate(study_id=world["study"], user_id=reviewer)
    assert gate is not None and gate.can_choose and "review without answering" in gate.message
    with pytest.raises(ReviewError, match="review without answering"):
        review_context(assignment_id=world["a"][1], expert_id=reviewer)
    choose_review_without_answering(study_id=world["study"], user_id=reviewer)
    assert gold_withheld(study_id=world["study"], user_id=reviewer) is None
    with pytest.raises(ParticipationError, match="reviewed answers in this study"):
        next_task(user_id=reviewer, study_id=world["study"])
    with pytest.raises(ReviewError, match="items to answer"):  # the one answering cannot choose it
        choose_review_without_answering(study_id=world["study"], user_id=answering)
    assert gold_withheld(study_id=world["study"], user_id=world["admin"]) is None
    while (task := next_task(user_id=answering, study_id=world["study"])) is not None:
        submit_answer(user_id=answering, assignment_id=task.assignment_id, probabilities=[60, 40])
    assert gold_withheld(study_id=world["study"], user_id=answering) is None
    assert review_context(assignment_id=world["a"][0], expert_id=answering).gold_index == 0

    submit_review(assignment_id=world["a"][1], expert_id=reviewer, labels=GOOD)
    with pytest.raises(ParticipationError, match="reviewed answers in this study"):
        next_task(user_id=reviewer, study_id=world["study"])


def test_a_blind_study_shows_experts_neutral_condition_names_and_admins_the_real_ones(world):
    """A condition's name often says its strategy: in a blind study experts see "Condition A/B" in the queue, its
    filter and the review itself, the same on every call; admins, and experts of an open study, see the names."""
    from oversight.sandwiching.conditions import rename_condition
    from oversight.sandwiching.reviews import review_filters

    revealing = "Non-expert + model: Consultancy (offline models) v1"
    rename_condition(condition_id=world["assisted"], name=revealing)
    e0, study = world["experts"][0], world["study"]

    def seen(who: int) -> tuple[set, set, str]:
        queue = {q.condition for q in review_queue(study_id=study, expert_id=who)}
        filters = {name for _, name in review_filters(study_id=study, expert_id=who).conditions}
        return queue, filters, review_context(assignment_id=world["a"][1], expert_id=who).condition

    queue, filters, context = seen(e0)
    assert filters == {"Condition A", "Condition B"} and queue <= filters and context in filters
    assert not any("Consultancy" in name or name == "Alone" for name in queue | filters)
    assert seen(e0) == (queue, filters, context) == seen(world["experts"][1])  # stable, and the same for everyone
    by_filter = dict(review_filters(study_id=study, expert_id=e0).conditions)
    assert by_filter[world["assisted"]] == context  # the filter and the review name a condition alike
    assert seen(world["admin"]) == ({"Alone", revealing}, {"Alone", revealing}, revealing)
    set_review_settings(study_id=study, user_id=None, blind_review=False)
    assert seen(e0)[2] == revealing


def test_an_empty_queue_says_why(study):
    """Issue 18: an empty Review queue said "Nothing left for you to review" even when every participant was
    excluded. `empty_queue_reason` names the reason with counts."""
    from oversight.sandwiching.reviews import empty_queue_reason
    from oversight.study.attention import set_override
    from tests import factories

    sid = study.id
    eve, otto = factories.expert("eve"), factories.expert("otto")
    alone = factories.condition(sid, "Alone", "alone")
    items = factories.items(sid, 4)
    people = factories.participants(sid, 2)
    reason = empty_queue_reason(study_id=sid, expert_id=eve)
    assert reason.reason == "nothing_finished" and "no finished assignments" in reason.message

    # An expert still answering the study's items is answering first.
    factories.answered(sid, otto, items[3], condition_id=alone, answer=None, state="active")
    assert empty_queue_reason(study_id=sid, expert_id=otto).reason == "answering_first"

    a = [factories.answered(sid, p, items[k], condition_id=alone, answer=0) for k, p in enumerate(people)]
    for p in people:
        set_override(study_id=sid, participant_id=p, decision="exclude")
    assert review_queue(study_id=sid, expert_id=eve) == []
    reason = empty_queue_reason(study_id=sid, expert_id=eve)
    assert reason.reason == "all_left_out"
    assert "all 2 finished assignments" in reason.message and "2 people excluded" in reason.message
    assert "Monitor" in reason.message and "Participants" in reason.message
    other = factories.condition(sid, "Other", "alone", position=1)
    assert empty_queue_reason(study_id=sid, expert_id=eve, condition_id=other).reason == "no_match"

    # One person included again and reviewed by eve: done for her, with what is left said.
    set_override(study_id=sid, participant_id=people[0], decision="include")
    submit_review(assignment_id=a[0], expert_id=eve, labels=GOOD)
    reason = empty_queue_reason(study_id=sid, expert_id=eve)
    assert reason.reason == "done_for_you" and "you reviewed 1" in reason.message
    assert "1 more by people left out" in reason.message
