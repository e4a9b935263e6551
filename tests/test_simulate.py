"""Simulated participants and experts: the analysis recovers what was planted, through the real domain functions."""

from __future__ import annotations

import json
import os

import pytest
from sqlmodel import func, select

from oversight.sandwiching import conditions
from oversight.protocols import strategies
from oversight.db import session_scope
from oversight.sandwiching.simulate import SimulationError, planted_alpha
from oversight.study.studies import create_study, update_study
from storage.models import Assignment, ExpertReview, Item, ItemGold, QuestionnaireAnswer, Transcript, User
from tests.test_cli import _runner
from tests import factories

MODELS = ('[models.scripted]\nbackend = "scripted"\nresponses = ["The text says the first answer is right."]\n'
          '[roles]\ndebater = "scripted"\nconsultant = "scripted"\nassistant = "scripted"\njudge = "scripted"\n'
          'feedback = "scripted"\nquestioner = "scripted"\n')


def _four_condition_study(n_items: int = 24) -> int:
    """Alone, model alone, non-expert + assistant (assisted QA) and experts, on items with a source each."""
    study = create_study(name="Sandwich dry run", user_id=None, status="open")
    with session_scope() as s:
        for k in range(n_items):
            item = Item(study_id=study.id, external_id=f"q{k}", question=f"Question {k}: which is right?",
                        options=["the first", "the second", "the third"], source_title=f"Story {k}",
                        source_text=f"Story {k}. Of the three answers, the first is right, the text says.")
            s.add(item)
            s.flush()
            s.add(ItemGold(item_id=item.id, gold_index=k % 3))
    model = strategies.create_strategy(study_id=study.id, name="Model alone", protocol="model-alone")
    assisted = strategies.create_strategy(study_id=study.id, name="Assistant", protocol="assisted-qa",
                                          rules={"max_messages": 2})
    conditions.add_condition(study_id=study.id, kind="alone", name="Non-expert alone")
    conditions.add_condition(study_id=study.id, kind="model", name="Model alone", strategy_id=model.id)
    conditions.add_condition(study_id=study.id, kind="assisted", name="Non-expert + assistant",
                             strategy_id=assisted.id)
    conditions.add_condition(study_id=study.id, kind="expert", name="Experts")
    update_study(study_id=study.id, user_id=None, items_per_participant=6, review_share=0.5)
    return study.id


@pytest.fixture
def cli_env(db, tmp_path):
    models_file = tmp_path / "models.toml"
    models_file.write_text(MODELS)
    return _runner({**os.environ, "OVERSIGHT_MODELS_FILE": str(models_file)})


@pytest.mark.slow
def test_simulate_recovers_the_planted_accuracies_gap_and_agreement(cli_env):
    sid = _four_condition_study()
    out = cli_env("simulate", "--study", str(sid), "--participants", "60", "--alone", "0.5", "--assisted", "0.8",
                  "--expert", "0.9", "--experts", "6", "--seed", "8", "--json", "--quiet")
    data = json.loads(out.stdout)
    assert data["errors"] == [] and data["participants"] == 60
    assert data["dry_run_of"] == sid and data["study_id"] != sid  # the figures come from a dry-run copy
    copy = data["study_id"]
    by_kind = {}
    for c in data["conditions"]:
        assert set(c) >= {"name", "kind", "planted", "estimate", "ci_low", "ci_high", "n"}
        by_kind.setdefault(c["kind"], c)  # the first row of a kind: assisted pooled before its versions
    for kind, planted in (("alone", 0.5), ("assisted", 0.8), ("expert", 0.9)):
        row = by_kind[kind]
        assert row["planted"] == planted and row["ci_low"] <= planted <= row["ci_high"], row
    assert by_kind["alone"]["n"] == by_kind["assisted"]["n"] == 180  # 60 people × 6 items, half in each
    assert by_kind["model"]["planted"] is None and by_kind["model"]["n"] == 24  # the real (scripted) model ran
    gap = data["gap_closed"]
    assert gap["planted"] == pytest.approx((0.8 - 0.5) / (0.9 - 0.5))
    assert gap["ci_low"] <= gap["planted"] <= gap["ci_high"], gap
    alpha = data["agreement"]
    assert alpha["n"] > 50 and alpha["ci_low"] <= alpha["planted"] <= alpha["ci_high"], alpha
    with session_scope(write=False) as s:
        assert not s.exec(select(User).where(User.study_id == sid)).all()
        people = s.exec(select(User).where(User.study_id == copy)).all()
        assert sorted(u.role for u in people) == ["expert"] * 6 + ["participant"] * 60
        assert all(u.external_study_id == "simulated" for u in people)
        # The assisted tasks really ran: a chat with the assistant in every assisted transcript.
        chats = s.exec(select(func.count()).select_from(Transcript).where(
            Transcript.study_id == copy, Transcript.assignment_id.is_not(None))).one()
        assert chats == 180
        assert s.exec(select(func.count()).select_from(QuestionnaireAnswer)).one() == 120  # 2 conditions each
        reviews = s.exec(select(func.count()).select_from(ExpertReview)).one()
        finished = s.exec(select(func.count()).select_from(Assignment).where(
            Assignment.study_id == copy, Assignment.state == "done")).one()
    assert finished == 360 + 6 * 6 and reviews >= finished  # every answer reviewed once, a share twice
    report = json.loads(cli_env("report", "--study", str(copy), "--json").stdout)
    assert [c["estimate"] for c in report["sandwich"]["conditions"]] == [c["estimate"] for c in data["conditions"]]
    outcome = next(f for f in report["agreement"]["fields"] if f["name"] == "outcome")
    assert outcome["alpha"] == pytest.approx(alpha["estimate"]) and report["agreement"]["includes_simulated"]


def test_balance_holds_for_simulated_participants(db, tmp_path):
    from oversight import models
    from oversight.models.config import ModelsConfig, ScriptedConfig
    from oversight.sandwiching.simulate import Skill, simulate

    sid = _four_condition_study(12)
    models.configure(ModelsConfig(models={"s": ScriptedConfig(name="s", responses=["The first."])},
                                  roles={r: "s" for r in ("debater", "consultant", "assistant", "judge", "feedback",
                                                          "questioner")}))
    try:
        run = simulate(study_id=sid, participants=8, skill=Skill(), experts=0, seed=1)
    finally:
        models.configure(None)
    assert run.errors == [] and run.answers == 48
    check = conditions.balance_check(study_id=run.study_id)
    assert check.items == check.balanced == 12  # 8 people = 4 complete blocks of 2: every item 2 + 2


def test_simulate_refuses_a_study_without_people_conditions(study):
    with pytest.raises(SimulationError, match="no condition for non-experts"):
        from oversight.sandwiching.simulate import simulate

        simulate(study_id=study.id, participants=3)


def test_planted_alpha_matches_the_kappa_formula():
    assert planted_alpha(0.5, 1.0) == pytest.approx(1.0)
    assert planted_alpha(0.5, 0.5) == pytest.approx(0.0)
    assert planted_alpha(0.5, 0.9) == pytest.approx(0.64)  # (0.82 - 0.5) / 0.5


def _four_option_study(n_items: int = 16) -> int:
    """The new-user path: 4-option items, one practice and one catch item, alone / assisted / expert."""
    return factories.four_option_study(n_items, assisted_name="With the assistant", rules={"max_messages": 2},
                                       items_per_participant=8)


@pytest.mark.slow
def test_a_four_option_study_at_confidence_0_4_recovers_the_planted_figures(cli_env):
    from oversight.sandwiching.analysis import sandwich, to_json
    from storage.models import Judgment

    sid = _four_option_study()
    out = cli_env("simulate", "--study", str(sid), "--participants", "40", "--alone", "0.4", "--assisted", "0.7",
                  "--expert", "0.9", "--experts", "8", "--confidence", "0.4", "--seed", "2", "--json", "--quiet")
    data = json.loads(out.stdout)
    assert data["errors"] == [] and data["dry_run_of"] == sid
    copy = data["study_id"]
    by_kind = {c["kind"]: c for c in data["conditions"] if not c.get("strategy_id")}
    # Every answer puts 0.4 on its choice and 0.2 on the others: correct exactly when the choice is the gold one.
    for kind, planted in (("alone", 0.4), ("assisted", 0.7), ("expert", 0.9)):
        row = by_kind[kind]
        assert row["ci_low"] <= planted <= row["ci_high"], row
    assert by_kind["alone"]["n"] + by_kind["assisted"]["n"] == 40 * 8 and by_kind["expert"]["n"] == 8 * 8
    gap = data["gap_closed"]
    assert gap["planted"] == pytest.approx(0.6) and gap["ci_low"] <= 0.6 <= gap["ci_high"], gap
    # The printed figures are the sandwich analysis of the copy, not a computation of the simulator's own.
    figures = to_json(sandwich(study_id=copy))
    assert [(c["estimate"], c["ci_low"], c["ci_high"]) for c in figures["conditions"]] == \
        [(c["estimate"], c["ci_low"], c["ci_high"]) for c in data["conditions"]]
    assert (figures["gap_closed"]["ci_low"], figures["gap_closed"]["ci_high"]) == (gap["ci_low"], gap["ci_high"])
    with session_scope(write=False) as s:
        stated = s.exec(select(Judgment.probabilities).join(Item, Item.id == Judgment.item_id)
                        .where(Item.study_id == copy, Judgment.is_final, Judgment.judge_kind == "human")).all()
        real = s.exec(select(func.count()).select_from(Assignment).where(Assignment.study_id == sid)).one()
    assert len(stated) == 40 * 10 + 8 * (8 + 1) and all(sorted(p) == pytest.approx([0.2, 0.2, 0.2, 0.4]) for p in stated)  # experts: 8 real + 1 practice
    assert real == 0  # the real study was never dealt
    text = cli_env("simulate", "--study", str(sid), "--participants", "2", "--confidence", "0.4", "--quiet").stdout
    assert f"a copy of study #{sid}, which is untouched" in text and "gap closed" in text


def test_a_confidence_that_ties_the_options_is_refused(db):
    from oversight.sandwiching.simulate import Skill, simulate

    sid = _four_option_study(4)
    with pytest.raises(SimulationError, match="1/4"):
        simulate(study_id=sid, participants=2, skill=Skill(confidence=0.25))
