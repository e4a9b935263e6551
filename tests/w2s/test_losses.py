"""The soft-label and auxiliary-confidence losses against small worked examples."""

from __future__ import annotations

import math

import pytest
import torch

from oversight.w2s.errors import W2SError
from oversight.w2s.losses import LogConfidence, SoftCrossEntropy, make_loss


def test_soft_cross_entropy_matches_the_hand_computed_value():
    # softmax([0, ln 3]) = [0.25, 0.75]; targets [0.25, 0.75]:
    # -(0.25 ln 0.25 + 0.75 ln 0.75) = 0.562335
    logits = torch.tensor([[0.0, math.log(3.0)]])
    targets = torch.tensor([[0.25, 0.75]])
    assert SoftCrossEntropy()(logits, targets, 0.0).item() == pytest.approx(0.562335, abs=1e-5)


def test_soft_cross_entropy_on_hard_labels_is_the_usual_loss_and_averages_the_batch():
    logits = torch.tensor([[2.0, 0.0], [0.0, 0.0]])
    targets = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    expected = (math.log(1 + math.exp(-2.0)) + math.log(2.0)) / 2
    assert SoftCrossEntropy()(logits, targets, 0.5).item() == pytest.approx(expected, abs=1e-6)


def test_logconf_warm_up_follows_the_reference():
    loss = LogConfidence(aux_coef=0.5, warmup_frac=0.1)
    assert loss.coefficient(0.0) == 0.0
    assert loss.coefficient(0.05) == pytest.approx(0.025)
    assert loss.coefficient(0.1) == pytest.approx(0.05)  # still warming up at the boundary
    assert loss.coefficient(0.11) == pytest.approx(0.5)
    assert loss.coefficient(0.9) == pytest.approx(0.5)


def test_logconf_hardens_two_classes_at_the_weak_class_balance():
    # p(class 0) = 0.9, 0.6, 0.4, 0.2; the weak labels give class 1 a share of 0.5, so the threshold is the
    # 0.5 quantile of p(class 0) = 0.5 (between 0.4 and 0.6): the first two are hardened to class 0.
    p0 = torch.tensor([0.9, 0.6, 0.4, 0.2])
    logits = torch.stack([torch.log(p0), torch.log(1 - p0)], dim=1)
    weak = torch.tensor([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4], [0.3, 0.7]])
    hard = LogConfidence().hardened(logits, weak)
    assert hard.tolist() == [[1, 0], [1, 0], [0, 1], [0, 1]]
    # class 1 has a share of 0.75 in these weak labels: threshold = 0.75 quantile = 0.675, one item stays class 0
    weak_more_1 = torch.tensor([[0.0, 1.0], [0.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    assert LogConfidence().hardened(logits, weak_more_1)[:, 0].tolist() == [1, 0, 0, 0]


def test_logconf_loss_is_cross_entropy_against_the_mixed_targets():
    p0 = torch.tensor([0.9, 0.6, 0.4, 0.2])
    logits = torch.stack([torch.log(p0), torch.log(1 - p0)], dim=1)
    weak = torch.tensor([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4], [0.3, 0.7]])
    hard = [[1, 0], [1, 0], [0, 1], [0, 1]]
    c = 0.5  # past the warm-up
    expected = 0.0
    for i in range(4):
        probs = [p0[i].item(), 1 - p0[i].item()]
        target = [(1 - c) * weak[i, k].item() + c * hard[i][k] for k in range(2)]
        expected -= sum(t * math.log(p) for t, p in zip(target, probs))
    expected /= 4
    assert LogConfidence()(logits, weak, 0.5).item() == pytest.approx(expected, abs=1e-5)
    # at step 0 the coefficient is 0: plain soft-label cross-entropy
    assert LogConfidence()(logits, weak, 0.0).item() == pytest.approx(SoftCrossEntropy()(logits, weak, 0.0).item())


def test_logconf_on_multiple_choice_hardens_to_the_argmax_and_passes_no_gradient_through_it():
    logits = torch.tensor([[0.1, 2.0, 0.3, 0.0], [1.0, 0.0, 0.0, 3.0]], requires_grad=True)
    weak = torch.full((2, 4), 0.25)
    assert LogConfidence().hardened(logits, weak).tolist() == [[0, 1, 0, 0], [0, 0, 0, 1]]
    loss = LogConfidence()(logits, weak, 0.5)
    loss.backward()
    # gradient of mean CE wrt logits is (softmax - target) / batch: targets are constants
    target = 0.5 * weak + 0.5 * torch.tensor([[0, 1, 0, 0], [0, 0, 0, 1.0]])
    expected = (torch.softmax(logits.detach(), dim=-1) - target) / 2
    assert torch.allclose(logits.grad, expected, atol=1e-6)


def test_an_unknown_method_is_a_clear_error():
    with pytest.raises(W2SError, match="naive, logconf"):
        make_loss("product")
