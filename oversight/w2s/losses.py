"""Training losses for the strong student; each a small class. Targets are soft labels: one probability row per
example over its choices (a one-hot row for ground truth, the supervisor's probabilities for weak labels).

`step_frac` is the fraction of training steps done before this step (0 at the first step), as in
openai/weak-to-strong, where the loss sees `step / nsteps`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from oversight.w2s.errors import W2SError


class Loss:
    name = ""

    def __call__(self, logits: torch.Tensor, targets: torch.Tensor, step_frac: float) -> torch.Tensor:
        raise NotImplementedError


class SoftCrossEntropy(Loss):
    """Naive weak-to-strong training: the mean cross-entropy between the student's softmax and the soft targets,
    -sum_k t_k log softmax(z)_k. On ground-truth (one-hot) targets it is the ordinary classification loss."""

    name = "naive"

    def __call__(self, logits: torch.Tensor, targets: torch.Tensor, step_frac: float) -> torch.Tensor:
        return F.cross_entropy(logits.float(), targets.float())


class LogConfidence(Loss):
    """The auxiliary confidence loss of Burns et al. (2023), as openai/weak-to-strong's `logconf_loss_fn`:
    cross-entropy against a mix of the weak targets and the student's own hardened predictions,
    `(1 - c) * weak + c * hard(student)`, with `c = aux_coef * w(step_frac)`.

    Warm-up, exactly as the reference: `w = step_frac` while `step_frac <= warmup_frac`, then `w = 1` (so c ramps
    from 0 to `aux_coef * warmup_frac`, then jumps to `aux_coef`).

    Hardening: for two classes, as the reference, the student's probability of class 0 is thresholded at the
    batch quantile that gives class 1 the same share of the batch as the weak targets give it (the mean weak
    probability of class 1), so the auxiliary targets keep the weak supervisor's class balance. For more
    choices (multiple-choice items, whose positions carry no class prior) the hardened prediction is the argmax.
    The hardened predictions are detached: no gradient flows through the targets.
    """

    name = "logconf"

    def __init__(self, aux_coef: float = 0.5, warmup_frac: float = 0.1) -> None:
        self.aux_coef = aux_coef
        self.warmup_frac = warmup_frac

    def coefficient(self, step_frac: float) -> float:
        return self.aux_coef * (1.0 if step_frac > self.warmup_frac else step_frac)

    def hardened(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        preds = torch.softmax(logits.float(), dim=-1)
        if preds.shape[-1] == 2:
            share_class1 = targets.float().mean(dim=0)[1]
            threshold = torch.quantile(preds[:, 0], share_class1)
            class0 = preds[:, 0] >= threshold
            return torch.stack([class0, ~class0], dim=1).float()
        return F.one_hot(preds.argmax(dim=-1), preds.shape[-1]).float()

    def __call__(self, logits: torch.Tensor, targets: torch.Tensor, step_frac: float) -> torch.Tensor:
        c = self.coefficient(step_frac)
        mixed = targets.float() * (1 - c) + self.hardened(logits, targets).detach() * c
        return F.cross_entropy(logits.float(), mixed)


LOSSES: dict[str, type[Loss]] = {"naive": SoftCrossEntropy, "logconf": LogConfidence}


def make_loss(name: str) -> Loss:
    try:
        return LOSSES[name]()
    except KeyError:
        raise W2SError(f"unknown method {name!r}; choose from {', '.join(LOSSES)}") from None
