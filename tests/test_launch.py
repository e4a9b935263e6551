"""Launching a study: drafts deal nothing, the launch check refuses a design that deals nothing, staff previews are
in no figure and no payment, and the model-alone run answers exactly the items people are dealt, once per item
and version, with the assistant's inputs."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select

from oversight.access import auth
from oversight.sandwiching import conditions
from oversight import models
from oversight.study import participation, payments
from oversight.protocols import strategies
from oversight.cli import main
from oversight.db import session_scope
from oversight.results.judgment_records import load_judgments
from oversight.study.launch import LaunchRefused, check_study, create_preview, open_study
from oversight.models.config import ModelsConfig, ScriptedConfig
from oversight.protocols import batch, bots
from oversight.sandwiching.analysis import sandwich
from oversight.study.launch import set_study_status
from oversight.study.studies import create_study, get_study, participants, update_study
from storage.models import Assignment, Item, ItemGold, Judgment, Transcript, User

STORY = "The letter said the machine was red. Nobody had seen it since the winter."


def _items(study_id: int, n: int, *, options: int = 2, split: str | None = None, gold: bool = True,
           source: str | None = STORY, prefix: str = "q") -> list[int]:
    ids = []
    with session_scope() as s:
        for k in range(n):
            item = Item(study_id=study_id, external_id=f"{prefix}{k}", question=f"Question {k}?",
                        options=[f"option {j}" for j in range(options)], split=split, source_text=source)
            s.add(item)
            s.flush()
            if gold:
                s.add(ItemGold(item_id=item.id, gold_index=0))
            ids.append(item.id)
    return ids


@pytest.fixture
def scripted():
    """Every model role scripted (no download); the judge prefers the first option."""
    models.configure(ModelsConfig(models={"scripted": ScriptedConfig(name="scripted", choice_probs=[0.7, 0.3])},
                                  roles={r: "scripted" for r in ("debater", "consultant", "assistant", "judge",
                                                                 "questioner", "feedback")}))
    yield
    models.configure(None)


# --- drafts ------------------------------------------------------------------------------------------------------

def test_a_new_study_is_a_draft_that_deals_nothing_and_stores_nothing_until_it_opens(db):
    study = create_study(name="Draft", user_id=None)
    assert study.status == "draft"
    _items(study.id, 3)
    uid = auth.create_invites(study_id=study.id, count=1)[0].user_id
    with pytest.raises(participation.ParticipationError, match="not open yet"):
        participation.record_consent(user_id=uid)
    with pytest.raises(participation.ParticipationError, match="not open yet"):
        participation.next_task(user_id=uid)
    link = auth.open_enrolment(study_id=study.id)
    token = link.split("enrol=")[1].split("&")[0]
    with pytest.raises(auth.AuthError, match="not open yet"):
        auth.enrol(enrol_token=token, external_id="PROLIFIC1")
    with session_scope(write=False) as s:
        assert s.exec(select(Assignment)).all() == []
        assert s.get(User, uid).consented_at is None
        assert s.exec(select(User).where(User.external_id == "PROLIFIC1")).first() is None
    open_study(study_id=study.id, user_id=None)
    assert get_study(study.id).status == "open"
    participation.record_consent(user_id=uid)
    assert participation.next_task(user_id=uid) is not None
    assert auth.enrol(enrol_token=token, external_id="PROLIFIC1").study_id == study.id


def test_experts_answer_no_item_of_a_draft_study(db):
    study = create_study(name="Draft", user_id=None)
    _items(study.id, 2)
    expert = auth.create_user(role="expert", name="ex", password="a long enough password")
    with pytest.raises(participation.ParticipationError, match="not open yet"):
        participation.next_task(user_id=expert.id, study_id=study.id)


# --- the launch check --------------------------------------------------------------------------------------------

def test_the_check_lists_refusals_per_condition_and_refuses_a_debate_only_design_on_four_option_items(db):
    study = create_study(name="Four options", user_id=None)
    _items(study.id, 5, options=4)
    debate = strategies.create_strategy(study_id=study.id, name="debate", protocol="debate")
    conditions.add_condition(study_id=study.id, kind="assisted", strategy_id=debate.id)
    check = check_study(study_id=study.id)
    [dealt] = [c for c in check.conditions if c.dealt_to == "participants"]
    assert dealt.items == 0 and dealt.refused == {"needs items with exactly two answer options": 5}
    assert not check.ok and check.design_items == 0
    assert any("can deal no item" in p and "two" in p for p in check.problems)
    with pytest.raises(LaunchRefused, match="can deal no item"):
        open_study(study_id=study.id, user_id=None)
    with pytest.raises(LaunchRefused):
        set_study_status(study_id=study.id, status="open", user_id=None)
    assert get_study(study.id).status == "draft"


def test_the_check_counts_what_each_condition_deals_practice_catch_pay_and_items_per_participant(db):
    study = create_study(name="Mixed", user_id=None)
    _items(study.id, 4, options=2, prefix="two")
    _items(study.id, 2, options=4, prefix="four")
    _items(study.id, 1, split="practice", prefix="p")
    _items(study.id, 2, split="catch", prefix="c")
    _items(study.id, 1, split="catch", gold=False, prefix="nogold")
    debate = strategies.create_strategy(study_id=study.id, name="debate", protocol="debate")
    conditions.add_condition(study_id=study.id, kind="alone")
    conditions.add_condition(study_id=study.id, kind="assisted", strategy_id=debate.id)
    update_study(study_id=study.id, user_id=None, items_per_participant=10, practice_items=2, catch_items=1,
                 base_pay=2.5, bonus_rule="per_correct", bonus_amount=0.1)
    check = check_study(study_id=study.id)
    by_kind = {c.kind: c for c in check.conditions}
    assert by_kind["alone"].items == 6 and by_kind["alone"].refused == {}
    assert by_kind["assisted"].items == 4 and sum(by_kind["assisted"].refused.values()) == 2
    assert check.design_items == 4 and check.ok
    assert (check.practice_requested, check.practice_available) == (2, 1)
    assert (check.catch_requested, check.catch_available, check.catch_without_gold) == (1, 2, 1)
    assert "2.50" in check.pay and "per correct" in check.pay and "rubric" in check.rubric
    warnings = " ".join(check.warnings)
    assert "10 items per participant" in warnings and "only 1 practice item" in warnings
    assert "no gold answer" in warnings


def test_study_check_and_open_from_the_command_line(db, capsys):
    study = create_study(name="CLI", user_id=None)
    assert main(["study", "open", "--study", str(study.id)]) == 1
    assert "no items" in capsys.readouterr().err and get_study(study.id).status == "draft"
    _items(study.id, 2)
    assert main(["study", "check", "--study", str(study.id), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] and data["design_items"] == 2 and data["conditions"][0]["items"] == 2
    assert main(["study", "open", "--study", str(study.id)]) == 0
    assert get_study(study.id).status == "open"


# --- preview -----------------------------------------------------------------------------------------------------

def test_preview_answers_are_in_no_figure_and_no_payment(db):
    study = create_study(name="Previewed", user_id=None)
    _items(study.id, 2)
    update_study(study_id=study.id, user_id=None, base_pay=2.0, bonus_rule="per_correct", bonus_amount=0.5)
    conditions.add_condition(study_id=study.id, kind="alone")
    admin = auth.create_user(role="admin", name="boss", password="a long enough password")
    preview = create_preview(study_id=study.id, staff_id=admin.id)  # a draft: staff may preview it
    assert "?t=" in preview.link
    assert auth.participant_for_token(preview.link.split("?t=")[1]).id == preview.user_id
    participation.record_consent(user_id=preview.user_id)
    while (task := participation.next_task(user_id=preview.user_id)) is not None:
        participation.submit_answer(user_id=preview.user_id, assignment_id=task.assignment_id,
                                    probabilities=[0.9, 0.1])
    open_study(study_id=study.id, user_id=admin.id)
    person = auth.create_invites(study_id=study.id, count=1)[0].user_id
    participation.record_consent(user_id=person)
    while (task := participation.next_task(user_id=person)) is not None:
        participation.submit_answer(user_id=person, assignment_id=task.assignment_id, probabilities=[0.9, 0.1])
    with session_scope(write=False) as s:
        assert len(s.exec(select(Judgment).where(Judgment.judge_id == preview.user_id)).all()) == 2
    judges = {r.judge_id for r in load_judgments(study_id=study.id)}
    assert judges == {person}
    [alone] = [c for c in sandwich(study_id=study.id).conditions if c.kind == "alone"]
    assert alone.n == 2
    assert {o.user_id for o in payments.owed(study_id=study.id)} == {person}
    assert payments.held(study_id=study.id) == []
    batch_ = payments.export_payments(study_id=study.id)
    assert batch_.total == 3.0  # the real participant's base 2.00 and two bonuses of 0.50; nothing for the preview
    marks = {p["id"]: p["preview"] for p in participants(study_id=study.id)}
    assert marks == {preview.user_id: True, person: False}


def test_only_staff_preview(db):
    study = create_study(name="S", user_id=None)
    person = auth.create_invites(study_id=study.id, count=1)[0].user_id
    with pytest.raises(Exception, match="only admins and experts"):
        create_preview(study_id=study.id, staff_id=person)


# --- model alone -------------------------------------------------------------------------------------------------

def _sandwich_study(*, assistant_sees_source: bool = True, judge_model: str | None = None
                    ) -> tuple[int, int, list[int]]:
    study = create_study(name="Sandwich", user_id=None)
    real = _items(study.id, 3, prefix="real")
    _items(study.id, 1, split="practice", prefix="p")
    _items(study.id, 1, split="catch", prefix="c")
    _items(study.id, 1, options=1, prefix="one")  # no protocol runs on a one-option item: never dealt
    assisted = strategies.create_strategy(study_id=study.id, name="assisted", protocol="assisted-qa",
                                          rules={"assistant_sees_source": assistant_sees_source})
    alone = strategies.create_strategy(study_id=study.id, name="direct", protocol="direct-qa")
    model = strategies.create_strategy(study_id=study.id, name="model", protocol="model-alone",
                                       model_roles={"judge": judge_model} if judge_model else {})
    conditions.add_condition(study_id=study.id, kind="alone", strategy_id=alone.id)
    conditions.add_condition(study_id=study.id, kind="assisted", strategy_id=assisted.id)
    cond = conditions.add_condition(study_id=study.id, kind="model", strategy_id=model.id)
    update_study(study_id=study.id, user_id=None, practice_items=1, catch_items=1)
    return study.id, cond.id, real


def _run(condition_id: int) -> dict:
    from oversight.jobs import get_job, run_worker

    job = conditions.run_model_condition(condition_id=condition_id)
    assert run_worker(once=True) == 1
    row = get_job(job)
    assert row.state == "done", row.error
    return row.result


def _model_rows(study_id: int) -> list:
    return [r for r in load_judgments(study_id=study_id) if r.judge_kind == "ai"]


def test_model_alone_answers_only_the_items_people_are_dealt_and_a_rerun_replaces(db, scripted):
    study_id, cond, real = _sandwich_study()
    plan = conditions.model_alone_plan(condition_id=cond)
    assert plan.items == real and plan.sees_source
    assert _run(cond)["n"] == 3
    assert sorted(r.item_id for r in _model_rows(study_id)) == real
    assert _run(cond)["n"] == 3  # the re-run replaces: still one result per item
    assert sorted(r.item_id for r in _model_rows(study_id)) == real
    [model] = [c for c in sandwich(study_id=study_id).conditions if c.kind == "model"]
    assert (model.n, model.n_items) == (3, 3)
    with session_scope(write=False) as s:
        statuses = sorted(t.status for t in s.exec(select(Transcript).where(Transcript.study_id == study_id)))
        items = {t.item_id for t in s.exec(select(Transcript).where(Transcript.study_id == study_id))}
    assert statuses == ["complete"] * 3 + ["superseded"] * 3
    assert items == set(real)  # never the practice, catch or one-option item


def test_an_earlier_run_over_practice_items_never_counts(db, scripted):
    study_id, cond, real = _sandwich_study()
    with session_scope(write=False) as s:
        practice = s.exec(select(Item.id).where(Item.study_id == study_id, Item.split == "practice")).one()
    strategy_id = conditions.model_condition_strategy(condition_id=cond)[1]
    batch.run_batch(study_id=study_id, strategy_id=strategy_id)  # the old way: every gold item, practice included
    with session_scope(write=False) as s:
        judged = set(s.exec(select(Transcript.item_id).where(Transcript.study_id == study_id)).all())
    assert practice in judged  # it was judged, but a practice item's judgment is never a result
    assert practice not in {r.item_id for r in _model_rows(study_id)}
    _run(cond)
    assert sorted(r.item_id for r in _model_rows(study_id)) == real


def test_model_alone_reads_no_source_when_the_assistant_does_not(db, scripted, monkeypatch):
    seen = []
    original = bots.judge_probabilities

    def spy(model, **kwargs):
        seen.append(kwargs["source"])
        return original(model, **kwargs)

    monkeypatch.setattr(bots, "judge_probabilities", spy)
    study_id, cond, real = _sandwich_study(assistant_sees_source=False)
    plan = conditions.model_alone_plan(condition_id=cond)
    assert not plan.sees_source and any("without it too" in w for w in plan.warnings)
    _run(cond)
    assert seen == [None] * len(real)
    with session_scope(write=False) as s:
        tags = [t.tags for t in s.exec(select(Transcript).where(Transcript.study_id == study_id))]
    assert all(batch.SOURCE_HIDDEN in t for t in tags)
    seen.clear()
    study2, cond2, real2 = _sandwich_study(assistant_sees_source=True)
    _run(cond2)
    assert seen == [STORY] * len(real2)


def test_the_plan_names_the_model_and_warns_when_it_is_not_the_assisting_model(db, scripted):
    _, cond, _ = _sandwich_study()
    plan = conditions.model_alone_plan(condition_id=cond)
    assert plan.model == "scripted" and plan.assisting == ["scripted"] and plan.warnings == []
    _, other, _ = _sandwich_study(judge_model="extractive")
    plan = conditions.model_alone_plan(condition_id=other)
    assert plan.model == "extractive" and any("not the assisting model" in w for w in plan.warnings)


def test_the_demo_study_opens_through_the_check(db):
    from oversight.demo import seed_demo

    seed = seed_demo(admin_password="a long enough password", invites=1, simulated=0)
    assert get_study(seed.study_id).status == "open" and check_study(study_id=seed.study_id).ok
