"""One weak-to-strong run: for each seed, the three trainings of openai/weak-to-strong, evaluated on the same
test items.

Model supervisor, per seed: the training items are split in two (halves by default, `weak_fraction` the weak
model's share); the weak model learns the first part's ground truth and labels the second part with its probabilities; the strong ceiling learns the second half's
ground truth; the strong student learns the second half from the weak labels, once per method.
People as supervisor: the weak labels are the participants' mean final probabilities on the study's labelled
items; test items are held apart (never trained on); the student and the ceiling train on the rest, and the
weak accuracy is the participants' (their mean probabilities) on the test items. Seeds vary the student's
initialisation and batch order.

Every training goes through `oversight.w2s.cache.TrainingCache`: a training whose model, settings, data, targets,
loss and seed were seen before is not repeated (its stored predictions are read), so the weak supervisor and the
ceiling are trained once across methods, supervisors and reruns. `RunOutcome.trained` / `reused` count them.

`run_config` is pure computation (plus the cache) and returns the figures; `oversight.w2s.experiments` stores them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from oversight.w2s import pgr
from oversight.w2s.cache import TrainingCache, training_key
from oversight.w2s.config import W2SConfig
from oversight.w2s.data import Example, halves, split_labelled, study_labelled, train_test, weak_split
from oversight.w2s.losses import make_loss
from oversight.w2s.students import make_classifier
from oversight.w2s.train import correct, one_hot

Progress = Callable[[int, int, str], None]


@dataclass
class SeedResult:
    seed: int
    method: str
    weak: list[int]
    w2s: list[int]
    ceiling: list[int]
    seconds: float


@dataclass
class RunOutcome:
    config: W2SConfig
    n_train: int
    test_keys: list[str]
    results: list[SeedResult] = field(default_factory=list)
    seconds: float = 0.0
    trained: int = 0  # trainings done by this run
    reused: int = 0  # trainings read from the cache

    def summary(self) -> dict[str, Any]:
        """Figures per method (`pgr.figures`), plus what was run."""
        by_method: dict[str, Any] = {}
        for method in self.config.methods:
            rows = sorted((r for r in self.results if r.method == method), key=lambda r: r.seed)
            figs = pgr.figures(np.array([r.weak for r in rows]), np.array([r.w2s for r in rows]),
                               np.array([r.ceiling for r in rows]), n_boot=self.config.bootstrap)
            by_method[method] = figs
        return {"supervisor": self.config.supervisor, "strong": self.config.strong, "dataset": self.config.dataset,
                "n_train": self.n_train, "n_test": len(self.test_keys), "seeds": self.config.seeds,
                "seconds": self.seconds, "trainings": {"trained": self.trained, "reused": self.reused},
                "methods": by_method}


class _Counter:
    def __init__(self, total: int, progress: Progress | None) -> None:
        self.done, self.total, self.progress = 0, max(total, 1), progress

    def step(self, message: str) -> None:
        self.done = min(self.done + 1, self.total)
        if self.progress:
            self.progress(self.done, self.total, message)


def _plan(config: W2SConfig, n_weak: int, n_student: int, human: bool) -> int:
    """Progress units: every optimiser step plus one per prediction pass."""
    probe = make_classifier(config.strong, config)
    per_seed = (probe.steps(n_student) + 1) * (1 + len(config.methods))  # ceiling + one student per method
    if not human:
        per_seed += make_classifier(config.weak, config).steps(n_weak) + 2  # weak fit + its two predictions
    return per_seed * config.seeds


def run_config(config: W2SConfig, *, progress: Progress | None = None,
               cache: TrainingCache | None = None) -> RunOutcome:
    config.validate()
    started = time.perf_counter()
    human = config.weak_study_id is not None
    if human:
        labelled, labels = study_labelled(config.dataset, config.weak_study_id, config.weak_setting)
        train, test = split_labelled(labelled, config.n_train, config.n_test)
        n_weak, n_student = 0, len(train)
    else:
        train, test = train_test(config.dataset, config.train_path, config.test_path, config.n_train,
                                 config.n_test)
        n_weak = weak_split(len(train), config.weak_fraction)
        n_student = len(train) - n_weak
    outcome = RunOutcome(config=config, n_train=len(train), test_keys=[e.key for e in test])
    counter = _Counter(_plan(config, n_weak, n_student, human), progress)
    cache = cache or TrainingCache()

    def fit_predict(spec: str, examples: list[Example], targets: np.ndarray, method: str, seed: int, what: str,
                    predict_on: list[list[Example]]) -> list[np.ndarray]:
        """Train `spec` (or read the same training from the cache) and its probabilities on each of `predict_on`."""
        def train() -> list[np.ndarray]:
            clf = make_classifier(spec, config)
            clf.fit(examples, targets, make_loss(method), seed=seed, on_step=lambda: counter.step(what))
            return [clf.predict_proba(items) for items in predict_on]

        before = cache.trained
        key = training_key(spec, config, examples, targets, method, seed, predict_on)
        out = cache.predictions(key, train)
        if cache.trained == before:  # reused: the progress bar still walks the steps it skipped
            for _ in range(make_classifier(spec, config).steps(len(examples))):
                counter.step(f"{what} (cached)")
        return out

    for seed in range(config.seeds):
        tag = f"seed {seed}"
        if human:
            student_items = train
            weak_labels = np.array([labels[e.key] for e in train])
            weak_test = correct(np.array([labels[e.key] for e in test]), test)
        else:
            weak_items, student_items = halves(train, seed, config.weak_fraction)
            weak_labels, weak_proba = fit_predict(config.weak, weak_items, one_hot(weak_items), "naive", seed,
                                                  f"{tag} weak", [student_items, test])
            counter.step(f"{tag} weak labels")
            weak_test = correct(weak_proba, test)
            counter.step(f"{tag} weak test")
        [ceiling_proba] = fit_predict(config.strong, student_items, one_hot(student_items), "naive", seed,
                                      f"{tag} ceiling", [test])
        ceiling_test = correct(ceiling_proba, test)
        counter.step(f"{tag} ceiling test")
        for method in config.methods:
            t0 = time.perf_counter()
            [student_proba] = fit_predict(config.strong, student_items, weak_labels, method, seed, f"{tag} {method}",
                                          [test])
            w2s_test = correct(student_proba, test)
            counter.step(f"{tag} {method} test")
            outcome.results.append(SeedResult(seed, method, weak_test.tolist(), w2s_test.tolist(),
                                              ceiling_test.tolist(), time.perf_counter() - t0))
    outcome.seconds = time.perf_counter() - started
    outcome.trained, outcome.reused = cache.trained, cache.reused
    return outcome
