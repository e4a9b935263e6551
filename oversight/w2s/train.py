"""The training loop for torch students, after openai/weak-to-strong's `train_model`: Adam, cosine-annealed
learning rate over all steps, minibatches in a fresh seeded order each epoch, dropout off (the reference trains
without dropout by default), and the loss told the fraction of steps done."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from oversight.w2s.data import Example
from oversight.w2s.losses import Loss

EVAL_BATCH = 32


def fit_torch(clf, examples: Sequence[Example], targets: np.ndarray, loss: Loss, *, seed: int,
              on_step: Callable[[], None] | None = None) -> None:
    cfg = clf.config
    params = [p for p in clf.module.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=cfg.lr)
    n_steps = clf.steps(len(examples))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, n_steps)
    t_all = torch.tensor(targets, dtype=torch.float32)
    rng = np.random.default_rng(seed)
    clf.module.eval()  # no dropout
    step = 0
    for _ in range(cfg.epochs):
        order = rng.permutation(len(examples))
        for start in range(0, len(order), cfg.batch_size):
            idx = order[start:start + cfg.batch_size]
            logits = clf.logits([examples[i] for i in idx])
            value = loss(logits, t_all[idx].to(logits.device), step / n_steps)
            opt.zero_grad()
            value.backward()
            opt.step()
            sched.step()
            step += 1
            if on_step:
                on_step()


def predict_torch(clf, examples: Sequence[Example]) -> np.ndarray:
    clf.module.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(examples), EVAL_BATCH):
            out.append(torch.softmax(clf.logits(list(examples[start:start + EVAL_BATCH])), dim=-1).cpu().numpy())
    return np.concatenate(out).astype(np.float64)


def correct(proba: np.ndarray, examples: Sequence[Example]) -> np.ndarray:
    """1 where the gold choice has strictly the highest probability (a tie counts as wrong), else 0."""
    gold = np.array([e.label for e in examples])
    p_gold = proba[np.arange(len(examples)), gold]
    others = proba.copy()
    others[np.arange(len(examples)), gold] = -np.inf
    return (p_gold > others.max(axis=1)).astype(int)


def one_hot(examples: Sequence[Example]) -> np.ndarray:
    k = len(examples[0].choices)
    out = np.zeros((len(examples), k))
    out[np.arange(len(examples)), [e.label for e in examples]] = 1.0
    return out
