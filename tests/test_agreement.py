"""Agreement per rubric field: Krippendorff's alpha and Cohen's kappa against hand-computed values, edge cases."""

from __future__ import annotations

import pytest

from oversight import auth
from oversight.agreement import NOT_ENOUGH, agreement, cohen_kappa, krippendorff_alpha
from oversight.db import session_scope
from oversight.reviews import adjudicate, set_review_settings, submit_review
from storage.models import Assignment, Item

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


@pytest.fixture
def reviewed(study):
    """Six finished assignments; two experts review all of them (outcome as in PAIRS, help quality the same)."""
    people = [u.user_id for u in auth.create_invites(study_id=study.id, count=6)]
    experts = [auth.create_user(role="expert", name=f"e{k}", password="long enough").id for k in range(3)]
    with session_scope() as s:
        ids = []
        for k, who in enumerate(people):
            item = Item(study_id=study.id, external_id=f"q{k}", question="?", options=["a", "b"])
            s.add(item)
            s.flush()
            a = Assignment(study_id=study.id, participant_id=who, item_id=item.id, state="done")
            s.add(a)
            s.flush()
            ids.append(a.id)
    return dict(study=study.id, experts=experts, a=ids)


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
