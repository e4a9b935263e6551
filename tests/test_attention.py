"""Attention checks: catch items dealt among the real ones (unlabelled), flags from a wrong catch answer and a
too-fast answer, thresholds and the admin's override, and excluded participants left out of every result and paid
nothing until included."""

from __future__ import annotations

import csv
import json
from datetime import timedelta

import pytest
from sqlmodel import select

from oversight.study import attention, participation, payments
from oversight.access import auth
from oversight.db import session_scope
from oversight.results.export import export_study
from oversight.results.judgment_records import load_judgments
from oversight.results.report import study_report
from oversight.study.studies import StudyError, create_study, update_study
from storage.models import Assignment, Event, Item, ItemGold, User, utcnow
from tests.test_cli import cli_here  # noqa: F401 (a fixture)

REAL = 4


def _study(catch: int = 1, **settings) -> int:
    """Four real two-option items (gold: option 0) and two catch items (gold: option 1)."""
    sid = create_study(name="Attentive study", user_id=None, status="open").id
    with session_scope() as s:
        for k in range(REAL + 2):
            is_catch = k >= REAL
            item = Item(study_id=sid, external_id=f"q{k}", split="catch" if is_catch else None,
                        question=f"Choose 'B' to show you read this ({k})." if is_catch else f"Question {k}?",
                        options=["A", "B"])
            s.add(item)
            s.flush()
            s.add(ItemGold(item_id=item.id, gold_index=1 if is_catch else 0))
    update_study(study_id=sid, user_id=None, catch_items=catch, **settings)
    return sid


def _person(sid: int, prolific: str | None = None) -> int:
    uid = auth.create_invites(study_id=sid, count=1)[0].user_id
    with session_scope() as s:
        s.get(User, uid).external_id = prolific
    participation.record_consent(user_id=uid)
    return uid


def _is_catch(assignment_id: int) -> bool:
    with session_scope(write=False) as s:
        return s.get(Assignment, assignment_id).catch


def _answer_all(uid: int, *, catch_right: bool = True, slow: bool = True) -> list[participation.Task]:
    """Answer every task: real ones right, catch ones as told; a slow answer's task was shown two hours earlier."""
    tasks = []
    while (task := participation.next_task(user_id=uid)) is not None:
        tasks.append(task)
        if slow:
            with session_scope() as s:
                s.get(Assignment, task.assignment_id).started_at = utcnow() - timedelta(hours=2)
        right = catch_right if _is_catch(task.assignment_id) else True
        gold = 1 if _is_catch(task.assignment_id) else 0
        probs = [0.0, 0.0]
        probs[gold if right else 1 - gold] = 0.9
        probs[1 - gold if right else gold] = 0.1
        participation.submit_answer(user_id=uid, assignment_id=task.assignment_id, probabilities=probs)
    return tasks


def test_a_catch_item_is_dealt_among_the_real_ones_with_nothing_to_tell_it_apart(any_db):
    sid = _study(catch=1)
    uid = _person(sid)
    tasks = _answer_all(uid)
    assert len(tasks) == REAL + 1
    catch = [t for t in tasks if _is_catch(t.assignment_id)]
    assert len(catch) == 1 and catch[0] is not tasks[0] and catch[0] is not tasks[-1]
    with session_scope(write=False) as s:
        a = s.get(Assignment, catch[0].assignment_id)
        assert (a.condition_id, a.strategy_id, a.practice) == (None, None, False)
    # The task a participant receives carries the same fields, no practice mark, no transcript, no gold.
    assert {(t.practice, t.transcript_id, t.total, len(t.options)) for t in tasks} == {(False, None, REAL + 1, 2)}
    with pytest.raises(participation.ParticipationError, match="practice items only"):
        participation.practice_feedback(user_id=uid, assignment_id=catch[0].assignment_id)


def test_flags_thresholds_and_the_override(any_db):
    sid = _study(catch=1, min_seconds_per_item=3600, attention_warn=1, attention_exclude=2)
    careful, one_slip, careless = _person(sid), _person(sid), _person(sid)
    _answer_all(careful)
    _answer_all(one_slip, catch_right=False)  # one wrong catch answer
    _answer_all(careless, catch_right=False, slow=False)  # wrong, and every answer within the hour's minimum
    study, people = attention.attention(study_id=sid)
    by = {a.user_id: a for a in people}
    assert (by[careful].flags, by[careful].status) == (0, "ok")
    assert (by[one_slip].catch_wrong, by[one_slip].too_fast, by[one_slip].status) == (1, 0, "warn")
    assert (by[careless].catch_wrong, by[careless].too_fast) == (1, REAL + 1)
    assert by[careless].status == "excluded" and by[careless].catch_answered == 1
    # Thresholds apply at once: 0 means never.
    update_study(study_id=sid, user_id=None, attention_exclude=0)
    assert {a.user_id: a.status for a in attention.attention(study_id=sid)[1]}[careless] == "warn"
    update_study(study_id=sid, user_id=None, attention_exclude=2, attention_warn=0)
    assert {a.user_id: a.status for a in attention.attention(study_id=sid)[1]}[one_slip] == "ok"
    # The admin's override beats the thresholds and is audited.
    attention.set_override(study_id=sid, participant_id=careless, decision="include", user_id=None)
    attention.set_override(study_id=sid, participant_id=careful, decision="exclude", user_id=None)
    status = {a.user_id: a.status for a in attention.attention(study_id=sid)[1]}
    assert status[careless] == "ok" and status[careful] == "excluded"
    with session_scope(write=False) as s:
        events = s.exec(select(Event).where(Event.kind == "attention.override")).all()
    assert {(e.detail["participant"], e.detail["new"]) for e in events} == {(careless, "include"),
                                                                           (careful, "exclude")}
    with pytest.raises(attention.AttentionError, match="not in study"):
        attention.set_override(study_id=sid + 1, participant_id=careful, decision="include")


def test_excluded_participants_and_catch_answers_are_left_out_of_results_and_pay(any_db, tmp_path):
    sid = _study(catch=1, min_seconds_per_item=3600, attention_exclude=1)
    with session_scope() as s:
        from storage.models import Study

        row = s.get(Study, sid)
        row.base_pay, row.bonus_rule, row.bonus_amount = 2.0, "per_correct", 0.5
    good, bad = _person(sid, "PID_GOOD"), _person(sid, "PID_BAD")
    _answer_all(good)
    _answer_all(bad, catch_right=False)
    records = load_judgments(study_id=sid)
    assert {r.judge_id for r in records} == {good} and len(records) == REAL  # no catch answer, nobody excluded
    assert study_report(study_id=sid)["counts"]["judgments"] == REAL
    export_study(study_id=sid, out_dir=tmp_path / "out")
    with (tmp_path / "out" / "judgments.csv").open() as f:  # every row kept, marked
        statuses = [(int(r["judge_id"]), r["status"]) for r in csv.DictReader(f)]
    assert sum(1 for _, st in statuses if st == "result") == REAL
    assert {st for who, st in statuses if who == bad} == {"excluded", "catch"}  # a catch answer is catch first
    assert {st for who, st in statuses if who == good} == {"result", "catch"}
    owed = {o.user_id: o for o in payments.owed(study_id=sid)}
    assert set(owed) == {good} and (owed[good].base, owed[good].bonus) == (2.0, REAL * 0.5)  # no catch bonus
    assert [h["id"] for h in payments.held(study_id=sid)] == [bad]
    batch = payments.export_payments(study_id=sid)
    # The bonus alone: the base pay is paid by approving; the held participant is neither approved nor rejected.
    assert batch.prolific_lines == ["PID_GOOD,2.00"] and batch.approve == ["PID_GOOD"] and batch.reject == []
    # Included anyway: the answers count and the held pay is exported.
    attention.set_override(study_id=sid, participant_id=bad, decision="include")
    assert len(load_judgments(study_id=sid)) == 2 * REAL and payments.held(study_id=sid) == []
    released = payments.export_payments(study_id=sid)
    assert released.prolific_lines == ["PID_BAD,2.00"] and released.approve == ["PID_BAD"]


def test_settings_are_checked(db):
    sid = _study(catch=0)
    for bad in ({"catch_items": -1}, {"catch_items": 1.5}, {"min_seconds_per_item": -2},
                {"attention_exclude": True}):
        with pytest.raises(StudyError):
            update_study(study_id=sid, user_id=None, **bad)
    assert update_study(study_id=sid, user_id=None, min_seconds_per_item=5, attention_warn=2) == [
        "min_seconds_per_item", "attention_warn"]


def test_attention_commands(cli_here):
    sid = _study(catch=0)
    cli_here("study", "set", "--study", str(sid), "--catch-items", "1", "--min-seconds-per-item", "3600",
             "--attention-warn", "1", "--attention-exclude", "3")
    bad = cli_here("study", "set", "--study", str(sid), "--attention-warn", "-1", ok=False)
    assert bad.returncode == 1 and "warn threshold" in bad.stderr
    fast = _person(sid, "PID_FAST")
    _answer_all(fast, slow=False)
    listed = json.loads(cli_here("attention", "list", "--study", str(sid), "--json").stdout)
    assert (listed["catch_items"], listed["warn_at"], listed["exclude_at"]) == (1, 1, 3)
    [row] = listed["participants"]
    assert (row["participant_id"], row["too_fast"], row["catch_wrong"], row["status"]) == (fast, REAL + 1, 0,
                                                                                           "excluded")
    cli_here("attention", "set", "--study", str(sid), "--participant", str(fast), "--include")
    text = cli_here("attention", "list", "--study", str(sid)).stdout
    assert "override: include" in text and "exclude at 3 flag(s)" in text
    refused = cli_here("attention", "set", "--study", str(sid), "--participant", "999", "--exclude", ok=False)
    assert refused.returncode == 1 and "not in study" in refused.stderr


def test_a_catch_item_runs_like_the_studys_own_direct_qa_tasks_and_is_flagged_from_there(db):
    """Where the alone condition runs a direct-QA strategy (the page shows its live view), the catch item runs
    under it too, so its page looks the same; a wrong final answer there is a flag all the same."""
    from oversight.sandwiching import conditions
    from oversight.protocols import strategies
    from oversight.protocols import live

    sid = _study(catch=1, attention_exclude=1)
    direct = strategies.create_strategy(study_id=sid, name="Direct QA", protocol="direct-qa")
    conditions.add_condition(study_id=sid, kind="alone", strategy_id=direct.id)
    uid = _person(sid)
    seen = []
    while (task := participation.next_task(user_id=uid)) is not None:
        seen.append((_is_catch(task.assignment_id), task.transcript_id is not None))
        state = live.load_state(task.transcript_id)
        wrong = [0.9, 0.1] if _is_catch(task.assignment_id) else [0.1, 0.9]  # catch gold is B, real gold is A
        live.submit_report(transcript_id=task.transcript_id, round_=state.step.round,
                           display_probabilities=state.to_display_order(wrong), end=True, judge_id=uid)
    assert sorted(seen) == [(False, True)] * REAL + [(True, True)]
    with session_scope(write=False) as s:
        a = s.exec(select(Assignment).where(Assignment.catch == True)).one()  # noqa: E712
        assert (a.strategy_id, a.condition_id) == (direct.id, None)
    [person] = attention.attention(study_id=sid)[1]
    assert (person.catch_wrong, person.status) == (1, "excluded")
    assert load_judgments(study_id=sid) == []


def test_a_catch_item_never_shows_the_gold_even_where_the_strategy_gives_feedback(db):
    """The alone condition's direct-QA strategy shows the correct answer after each answer (its default); the catch
    item runs under that strategy, and its answer is still never shown, while the real items' answers are."""
    from oversight.sandwiching import conditions
    from oversight.protocols import strategies
    from oversight.protocols import live

    sid = _study(catch=1)
    direct = strategies.create_strategy(study_id=sid, name="Direct QA", protocol="direct-qa")
    conditions.add_condition(study_id=sid, kind="alone", strategy_id=direct.id)
    uid = _person(sid)
    shown = {}
    while (task := participation.next_task(user_id=uid)) is not None:
        state = live.load_state(task.transcript_id)
        assert state.rules.feedback_after_judging
        live.submit_report(transcript_id=task.transcript_id, round_=state.step.round,
                           display_probabilities=state.to_display_order([0.6, 0.4]), end=True, judge_id=uid)
        shown[_is_catch(task.assignment_id)] = live.judge_view(task.transcript_id).outcome
    assert shown[False] is not None  # a real item: the answer and score after judging
    assert shown[True] is None  # the catch item: nothing that says which answer was right
