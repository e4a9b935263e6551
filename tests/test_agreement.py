"""Agreement per rubric field: Krippendorff's alpha, Cohen's kappa (a fixed pair) and Fleiss' kappa (changing
experts) against hand-computed values, their intervals, ordinal fields across rubric versions, edge cases."""

from __future__ import annotations

import pytest

from oversight.access import auth
from oversight.results import intervals
from oversight.sandwiching.agreement import NOT_ENOUGH, agreement, cohen_kappa, fleiss_kappa, krippendorff_alpha
from oversight.db import session_scope
from oversight.sandwiching.reviews import adjudicate, set_review_settings, submit_review
from oversight.sandwiching.rubrics import ReviewError, check_fields, current_rubric, new_rubric_version
from storage.models import Assignment, ExpertReview, Item, Rubric

# Two raters, six units, binary: (0,0) ×3, (1,1) ×2, (0,1) ×1.
#   kappa: p_o = 5/6; rater 1 says 0 four times, rater 2 three times: p_e = 4/6·3/6 + 2/6·3/6 = 1/2;
#          kappa = (5/6 − 1/2) / (1 − 1/2) = 2/3.
#   alpha: coincidences o00 = 3·2 = 6, o11 = 2·2 = 4, o01 = o10 = 1; n0 = 7, n1 = 5, n = 12;
#          D_o = 2/12, D_e = 2·7·5 / (12·11) = 70/132; alpha = 1 − (2/12)/(70/132) = 1 − 11/35 = 24/35.
PAIRS = [(0, 0), (0, 0), (0, 0), (1, 1), (1, 1), (0, 1)]


def test_kappa_and_alpha_by_hand():
    assert cohen_kappa(PAIRS, 2) == pytest.approx(2 / 3)
    matrix = [[a for a, _ in PAIRS], [b for _, b in PAIRS]]
    assert krippendorff_alpha(matrix, 2, "nominal") == pytest.approx(24 / 35)


def test_linearly_weighted_kappa_by_hand():
    # Scale of 3, pairs (1,1), (2,3), (3,3), (1,2) as indices; weights 1 − |i−j|/2.
    # p_o = (1 + .5 + 1 + .5)/4 = .75; marginals r1 = (.5,.25,.25), r2 = (.25,.25,.5);
    # p_e = Σ w_ij r1_i r2_j = .1875 + .15625 + .15625 = .5; kappa_w = (.75 − .5)/(1 − .5) = .5.
    pairs = [(0, 0), (1, 2), (2, 2), (0, 1)]
    assert cohen_kappa(pairs, 3, weighted=True) == pytest.approx(0.5)
    assert cohen_kappa(pairs, 3) == pytest.approx((0.5 - 0.3125) / (1 - 0.3125))  # unweighted: p_e = 5/16


def test_ordinal_alpha_by_hand():
    # Units (0,0), (1,2), (2,2): n0 = 2, n1 = 1, n2 = 3, n = 6; ordinal δ²(c,k) = (Σ_{g=c..k} n_g − (n_c+n_k)/2)²:
    # δ²(0,1) = 2.25, δ²(1,2) = 4, δ²(0,2) = 12.25. D_o = (o12 + o21)·4 / 6 = 4/3;
    # D_e = 2·(2·1·2.25 + 2·3·12.25 + 1·3·4) / (6·5) = 6; alpha = 1 − (4/3)/6 = 7/9.
    assert krippendorff_alpha([[0, 1, 2], [0, 2, 2]], 3, "ordinal") == pytest.approx(7 / 9)
    assert krippendorff_alpha([[0, 1, 2], [0, 2, 2]], 3, "nominal") != pytest.approx(7 / 9)


def test_identical_values_leave_agreement_undefined():
    assert cohen_kappa([(1, 1), (1, 1)], 2) is None
    assert krippendorff_alpha([[1, 1], [1, 1]], 2, "nominal") is None


def _finished(study_id: int, people: int, experts: int, prefix: str) -> dict:
    """`people` finished assignments (one item each) and `experts` expert accounts."""
    who = [u.user_id for u in auth.create_invites(study_id=study_id, count=people)]
    expert_ids = [auth.create_user(role="expert", name=f"{prefix}{k}", password="long enough").id
                  for k in range(experts)]
    with session_scope() as s:
        ids = []
        for k, person in enumerate(who):
            item = Item(study_id=study_id, external_id=f"{prefix}q{k}", question="?", options=["a", "b"])
            s.add(item)
            s.flush()
            a = Assignment(study_id=study_id, participant_id=person, item_id=item.id, state="done")
            s.add(a)
            s.flush()
            ids.append(a.id)
    return dict(study=study_id, experts=expert_ids, a=ids)


@pytest.fixture
def reviewed(study):
    """Six finished assignments; two experts review all of them (outcome as in PAIRS, help quality the same)."""
    return _finished(study.id, 6, 3, "e")


def test_no_double_reviews_says_so(reviewed):
    assert agreement(study_id=reviewed["study"]).message == NOT_ENOUGH
    submit_review(assignment_id=reviewed["a"][0], expert_id=reviewed["experts"][0],
                  labels={"outcome": "correct", "help_quality": 3})
    result = agreement(study_id=reviewed["study"])
    assert (result.n_double, result.fields, result.message) == (0, [], NOT_ENOUGH)


def test_study_agreement_per_field(reviewed):
    set_review_settings(study_id=reviewed["study"], user_id=None, review_share=1.0)
    outcome = {0: "correct", 1: "incorrect"}
    for aid, (x, y) in zip(reviewed["a"], PAIRS):
        submit_review(assignment_id=aid, expert_id=reviewed["experts"][0],
                      labels={"outcome": outcome[x], "help_quality": 3})
        submit_review(assignment_id=aid, expert_id=reviewed["experts"][1],
                      labels={"outcome": outcome[y], "help_quality": 3})
    adjudicate(assignment_id=reviewed["a"][5], expert_id=reviewed["experts"][2], labels={"outcome": "correct"})
    result = agreement(study_id=reviewed["study"])
    by = {f.name: f for f in result.fields}
    assert result.n_double == 6 and not result.includes_simulated
    # The outcome's domain has four values, two unused: alpha still 24/35 (unused values add no coincidences).
    assert by["outcome"].alpha == pytest.approx(24 / 35)
    assert by["outcome"].kappa == pytest.approx(2 / 3)
    assert (by["outcome"].n, by["outcome"].unanimous, by["outcome"].adjudicated, by["outcome"].open) == (
        6, pytest.approx(5 / 6), pytest.approx(1 / 6), 0)
    hq = by["help_quality"]
    assert (hq.alpha, hq.kappa, hq.kappa_weighted, hq.unanimous) == (None, None, True, 1.0)
    assert "undefined" in hq.note


def test_fleiss_kappa_by_hand():
    """Fleiss (1971)'s example as worked on Wikipedia: 10 units, 14 raters each, 5 categories: kappa 0.210."""
    table = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1], [7, 7, 0, 0, 0],
             [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]
    assert fleiss_kappa(table) == pytest.approx(0.20993, abs=1e-4)
    assert fleiss_kappa([[2, 0], [2, 0]]) is None  # one value only: undefined


def test_alpha_matches_the_krippendorff_package_with_missing_reviews():
    import krippendorff
    import numpy as np

    rng = np.random.default_rng(3)
    for level in ("nominal", "ordinal"):
        data = rng.integers(0, 4, size=(4, 20)).astype(float)
        data[1] = np.where(rng.random(20) < 0.6, data[0], data[1])
        data[rng.random(data.shape) < 0.2] = np.nan
        expected = krippendorff.alpha(reliability_data=data, level_of_measurement=level, value_domain=[0, 1, 2, 3])
        assert krippendorff_alpha(data.tolist(), 4, level) == pytest.approx(expected)


def test_cohen_for_a_fixed_pair_with_intervals_on_the_units(reviewed):
    set_review_settings(study_id=reviewed["study"], user_id=None, review_share=1.0)
    outcome = {0: "correct", 1: "incorrect"}
    for aid, (x, y) in zip(reviewed["a"], PAIRS):
        for expert, value in zip(reviewed["experts"], (x, y)):
            submit_review(assignment_id=aid, expert_id=expert, labels={"outcome": outcome[value], "help_quality": 3})
    f = next(f for f in agreement(study_id=reviewed["study"]).fields if f.name == "outcome")
    assert (f.kappa_kind, f.kappa, f.n_experts) == ("cohen", pytest.approx(2 / 3), 2)
    # The interval is the engine's bootstrap over the six reviewed assignments.
    assert (f.alpha_ci_low, f.alpha_ci_high) == intervals.over_units(
        range(6), lambda units: krippendorff_alpha([[PAIRS[u][0] for u in units], [PAIRS[u][1] for u in units]],
                                                   4, "nominal"), key="alpha:outcome", resamples=1000)


@pytest.fixture
def crowd(study):
    """Forty assignments, each reviewed by two of four experts (changing pairs): a fixed pair does not exist."""
    return _finished(study.id, 40, 4, "x")


def test_fleiss_where_experts_change_with_intervals(crowd):
    import itertools
    import random

    rng = random.Random(5)
    truth = [rng.choice(["correct", "incorrect"]) for _ in crowd["a"]]
    pairs = list(itertools.combinations(crowd["experts"], 2))
    counts = []
    for k, (aid, value) in enumerate(zip(crowd["a"], truth)):
        pair = pairs[k % len(pairs)]
        given = [value if rng.random() < 0.85 else ("correct" if value == "incorrect" else "incorrect")
                 for _ in pair]
        for expert, label in zip(pair, given):
            with session_scope() as s:
                s.add(ExpertReview(study_id=crowd["study"], expert_id=expert, assignment_id=aid,
                                   labels={"outcome": label}))
        counts.append([given.count(c) for c in ("correct", "incorrect", "unclear", "item flawed")])
    f = next(f for f in agreement(study_id=crowd["study"]).fields if f.name == "outcome")
    assert f.kappa_kind == "fleiss" and f.n == 40 and f.n_experts == 4
    assert f.kappa == pytest.approx(fleiss_kappa(counts))
    assert f.alpha_ci_low < f.alpha < f.alpha_ci_high and f.kappa_ci_low < f.kappa < f.kappa_ci_high


CLARITY = {"name": "clarity", "label": "Clarity", "kind": "choice", "level": "ordinal"}


def _reviews(world, labels: list[tuple[str, str]], rubric_id: int | None = None) -> None:
    with session_scope() as s:
        for aid, (x, y) in zip(world["a"], labels):
            for expert, value in zip(world["experts"], (x, y)):
                s.add(ExpertReview(study_id=world["study"], expert_id=expert, assignment_id=aid,
                                   labels={"clarity": value}, rubric_id=rubric_id))


def test_a_rubric_version_may_add_or_drop_ordinal_levels_but_not_reorder_them(reviewed):
    study = reviewed["study"]
    new_rubric_version(study_id=study, fields=[{**CLARITY, "choices": ["poor", "fair", "good"]}], reason="v2",
                       user_id=None)
    with pytest.raises(ReviewError, match="keeps the order of its levels"):
        new_rubric_version(study_id=study, fields=[{**CLARITY, "choices": ["good", "fair", "poor"]}],
                           reason="upside down", user_id=None)
    with pytest.raises(ReviewError, match="keeps the order of its levels"):  # "fair" moved above "good"
        new_rubric_version(study_id=study, fields=[{**CLARITY, "choices": ["poor", "good", "fair"]}],
                           reason="swap", user_id=None)
    v3 = new_rubric_version(study_id=study, fields=[{**CLARITY, "choices": ["poor", "good", "excellent"]}],
                            reason="drop fair, add excellent", user_id=None)
    assert v3.version == 3
    # A nominal field may be reordered: its order means nothing.
    new_rubric_version(study_id=study, fields=[{**CLARITY, "level": "nominal", "choices": ["good", "poor"]}],
                       reason="nominal now", user_id=None)


def test_ordinal_reviews_of_older_versions_keep_their_place_on_the_scale(reviewed):
    """v2 offers poor < fair < good; v3 drops fair and adds excellent. Reviews made under v2 that said "fair" sit
    between poor and good (not after excellent, where a value unknown to the newest version would land)."""
    study = reviewed["study"]
    v2 = new_rubric_version(study_id=study, fields=[{**CLARITY, "choices": ["poor", "fair", "good"]}],
                            reason="v2", user_id=None)
    new_rubric_version(study_id=study, fields=[{**CLARITY, "choices": ["poor", "good", "excellent"]}],
                       reason="v3", user_id=None)
    labels = [("poor", "fair"), ("fair", "fair"), ("good", "fair"), ("good", "good"), ("poor", "poor"),
              ("fair", "good")]
    _reviews(reviewed, labels, rubric_id=v2.id)
    scale = ["poor", "fair", "good", "excellent"]
    [f] = agreement(study_id=study).fields
    matrix = [[scale.index(x) for x, _ in labels], [scale.index(y) for _, y in labels]]
    assert (f.level, f.kappa_kind) == ("ordinal", "cohen-weighted")
    assert f.alpha == pytest.approx(krippendorff_alpha(matrix, 4, "ordinal"))
    scrambled = ["poor", "good", "excellent", "fair"]
    wrong = [[scrambled.index(x) for x, _ in labels], [scrambled.index(y) for _, y in labels]]
    assert f.alpha != pytest.approx(krippendorff_alpha(wrong, 4, "ordinal"))
    assert f.kappa == pytest.approx(cohen_kappa(list(zip(*matrix)), 4, weighted=True))


def test_a_rubric_history_that_reordered_an_ordinal_field_is_measured_as_nominal(reviewed):
    study = reviewed["study"]
    current_rubric(study)
    with session_scope() as s:  # saved before reordering was refused
        s.add(Rubric(study_id=study, version=2, fields=check_fields([{**CLARITY, "choices": ["poor", "good"]}]),
                     reason="old"))
        s.add(Rubric(study_id=study, version=3, fields=check_fields([{**CLARITY, "choices": ["good", "poor"]}]),
                     reason="old"))
    _reviews(reviewed, [("poor", "good"), ("good", "good"), ("poor", "poor")])
    [f] = agreement(study_id=study).fields
    assert "measured as nominal" in f.note
    assert f.alpha == pytest.approx(krippendorff_alpha([[1, 0, 1], [0, 0, 1]], 2, "nominal"))


def test_the_stamp_changes_with_the_reviews_and_who_is_left_out(reviewed):
    from oversight.sandwiching.agreement import inputs_stamp
    from oversight.study.attention import set_override

    first = inputs_stamp(reviewed["study"])
    assert inputs_stamp(reviewed["study"]) == first
    submit_review(assignment_id=reviewed["a"][0], expert_id=reviewed["experts"][0],
                  labels={"outcome": "correct", "help_quality": 3})
    second = inputs_stamp(reviewed["study"])
    assert second != first
    with session_scope(write=False) as s:
        person = s.get(Assignment, reviewed["a"][0]).participant_id
    set_override(study_id=reviewed["study"], participant_id=person, decision="exclude")
    assert inputs_stamp(reviewed["study"]) != second
