"""Trainings are cached by their configuration, data and seed: a rerun trains nothing, and a run that changes only
the method reuses the weak supervisor and the ceiling."""

from __future__ import annotations

import pytest

from oversight.w2s.cache import TrainingCache, cache_dir
from oversight.w2s.config import W2SConfig
from oversight.w2s.runner import run_config

TINY = dict(n_train=12, n_test=6, seeds=1, epochs=1, batch_size=4, max_len=48, bootstrap=200)


@pytest.mark.slow
def test_a_second_run_trains_nothing_and_methods_share_weak_and_ceiling(db, boolq_file):
    config = W2SConfig(dataset="boolq", train_path=str(boolq_file), weak="bow", methods=["naive"], **TINY)
    first = run_config(config)
    assert (first.trained, first.reused) == (3, 0)  # weak, ceiling, one student
    assert any(cache_dir().glob("*.npz"))  # under the data dir
    again = run_config(W2SConfig.from_dict({**config.to_dict(), "bootstrap": 300}))  # not a training setting
    assert (again.trained, again.reused) == (0, 3)
    assert [r.w2s for r in again.results] == [r.w2s for r in first.results]
    assert again.summary()["trainings"] == {"trained": 0, "reused": 3}
    both = run_config(W2SConfig.from_dict({**config.to_dict(), "methods": ["naive", "logconf"]}))
    assert (both.trained, both.reused) == (1, 3)  # only the logconf student is new
    other_seed = run_config(W2SConfig.from_dict({**config.to_dict(), "seeds": 2}))
    assert (other_seed.trained, other_seed.reused) == (3, 3)  # seed 1 is new, seed 0 is not


def test_the_key_changes_with_what_a_training_depends_on(tmp_path, boolq_file):
    import numpy as np

    from oversight.w2s.cache import training_key
    from oversight.w2s.data import read_examples
    from oversight.w2s.train import one_hot

    items = read_examples("boolq", boolq_file)
    train, test = items[:8], items[8:]
    base = W2SConfig(dataset="boolq", train_path="x", **TINY)
    key = training_key("minilm", base, train, one_hot(train), "naive", 0, [test])
    assert key == training_key("minilm", W2SConfig.from_dict({**base.to_dict(), "n_train": 99, "seeds": 7}),
                               train, one_hot(train), "naive", 0, [test])
    soft = one_hot(train) * 0.8 + 0.1
    for other in (training_key("bow", base, train, one_hot(train), "naive", 0, [test]),
                  training_key("minilm", W2SConfig.from_dict({**base.to_dict(), "lr": 1e-4}), train, one_hot(train),
                               "naive", 0, [test]),
                  training_key("minilm", base, train[1:], one_hot(train[1:]), "naive", 0, [test]),
                  training_key("minilm", base, train, soft, "naive", 0, [test]),
                  training_key("minilm", base, train, one_hot(train), "logconf", 0, [test]),
                  training_key("minilm", base, train, one_hot(train), "naive", 1, [test]),
                  training_key("minilm", base, train, one_hot(train), "naive", 0, [test[1:]])):
        assert other != key
    cache = TrainingCache(tmp_path)
    calls = []
    out = cache.predictions(key, lambda: calls.append(1) or [np.ones((2, 2))])
    again = cache.predictions(key, lambda: calls.append(1) or [np.zeros((2, 2))])
    assert calls == [1] and (again[0] == out[0]).all() and (cache.trained, cache.reused) == (1, 1)
