"""Dry runs never touch a real study: simulate copies the study's design into a dry-run study and runs there."""

from __future__ import annotations

import pytest
from sqlmodel import func, select

from oversight.sandwiching import conditions, rubrics
from oversight import models
from oversight.protocols import strategies
from oversight.db import session_scope
from oversight.study.dry_run import copy_for_dry_run
from oversight.models.config import ModelsConfig, ScriptedConfig
from oversight.sandwiching.simulate import Skill, simulate
from oversight.study.studies import get_study, list_studies, study_label, update_study
from storage.models import (Assignment, Condition, Event, Item, ItemGold, Judgment, Rubric, Strategy, Study, User,
                            VersionDecision)
from tests import factories


@pytest.fixture
def scripted_models():
    models.configure(ModelsConfig(models={"s": ScriptedConfig(name="s", responses=["The first."])},
                                  roles={r: "s" for r in ("debater", "consultant", "assistant", "judge", "feedback",
                                                          "questioner")}))
    yield
    models.configure(None)


def _study(n_items: int = 8) -> int:
    """4-option items (one practice, one catch), alone / assisted / expert, a refined strategy and a rubric."""
    sid = factories.four_option_study(n_items, name="Real study", kinds=())
    v1 = strategies.create_strategy(study_id=sid, name="Assistant", protocol="assisted-qa", rules={"max_messages": 2})
    v2 = strategies.new_version(parent_id=v1.id, reason="more messages", rules={"max_messages": 3})
    with session_scope() as s:
        s.add(VersionDecision(study_id=sid, strategy_id=v1.id, decision="candidate", rationale="try it"))
    conditions.add_condition(study_id=sid, kind="alone", name="Alone")
    conditions.add_condition(study_id=sid, kind="assisted", name="Assisted", strategy_id=v2.id)
    conditions.add_condition(study_id=sid, kind="expert", name="Experts")
    rubrics.new_rubric_version(study_id=sid, fields=rubrics.DEFAULT_FIELDS[:-1], reason="ours", user_id=None)
    update_study(study_id=sid, user_id=None, items_per_participant=4, design="between", base_pay=2.5,
                 review_share=0.5)
    return sid


def _snapshot(study_id: int) -> dict:
    with session_scope(write=False) as s:
        def count(table, *where) -> int:
            return s.exec(select(func.count()).select_from(table).where(*where)).one()

        return {
            "participants": count(User, User.study_id == study_id, User.role == "participant"),
            "users in study": count(User, User.study_id == study_id),
            "staff without a study": count(User, User.study_id.is_(None)),
            "assignments": count(Assignment, Assignment.study_id == study_id),
            "judgments": count(Judgment, Judgment.item_id.in_(select(Item.id).where(Item.study_id == study_id))),
            "items": sorted((i.external_id, i.question, i.split) for i in s.exec(
                select(Item).where(Item.study_id == study_id)).all()),
            "conditions": sorted((c.name, c.kind, c.strategy_id) for c in s.exec(
                select(Condition).where(Condition.study_id == study_id)).all()),
            "strategies": sorted((st.id, st.version, st.rules["max_messages"]) for st in s.exec(
                select(Strategy).where(Strategy.study_id == study_id)).all()),
            "study": s.get(Study, study_id).model_dump(),
        }


def test_the_copy_has_the_design_and_nothing_else(db):
    sid = _study()
    copy_id = copy_for_dry_run(study_id=sid)
    again = copy_for_dry_run(study_id=sid)
    with session_scope(write=False) as s:
        original, copy = s.get(Study, sid), s.get(Study, copy_id)
        assert copy.dry_run_of == sid and copy.status == "open" and copy.enrol_token_hash is None
        assert copy.name == "Dry run of Real study (1)" and s.get(Study, again).name == "Dry run of Real study (2)"
        for key in ("design", "items_per_participant", "practice_items", "catch_items", "base_pay", "review_share",
                    "allocation", "instructions", "consent_text"):
            assert getattr(copy, key) == getattr(original, key), key
        items = s.exec(select(Item, ItemGold).join(ItemGold, ItemGold.item_id == Item.id)
                       .where(Item.study_id == copy_id).order_by(Item.external_id)).all()
        assert len(items) == 10 and {i.split for i, _ in items} == {None, "practice", "catch"}
        assert all(g.gold_index == int(i.external_id[1:]) % 4 for i, g in items)
        versions = s.exec(select(Strategy).where(Strategy.study_id == copy_id).order_by(Strategy.version)).all()
        assert [v.version for v in versions] == [1, 2] and versions[1].parent_id == versions[0].id
        assert versions[1].rules["max_messages"] == 3
        assisted = s.exec(select(Condition).where(Condition.study_id == copy_id, Condition.kind == "assisted")).one()
        assert assisted.strategy_id == versions[1].id  # the copy's own version, not the original's
        assert [c.kind for c in s.exec(select(Condition).where(Condition.study_id == copy_id)
                                       .order_by(Condition.position)).all()] == ["alone", "assisted", "expert"]
        rubric = s.exec(select(Rubric).where(Rubric.study_id == copy_id).order_by(Rubric.version)).all()
        assert [(r.version, r.reason) for r in rubric] == [(1, "default rubric"), (2, "ours")]
        decision = s.exec(select(VersionDecision).where(VersionDecision.study_id == copy_id)).one()
        assert (decision.strategy_id, decision.decision) == (versions[0].id, "candidate")
        assert s.exec(select(Event).where(Event.kind == "study.dry_run", Event.study_id == copy_id)).one()


def test_a_dry_run_of_a_dry_run_points_at_the_real_study(db):
    sid = _study(4)
    first = copy_for_dry_run(study_id=sid)
    second = copy_for_dry_run(study_id=first)
    assert get_study(second).dry_run_of == sid and get_study(second).name == "Dry run of Real study (2)"


def test_simulate_leaves_the_real_study_untouched_and_the_copy_has_the_figures(db, scripted_models):
    from oversight.sandwiching.analysis import sandwich

    sid = _study()
    before = _snapshot(sid)
    run = simulate(study_id=sid, participants=6, skill=Skill(confidence=0.4), experts=2, seed=3)
    assert _snapshot(sid) == before
    assert run.source_study_id == sid and run.study_id != sid and get_study(run.study_id).dry_run_of == sid
    # participants: real + practice + catch; experts: real + practice (as practice, with feedback)
    assert run.errors == [] and run.answers == 6 * (4 + 1 + 1) + 2 * (4 + 1)
    with session_scope(write=False) as s:
        people = s.exec(select(User).where(User.study_id == run.study_id)).all()
    assert sorted(u.role for u in people) == ["expert"] * 2 + ["participant"] * 6
    assert all(u.external_study_id == "simulated" for u in people)  # experts too, scoped to the copy
    figures = sandwich(study_id=run.study_id)
    counted = {c.kind: c.n for c in figures.conditions}
    assert counted["alone"] + counted["assisted"] == 6 * 4 and counted["expert"] == 2 * 4
    assert sandwich(study_id=sid).empty


def test_dry_runs_are_marked_where_studies_are_listed(db):
    sid = _study(4)
    copy_id = copy_for_dry_run(study_id=sid)
    labels = {s.id: study_label(s) for s in list_studies()}
    assert labels[sid] == "Real study"
    assert labels[copy_id] == f"Dry run of Real study (1) [dry run of #{sid}]"
