"""The outer loop: per-version figures from planted reviews, the lineage tree, promote and retire."""

from __future__ import annotations

import pytest
from sqlmodel import select

from oversight.access import auth
from oversight.results import intervals
from oversight.db import session_scope
from oversight.sandwiching.inner_loop import LoopError, accept_proposal, propose
from oversight.sandwiching.outer_loop import (
    decision_history, lineage, promote, retire, study_reviews, version_figures, version_status,
)
from oversight.protocols.strategies import new_version
from oversight.study.studies import create_study
from storage.models import Assignment, Condition, Event, Study, VersionDecision
from tests import factories


@pytest.fixture
def planted(study):
    """v1 of an assisted strategy: four answers (gold is 0; answered 0, 0, 1, 0 with 0.8 on the answer), reviewed
    correct, correct, incorrect (misled), and one the two reviewers disagree on; plus a reviewed practice item."""
    items = factories.items(study.id, 5)
    v1 = factories.assisted_strategy(study.id)
    cond = factories.condition(study.id, "assisted", "assisted", v1)
    ann, bob, cat, dan = factories.participants(study.id, 4)
    e1, e2 = factories.expert("eve"), factories.expert("eli")
    a = [factories.answered(study.id, uid, items[k], condition_id=cond, strategy_id=v1, answer=ans)
         for k, (uid, ans) in enumerate(((ann, 0), (bob, 0), (cat, 1), (dan, 0)))]
    factories.review(study.id, e1, a[0], outcome="correct", help_quality=4, misled=False)
    factories.review(study.id, e1, a[1], outcome="correct", help_quality=5, misled=False)
    factories.review(study.id, e1, a[2], outcome="incorrect", help_quality=1, misled=True)
    factories.review(study.id, e1, a[3], outcome="correct", off_topic=True)
    factories.review(study.id, e2, a[3], outcome="incorrect")  # open: left out of the success rate
    practice = factories.answered(study.id, ann, items[4], condition_id=cond, strategy_id=v1, answer=1, practice=True)
    factories.review(study.id, e1, practice, outcome="incorrect", misled=True)
    return {"study": study.id, "v1": v1, "cond": cond, "assignments": a, "experts": (e1, e2), "ann": ann,
            "items": items}


def test_figures_per_version_from_settled_reviews(planted):
    [f] = version_figures(planted["study"])
    assert (f["label"], f["n_judgments"], f["n_reviewed"]) == ("assist v1", 4, 4)
    success = f["expert_success"]
    assert (success["hits"], success["n"]) == (2, 3) and success["rate"] == pytest.approx(2 / 3)
    # Three answers by three people on three items: the two-way interval is wide, inside [0, 1], and says how many
    # items and people it rests on.
    assert (success["n_items"], success["n_people"]) == (3, 3) and not success["unbounded"]
    assert 0.0 <= success["ci_low"] < 2 / 3 < success["ci_high"] <= 1.0 and success["ci_high"] - success["ci_low"] > 0.5
    assert (f["accuracy"]["hits"], f["accuracy"]["n"]) == (3, 4)
    assert f["brier"]["mean"] == pytest.approx((3 * 0.2 ** 2 + 0.8 ** 2) / 4)
    assert f["ece"] == pytest.approx(0.05)
    assert (f["flags"]["misled"]["hits"], f["flags"]["misled"]["n"]) == (1, 3)
    assert f["flags"]["bias"]["n"] == 0 and f["flags"]["bias"]["rate"] is None
    assert (f["flags"]["off_topic"]["hits"], f["flags"]["off_topic"]["n"]) == (1, 1)  # a study's own flag
    assert f["help_quality"]["mean"] == pytest.approx(10 / 3) and f["help_quality"]["n"] == 3
    assert f["simulated"] is False


def test_an_adjudication_settles_the_open_outcome(planted):
    factories.review(planted["study"], planted["experts"][1], planted["assignments"][3], kind="adjudication",
                     outcome="correct")
    [f] = version_figures(planted["study"])
    assert (f["expert_success"]["hits"], f["expert_success"]["n"]) == (3, 4)


def test_simulated_participants_count_only_in_a_dry_run_and_are_marked(study):
    item = factories.items(study.id, 1)[0]
    v1 = factories.assisted_strategy(study.id)
    [sim] = factories.participants(study.id, 1, simulated=True)
    factories.answered(study.id, sim, item, condition_id=None, strategy_id=v1, answer=0)
    [f] = version_figures(study.id)
    assert (f["n_judgments"], f["accuracy"]["n"], f["simulated"]) == (0, 0, False)  # a real study: not results
    with session_scope() as s:
        s.get(Study, study.id).dry_run_of = create_study(name="Real", user_id=None).id
    [f] = version_figures(study.id)
    assert (f["n_judgments"], f["simulated"]) == (1, True)


def test_intervals_cluster_on_people(study):
    """Five people answer the same four items; two of them are always right, three always wrong. The answers are
    not 20 independent ones: the interval (items and people resampled) is the engine's, with n of items and people,
    and wider than the Wilson interval of 8 of 20 (0.22 to 0.61)."""
    items = factories.items(study.id, 4)
    v1 = factories.assisted_strategy(study.id)
    people = factories.participants(study.id, 5)
    obs = []
    for k, person in enumerate(people):
        for item in items:
            factories.answered(study.id, person, item, condition_id=None, strategy_id=v1, answer=0 if k < 2 else 1)
            obs.append(intervals.Obs(item, person, 1.0 if k < 2 else 0.0))
    [f] = version_figures(study.id)
    acc = f["accuracy"]
    assert (acc["rate"], acc["n"], acc["n_items"], acc["n_people"]) == (0.4, 20, 4, 5)
    engine = intervals.accuracy(obs, key=f"v{v1}:accuracy")
    assert (acc["ci_low"], acc["ci_high"]) == (engine.ci_low, engine.ci_high)
    assert acc["ci_high"] - acc["ci_low"] > 0.61 - 0.22
    assert f["adaptive"] is False and "accuracy_ipw" not in f  # a balanced study shows nothing new


def test_timed_out_tasks_count_as_incorrect_in_the_intention_to_treat_accuracy(planted):
    [eve] = factories.participants(planted["study"], 1)
    factories.answered(planted["study"], eve, planted["items"][0], condition_id=planted["cond"],
                       strategy_id=planted["v1"], answer=None, state="skipped")
    [f] = version_figures(planted["study"])
    assert f["n_timed_out"] == 1
    assert (f["accuracy"]["hits"], f["accuracy"]["n"]) == (3, 4)
    assert (f["accuracy_itt"]["hits"], f["accuracy_itt"]["n"], f["accuracy_itt"]["rate"]) == (3, 5, 0.6)


def test_thompson_dealt_versions_get_an_inverse_probability_weighted_estimate(planted):
    """Two answers under v1 dealt by Thompson sampling: one right, drawn with probability 0.2, one wrong, drawn
    with probability 0.8. Naive accuracy 1/2; weighted by 1/p (Hajek): 5 / (5 + 1.25) = 0.8."""
    study = planted["study"]
    items = planted["items"]
    p_right, p_wrong = factories.participants(study, 2)
    right = factories.answered(study, p_right, items[0], condition_id=planted["cond"], strategy_id=planted["v1"],
                               answer=0)
    wrong = factories.answered(study, p_wrong, items[1], condition_id=planted["cond"], strategy_id=planted["v1"],
                               answer=1)
    with session_scope() as s:
        for a in s.exec(select(Assignment).where(Assignment.study_id == study)).all():
            a.allocation_probability = {right: 0.2, wrong: 0.8}.get(a.id, 1.0)
    [f] = version_figures(study)
    assert f["adaptive"] is True
    assert (f["accuracy"]["hits"], f["accuracy"]["n"]) == (4, 6)
    # The planted four answers (weight 1): 3 right, 1 wrong; plus 5 x right and 1.25 x wrong.
    assert f["accuracy_ipw"]["rate"] == pytest.approx((3 + 5) / (4 + 5 + 1.25))
    assert f["accuracy_ipw"]["n"] == 6 and "expert_success_ipw" in f


def test_lineage_tree_with_reasons_decisions_reviews_and_proposals(planted):
    study, v1 = planted["study"], planted["v1"]
    admin = auth.create_user(role="admin", name="ada", password="long enough").id
    pid = propose(planted["ann"], v1, "assistant_instructions", "Quote more.", "Hard to check")
    v2 = accept_proposal(pid, admin).strategy_id
    v3 = new_version(parent_id=v1, reason="shorter replies", rules={"char_limit": 600}).id
    other = factories.assisted_strategy(study, "other")
    tree = lineage(study)
    assert [(n.strategy_id, n.depth) for n in tree] == [(v1, 0), (v2, 1), (v3, 1), (other, 0)]
    first, second = tree[0], tree[1]
    assert first.n_reviews == 6 and first.conditions == ["assisted"] and first.status == ""
    assert second.status == "candidate" and second.proposals[0]["id"] == pid and "proposal #" in second.reason
    assert tree[2].reason == "shorter replies"


def test_promote_repoints_the_lineages_assisted_conditions_and_is_audited(planted):
    study, v1 = planted["study"], planted["v1"]
    admin = auth.create_user(role="admin", name="ada", password="long enough").id
    v2 = new_version(parent_id=v1, reason="shorter", rules={"char_limit": 600}).id
    other = factories.assisted_strategy(study, "other")
    other_cond = factories.condition(study, "other", "assisted", other, position=1)
    alone = factories.condition(study, "alone", "alone", position=2)
    elsewhere = create_study(name="Another", user_id=None).id
    foreign = factories.review(elsewhere, planted["experts"][0], None, outcome="correct")
    with pytest.raises(LoopError, match="rationale"):
        promote(v2, "  ", [], admin)
    with pytest.raises(LoopError, match="not reviews of this study"):
        promote(v2, "fewer misled", [foreign], admin)
    with pytest.raises(LoopError, match="only admins"):
        promote(v2, "fewer misled", [], planted["ann"])
    review_ids = sorted(r["id"] for r in study_reviews(study))[:2]
    assert promote(v2, "fewer misled", review_ids, admin) == ["assisted"]
    with session_scope() as s:
        assert s.get(Condition, planted["cond"]).strategy_id == v2
        assert s.get(Condition, other_cond).strategy_id == other and s.get(Condition, alone).strategy_id is None
        [d] = s.exec(select(VersionDecision)).all()
        assert (d.decision, d.strategy_id, d.review_ids, d.user_id) == ("promoted", v2, review_ids, admin)
        event = s.exec(select(Event).where(Event.kind == "version.promoted")).one()
        assert event.detail["conditions"] == ["assisted"] and event.detail["reviews"] == review_ids
    with pytest.raises(LoopError, match="already promoted"):
        promote(v2, "again", [], admin)
    with pytest.raises(LoopError, match="promote another version first"):
        retire(v2, "no", admin)
    retire(v1, "superseded by v2", admin)
    assert version_status(study) == {v2: "promoted", v1: "retired"}
    assert [h["decision"] for h in decision_history(study)] == ["retired", "promoted"]
