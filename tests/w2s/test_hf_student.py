"""The `hf` student: any Hugging Face model as a sequence classifier, with LoRA, on a tiny random model built
from a config (no download)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from oversight.w2s.config import W2SConfig
from oversight.w2s.errors import W2SError
from oversight.w2s.data import make_example
from oversight.w2s.losses import make_loss
from oversight.w2s.students import HFSequenceClassifier, make_classifier
from oversight.w2s.train import one_hot
from tests.models.conftest import build_tiny_model


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny-w2s"), chat_template=None)


def _binary(n: int = 8):
    return [make_example("boolq", key=f"b{i}", question=f"Is the answer {'yes' if i % 2 == 0 else 'no'}?",
                         options=["Yes", "No"], gold=i % 2, source_text="The judge reads both arguments.")
            for i in range(n)]


def _choices(n: int = 4):
    return [make_example("cosmos", key=f"c{i}", question="Which one?", options=["A", "B", "C", "D"], gold=i % 4,
                         source_text="Quotes from the story are verified.") for i in range(n)]


def _config(**kw) -> W2SConfig:
    return W2SConfig(dataset="boolq", train_path="x", epochs=2, batch_size=4, max_len=32, lr=1e-2, **kw)


def _trainable(clf) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in clf.module.named_parameters() if p.requires_grad}


def test_lora_student_trains_only_adapters_and_head(tiny_path):
    clf = make_classifier(f"hf:{tiny_path}", _config(lora=True))
    assert isinstance(clf, HFSequenceClassifier)
    examples = _binary()
    clf.build(2, False, seed=0)
    assert clf.uses_lora
    names = [n for n, p in clf.module.named_parameters() if p.requires_grad]
    assert names and all("lora_" in n or "score" in n for n in names)
    assert any("score" in n for n in names)  # the classification head is trained in full
    n_frozen = sum(p.numel() for p in clf.module.parameters() if not p.requires_grad)
    assert n_frozen > sum(p.numel() for p in clf.module.parameters() if p.requires_grad)

    steps = []
    clf.fit(examples, one_hot(examples), make_loss("logconf"), seed=0, on_step=lambda: steps.append(1))
    assert len(steps) == clf.steps(len(examples)) == 4  # 2 epochs x 2 batches
    proba = clf.predict_proba(examples)
    assert proba.shape == (8, 2) and np.allclose(proba.sum(axis=1), 1.0, atol=1e-5)


def test_training_changes_the_adapters(tiny_path):
    clf = make_classifier(f"hf:{tiny_path}", _config(lora=True))
    examples = _binary()
    torch.manual_seed(0)
    clf.build(2, False, seed=0)
    before = _trainable(clf)
    from oversight.w2s.train import fit_torch

    fit_torch(clf, examples, one_hot(examples), make_loss("naive"), seed=0)
    after = _trainable(clf)
    changed = [n for n in before if not torch.equal(before[n], after[n])]
    assert any("lora_B" in n for n in changed) and any("score" in n for n in changed)


def test_full_fine_tuning_without_lora_and_multiple_choice_scoring(tiny_path):
    clf = make_classifier(f"hf:{tiny_path}", _config(lora=False))
    examples = _choices()
    clf.fit(examples, one_hot(examples), make_loss("naive"), seed=0)
    assert not clf.uses_lora
    assert all(p.requires_grad for p in clf.module.parameters())
    assert clf.module.config.num_labels == 1  # one score per (text, choice) pair
    proba = clf.predict_proba(examples)
    assert proba.shape == (4, 4) and np.allclose(proba.sum(axis=1), 1.0, atol=1e-5)


def test_small_models_train_in_full_by_default(tiny_path):
    clf = make_classifier(f"hf:{tiny_path}", _config())
    clf.build(2, False, seed=0)
    assert not clf.uses_lora  # far below the LoRA threshold


def test_a_missing_model_is_a_clear_error(tmp_path):
    clf = make_classifier(f"hf:{tmp_path / 'nothing-here'}", _config())
    with pytest.raises(W2SError, match="cannot load Hugging Face model"):
        clf.build(2, False, seed=0)
