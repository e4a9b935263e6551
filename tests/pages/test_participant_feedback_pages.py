"""Issue 18, the participant's slice: feedback people understand ("Correct — you were 80% sure", the score only where
the study shows it, its rule explained), the per-study setting for it, the Monitor showing an admin's attention
decision, the attention buttons beside their picker, and imported typography shown as people read it."""

from __future__ import annotations

import math

import pytest
from sqlmodel import select

from oversight.access import auth
from oversight.db import session_scope
from oversight.study.attention import attention, set_override
from oversight.study.participation import record_consent
from oversight.study.studies import create_study, get_study, update_study
from storage.models import Event, Item, ItemGold, User
from tests.pages.apptest import run_page
from tests.test_attention import _answer_all, _person, _study

BOOLQ = "``Persuasion'' -- a novel by Jane Austen -- was published in 1817--1818."


@pytest.fixture
def practice_study(db):
    """A study with one practice item (gold: option 0, a BoolQ-style passage) and one real item."""
    sid = create_study(name="Feedback study", user_id=None, status="open").id
    with session_scope() as s:
        for k, (question, split) in enumerate(((f"Is it true? {BOOLQ}", "practice"), ("A real one?", None))):
            item = Item(study_id=sid, external_id=f"q{k}", question=question, options=["yes", "no"], split=split)
            s.add(item)
            s.flush()
            s.add(ItemGold(item_id=item.id, gold_index=0))
    update_study(study_id=sid, user_id=None, practice_items=1)
    uid = auth.create_invites(study_id=sid, count=1)[0].user_id
    record_consent(user_id=uid)
    return sid, uid


def _answer_practice(uid: int, *, option: int, sure: int):
    at = run_page("participant", uid)
    assert not at.exception and any("practice question" in c.value for c in at.caption)
    at.radio[0].set_value(option)
    at.slider[0].set_value(sure)
    next(b for b in at.button if b.label == "Submit answer").click()
    return at.run()


def test_a_practice_answer_says_correct_and_how_sure_not_a_bare_log_score(practice_study):
    sid, uid = practice_study
    at = _answer_practice(uid, option=0, sure=80)
    assert not at.exception
    assert [s.value for s in at.success] == ["Correct — you were 80% sure."]
    shown = " ".join(t.value for t in at.text) + " ".join(c.value for c in at.caption)
    assert "score" not in shown.lower()  # the default shows no score at all
    assert "Practice: the answer was yes" in [t.value for t in at.text]


def test_a_wrong_practice_answer_says_so_with_how_sure(practice_study):
    sid, uid = practice_study
    at = _answer_practice(uid, option=1, sure=70)
    assert [w.value for w in at.warning] == ["Not correct — you were 70% sure."]


def test_a_study_that_shows_scores_explains_the_rule_once(practice_study):
    sid, uid = practice_study
    update_study(study_id=sid, user_id=None, feedback="score")
    at = _answer_practice(uid, option=0, sure=80)
    assert [s.value for s in at.success] == ["Correct — you were 80% sure."]
    # The score is scoring.judge_score's log rule (the one the score bonus uses): log2(0.8) = -0.32.
    assert f"Your score: {math.log2(0.8):+.2f}" == "Your score: -0.32"
    assert "Your score: -0.32" in [t.value for t in at.text]
    assert any("How the score works" in c.value and "80% on the right answer scores -0.32" in c.value
               for c in at.caption)


def test_a_study_that_shows_correctness_only_says_just_that(practice_study):
    sid, uid = practice_study
    update_study(study_id=sid, user_id=None, feedback="correctness")
    at = _answer_practice(uid, option=0, sure=80)
    assert [s.value for s in at.success] == ["Correct."]
    assert not any("sure" in t.value or "score" in t.value.lower() for t in at.text)


def test_the_feedback_setting_is_chosen_on_study_settings_and_audited(practice_study):
    sid, _ = practice_study
    admin = auth.create_user(role="admin", name="ada", password="long enough").id
    at = run_page("study_settings", admin, study=str(sid))
    assert not at.exception
    radio = next(r for r in at.radio if r.label == "Participants see")
    assert radio.value == "confidence"
    radio.set_value("score")
    next(b for b in at.button if b.label == "Save feedback setting").click()
    at.run()
    assert not at.exception and get_study(sid).feedback == "score"
    with session_scope(write=False) as s:
        [event] = [e for e in s.exec(select(Event).where(Event.kind == "study.setting")).all()
                   if e.detail["field"] == "feedback"]
    assert (event.detail["field"], event.detail["old"], event.detail["new"], event.user_id) == (
        "feedback", "confidence", "score", admin)


def test_the_monitor_shows_who_included_a_flagged_participant_with_the_flags(db):
    sid = _study(catch=1, attention_warn=1, attention_exclude=0)
    slip, other = _person(sid, "PID_SLIP"), _person(sid, "PID_OTHER")
    _answer_all(slip, catch_right=False)
    _answer_all(other, catch_right=False)
    admin = auth.create_user(role="admin", name="ada", password="long enough").id
    set_override(study_id=sid, participant_id=slip, decision="include", user_id=admin)
    set_override(study_id=sid, participant_id=other, decision="exclude", user_id=admin)
    monitor = run_page("monitor", admin, study=str(sid))
    assert not monitor.exception
    rows = {r["Prolific ID"]: r for r in monitor.dataframe[0].value.to_dict("records")}
    assert (rows["PID_SLIP"]["attention"], rows["PID_SLIP"]["flags"]) == ("included by ada", 1)
    assert (rows["PID_OTHER"]["attention"], rows["PID_OTHER"]["flags"]) == ("excluded by ada", 1)
    assert any("0 warned, 1 excluded (2 by an admin's decision)" in c.value for c in monitor.caption)


def _parent_of(at, element) -> object:
    """The block that directly holds `element` in the AppTest tree."""
    def walk(node):
        for child in getattr(node, "children", {}).values():
            if child is element:
                return node
            if (found := walk(child)) is not None:
                return found
        return None
    return walk(at._tree)


def test_the_attention_buttons_sit_with_their_picker_and_name_the_participant(db):
    sid = _study(catch=1, attention_warn=1, attention_exclude=0)
    first, flagged = _person(sid, "PID_FINE"), _person(sid, "PID_FLAGGED")
    _answer_all(first)
    _answer_all(flagged, catch_right=False)
    admin = auth.create_user(role="admin", name="ada", password="long enough").id
    at = run_page("study_people", admin, study=str(sid))
    assert not at.exception
    picker = next(s for s in at.selectbox if s.label == "Decide for")
    with session_scope(write=False) as s:
        name = s.get(User, flagged).name
    assert picker.value == flagged  # the one waiting for a decision comes first
    exclude = next(b for b in at.button if b.label.startswith("Exclude "))
    assert exclude.label.replace("\\", "") == f"Exclude {name} PID_FLAGGED"
    # The picker and the buttons are in one bordered box (the buttons in its columns).
    box = _parent_of(at, picker)
    assert box is not None and box.proto.flex_container.border
    inside = []
    stack = [box]
    while stack:
        node = stack.pop()
        inside.append(node)
        stack.extend(getattr(node, "children", {}).values())
    assert any(node is exclude for node in inside)
    # Choosing someone else relabels the buttons; the decision lands on the one named.
    picker.set_value(first)
    at.run()
    include = next(b for b in at.button if b.label.startswith("Include "))
    assert include.label.replace("\\", "").endswith("PID_FINE anyway")
    include.click()
    at.run()
    assert not at.exception
    assert {a.user_id: a.override for a in attention(study_id=sid)[1]} == {first: "include", flagged: None}
    assert any("PID_FINE: included anyway." in s.value.replace("\\", "") for s in at.success)


def test_imported_latex_quotes_and_dashes_are_shown_as_typography_and_stored_as_imported(practice_study):
    sid, uid = practice_study
    at = run_page("participant", uid)
    shown = " ".join(t.value for t in at.text)
    assert "“Persuasion” – a novel by Jane Austen – was published in 1817–1818." in shown
    assert "``" not in shown and "''" not in shown
    admin = auth.create_user(role="admin", name="ada", password="long enough").id
    items = run_page("study_items", admin, study=str(sid))
    questions = list(items.dataframe[0].value["question"])
    assert any("“Persuasion” – a novel" in q for q in questions) and not any("``" in q for q in questions)
    with session_scope(write=False) as s:  # display only: the stored text is as imported
        assert s.exec(select(Item.question).where(Item.split == "practice")).one().endswith(BOOLQ)
