"""A cache of trainings: a model's predictions, keyed by a hash of everything the training and the prediction depend on.

A run trains, per seed, a weak supervisor, a strong ceiling and one student per method. The weak supervisor and the
ceiling do not depend on the method, and the ceiling does not depend on the supervisor either, so a second run that
changes only the method, the weak model or the number of bootstrap resamples would train them again for nothing.
Each training is therefore stored under `<data dir>/w2s-cache/<key>.npz` with the predictions it was asked for,
where the key hashes:
- the model (`spec`) and the settings that change how it trains (`TRAINING_FIELDS`: not n_train, seeds or
  bootstrap, which only choose the data, counted in the data hash);
- the training items (key, text, choices, gold) and the targets it learns (one-hot gold or weak soft labels);
- the loss and the seed;
- the items it predicts (key, text, choices);
- `CACHE_VERSION`, bumped whenever a classifier's training code changes what it learns.
Only predictions are stored (kilobytes), never weights. Delete the folder to retrain everything.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from oversight.settings import get_settings
from oversight.w2s.config import W2SConfig
from oversight.w2s.data import Example

log = logging.getLogger(__name__)

CACHE_VERSION = 1
TRAINING_FIELDS = ("dataset", "epochs", "lr", "batch_size", "max_len", "lora", "top_layers")


def cache_dir() -> Path:
    return get_settings().data_dir / "w2s-cache"


def _items(examples: Sequence[Example], *, gold: bool) -> list:
    return [[e.key, e.text, list(e.choices)] + ([e.label] if gold else []) for e in examples]


def training_key(spec: str, config: W2SConfig, examples: Sequence[Example], targets: np.ndarray, loss: str,
                 seed: int, predict_on: Sequence[Sequence[Example]]) -> str:
    payload = {
        "version": CACHE_VERSION, "spec": spec, "settings": {f: getattr(config, f) for f in TRAINING_FIELDS},
        "train": _items(examples, gold=True), "targets": np.round(np.asarray(targets, dtype=float), 6).tolist(),
        "loss": loss, "seed": seed, "predict": [_items(s, gold=False) for s in predict_on],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]


class TrainingCache:
    """Predictions of past trainings; `trained` and `reused` count this instance's misses and hits."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or cache_dir()
        self.trained = 0
        self.reused = 0

    def predictions(self, key: str, train: Callable[[], list[np.ndarray]]) -> list[np.ndarray]:
        """The stored predictions under `key`, or `train()`'s (stored before they are returned)."""
        path = self.folder / f"{key}.npz"
        if path.is_file():
            try:
                with np.load(path) as stored:
                    out = [stored[f"p{i}"] for i in range(len(stored.files))]
                self.reused += 1
                log.info("w2s cache: reused training %s", key)
                return out
            except (OSError, ValueError, KeyError):  # a half-written or damaged entry: train again
                log.warning("w2s cache: unreadable entry %s, training again", key)
        out = train()
        self.trained += 1
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, **{f"p{i}": p for i, p in enumerate(out)})
        tmp.replace(path)  # atomic: a concurrent run never reads a half-written entry
        log.info("w2s cache: stored training %s", key)
        return out
