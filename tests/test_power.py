"""Power before paying: simulated studies over the study's own design, through the interval engine."""

from __future__ import annotations

import json
import math

import pytest
from sqlmodel import func, select

from oversight.db import session_scope
from oversight.sandwiching.dealing import group_items
from oversight.study.power import (Planted, PowerError, StudyDesign, intercept_for, plan, population_accuracy,
                             simulate_power, study_design, _deal_people)
from storage.models import Assignment, Event, Item, Judgment, Study, User

from tests.test_cli import _runner
from tests import factories


def _design(**changes) -> StudyDesign:
    """24 items of their own source, 8 per participant, alone and assisted within subject, the gold for experts."""
    base = dict(groups=group_items([(i, None) for i in range(24)]), conditions=["a", "b"],
                kinds={"a": "alone", "b": "assisted"}, items_per_participant=8, seed=5)
    return StudyDesign(**{**base, **changes})


def test_planted_accuracies_are_population_accuracies():
    for accuracy, sd in ((0.7, 0.0), (0.7, 1.2), (0.55, 2.0), (0.95, 0.5)):
        assert population_accuracy(intercept_for(accuracy, sd), sd) == pytest.approx(accuracy, abs=1e-9)
    assert intercept_for(0.7, 0.0) == pytest.approx(math.log(0.7 / 0.3))
    # A spread of skill pulls the population accuracy towards 1/2: the median person must be better than 0.7.
    assert intercept_for(0.7, 1.2) > intercept_for(0.7, 0.0)
    assert intercept_for(1.0, 1.0) == math.inf and population_accuracy(math.inf, 1.0) == 1.0


def test_people_are_dealt_by_the_study_design():
    within = _deal_people(_design(), 4, {}, experts=False)
    between = _deal_people(_design(design="between"), 4, {}, experts=False)
    for dealt in (within, between):
        assert list(dealt.ends) == [0, 8, 16, 24, 32]  # 8 real items each
    kinds = lambda dealt, p: set(dealt.kind[dealt.ends[p]:dealt.ends[p + 1]].tolist())  # noqa: E731
    assert all(kinds(within, p) == {0, 1} for p in range(4))
    assert [kinds(between, p) for p in range(4)] == [{0}, {1}, {0}, {1}] or \
        [kinds(between, p) for p in range(4)] == [{1}, {0}, {1}, {0}]
    practice = _deal_people(_design(practice_items=2, practice_pool=[]), 2, {}, experts=False)
    assert list(practice.ends) == [0, 8, 16]  # practice items are dealt but are no results


def test_with_no_effect_power_is_the_false_positive_rate():
    result = simulate_power(_design(), Planted(alone=0.5, assisted=0.5, skill_sd=0.5, item_sd=1.0), [30], sims=200,
                            seed=1, resamples=500)
    [row] = result.rows
    assert result.planted_gap_closed == 0.0 and result.gold_stands_in
    # Nominal 0.05 (two-sided): the false-positive rate of the gap-closed interval.
    assert 0.01 <= row.power <= 0.10 and row.coverage >= 0.90, row
    assert abs(row.gap_closed_median) < 0.1 and row.ci_width_median > 0


def test_with_an_effect_power_rises_with_participants():
    result = simulate_power(_design(), Planted(alone=0.5, assisted=0.65, skill_sd=0.5, item_sd=1.0), [10, 30, 60],
                            sims=100, seed=2, resamples=500)
    power = [r.power for r in result.rows]
    assert power[0] < power[1] <= power[2], power
    assert power[0] <= 0.6 and power[2] >= 0.8, power
    assert result.planted_gap_closed == pytest.approx(0.3)
    assert all(r.coverage >= 0.9 for r in result.rows)
    widths = [r.ci_width_median for r in result.rows]
    assert widths[0] > widths[1] > widths[2]
    assert all(abs(r.gap_closed_median - 0.3) < 0.15 for r in result.rows)


def test_experts_answer_the_expert_condition_when_there_is_one():
    result = simulate_power(_design(expert_conditions=["e"], expert_groups=_design().groups),
                            Planted(alone=0.5, assisted=0.7, expert=0.9), [20], sims=20, experts=12, seed=3,
                            resamples=300)
    assert not result.gold_stands_in and result.experts == 12
    assert result.planted_gap_closed == pytest.approx(0.5)


@pytest.mark.parametrize("design, planted, message", [
    (_design(conditions=["a"], kinds={"a": "alone"}), Planted(0.5, 0.6), "both a non-expert alone"),
    (_design(groups=[]), Planted(0.5, 0.6), "can deal no items"),
    (_design(), Planted(0.5, 0.6, skill_sd=-1), "skill sd"),
    (_design(expert_conditions=["e"], expert_groups=_design().groups), Planted(0.8, 0.9, expert=0.7),
     "no gap to close"),
])
def test_what_cannot_be_planned_says_why(design, planted, message):
    with pytest.raises(PowerError, match=message):
        simulate_power(design, planted, [10], sims=5)


def _study() -> int:
    return factories.four_option_study(12, name="To plan", items_per_participant=6, design="between")


def _counts() -> dict:
    with session_scope(write=False) as s:
        return {t.__name__: s.exec(select(func.count()).select_from(t)).one()
                for t in (Study, User, Item, Assignment, Judgment, Event)}


def test_a_study_is_planned_from_its_own_design_and_nothing_is_written(db):
    sid = _study()
    design = study_design(sid)
    assert design.design == "between" and design.items_per_participant == 6 and design.practice_items == 1
    assert sum(len(g) for g in design.groups) == 12 and len(design.practice_pool) == 1  # catch items are no results
    assert sorted(design.kinds.values()) == ["alone", "assisted"] and len(design.expert_conditions) == 1
    before = _counts()
    result = plan(study_id=sid, planted=Planted(0.5, 0.7, 0.9), participants=[8, 16], sims=10, experts=4,
                  resamples=200)
    assert _counts() == before
    assert [r.participants for r in result.rows] == [8, 16] and "between subject" in result.design


def test_the_power_command_prints_rows(db, tmp_path):
    import os

    sid = _study()
    cli = _runner(dict(os.environ))
    out = cli("power", "--study", str(sid), "--participants", "10,20", "--alone", "0.5", "--assisted", "0.7",
              "--expert", "0.9", "--skill-sd", "0.5", "--sims", "10", "--seed", "1", "--json", "--quiet")
    rows = json.loads(out.stdout)["rows"]
    assert [r["participants"] for r in rows] == [10, 20]
    assert all({"participants", "power", "coverage", "ci_width_median"} <= set(r) for r in rows)
    text = cli("power", "--study", str(sid), "--participants", "10", "--alone", "0.5", "--assisted", "0.7",
               "--sims", "5", "--quiet").stdout
    assert "participants  power  coverage" in text and "planted gap closed" in text
    bad = cli("power", "--study", str(sid), "--participants", "ten", "--alone", "0.5", "--assisted", "0.7", ok=False)
    assert bad.returncode == 1 and "comma" in bad.stderr
