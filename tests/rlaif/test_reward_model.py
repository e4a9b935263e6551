"""Bradley-Terry reward models: the loss on a worked example, the seeded held-out split, a tiny training run per
label source, and the hf + LoRA path through TRL's RewardTrainer on a tiny random model."""

from __future__ import annotations

import math

import pytest

from oversight.rlaif.pairs import read_pairs
from oversight.rlaif.reward_model import bt_loss, last_human_turn, split_pairs


def test_bt_loss_worked_example():
    import torch

    r0, r1 = torch.tensor([1.0]), torch.tensor([0.0])
    # hard label: -log sigmoid(1) = log(1 + e^-1)
    assert float(bt_loss(r0, r1, torch.tensor([1.0]))) == pytest.approx(math.log(1 + math.exp(-1)))
    # reversed label: -log sigmoid(-1) = log(1 + e)
    assert float(bt_loss(r0, r1, torch.tensor([0.0]))) == pytest.approx(math.log(1 + math.e))
    # soft label 0.5: the mean of both
    assert float(bt_loss(r0, r1, torch.tensor([0.5]))) == pytest.approx(
        0.5 * (math.log(1 + math.exp(-1)) + math.log(1 + math.e)))


def test_held_out_split_is_the_same_whatever_the_labels(pairs_file):
    pairs = read_pairs(pairs_file).pairs
    train, test = split_pairs(pairs, 0.25, seed=3)
    assert len(test) == 6 and len(train) == 18 and not {p.key for p in train} & {p.key for p in test}
    assert {p.key for p in split_pairs(list(reversed(pairs)), 0.25, seed=3)[1]} == {p.key for p in test}
    assert last_human_turn("Human: a\n\nAssistant: b\n\nHuman: c?") == "c?"


@pytest.mark.slow
def test_encoder_reward_model_learns_the_data_set_labels_and_reports_held_out_accuracy(db, pairs_file, models):
    from oversight.rlaif.lab import train_reward_model
    from oversight.rlaif.reward_model import RewardConfig, EncoderRewardModel
    from oversight.models import get_model
    from oversight.rlaif.store import list_reward_runs

    result = train_reward_model(labels="dataset", data=pairs_file, config=RewardConfig(epochs=30))
    acc = result["accuracy"]["data set"]
    assert result["n_train"] == 18 and acc["n"] == 6
    assert acc["estimate"] == 1.0  # refusals vs harmful text: an easy, learnable signal
    runs = list_reward_runs()
    assert runs[0].id == result["run_id"] and runs[0].result["accuracy"]["data set"]["k"] == 6
    # The saved head scores like the trained one.
    model = EncoderRewardModel.load(result["weights"], get_model("extractive"))
    pair = read_pairs(pairs_file).pairs[0]
    r = model.score([pair.conversation] * 2, list(pair.responses))
    assert (r[0] > r[1]) == (pair.preferred == 0)


@pytest.mark.slow
def test_reversed_labels_give_a_reward_model_that_is_always_wrong(db, pairs_file, models, monkeypatch):
    """Trained on an AI labeller that prefers the other response, accuracy against the data set collapses: the
    label source really is what the model learns from."""
    from oversight.rlaif import lab
    from oversight.rlaif.reward_model import RewardConfig

    def contrarian(labels, train, progress=None):
        return {p.key: 0.0 if p.preferred == 0 else 1.0 for p in train}

    monkeypatch.setattr(lab, "targets_for", contrarian)
    result = lab.train_reward_model(labels="ai:1", data=pairs_file, config=RewardConfig(epochs=30), save=False)
    assert result["accuracy"]["data set"]["estimate"] == 0.0


def test_ai_label_source_labels_the_training_pairs_with_that_version(db, pairs_file, models):
    from oversight.rlaif.config import create_labeller
    from oversight.rlaif.lab import LabSourceError, targets_for

    v = create_labeller(name="lover", model="first-lover")
    pairs = read_pairs(pairs_file).pairs[:3]
    assert targets_for(f"ai:{v.id}", pairs) == {p.key: pytest.approx(0.5) for p in pairs}
    assert targets_for("dataset", pairs) == {p.key: float(p.preferred == 0) for p in pairs}
    with pytest.raises(LabSourceError):
        targets_for("gpt:1", pairs)


@pytest.mark.slow
def test_hf_reward_model_with_lora_trains_through_trl(tmp_path, tiny_lm, pairs_file):
    from oversight.rlaif.reward_model import RewardConfig, train_and_evaluate

    pairs = read_pairs(pairs_file).pairs
    train, test = split_pairs(pairs, 0.25)
    targets = {p.key: float(p.preferred == 0) for p in train}
    cfg = RewardConfig(backend="hf", model=str(tiny_lm), lora_r=4, max_length=128, hf_batch_size=4, hf_epochs=1)
    model, result = train_and_evaluate(train=train, targets=targets, test=test, config=cfg,
                                       evaluations={"data set": {p.key: p.preferred for p in test}},
                                       output_dir=str(tmp_path / "rm"))
    assert result["n_train"] == 18 and result["accuracy"]["data set"]["n"] == 6
    assert result["final_loss"] is not None and math.isfinite(result["final_loss"])
    assert any("lora" in name for name, _ in model.model.named_parameters())


def test_an_unknown_backend_is_refused_before_training():
    from oversight.rlaif.errors import RlaifError
    from oversight.rlaif.reward_model import RewardConfig, train_and_evaluate

    with pytest.raises(RlaifError, match="backend must be one of encoder, hf"):
        train_and_evaluate(train=[], targets={}, evaluations={}, test=[], config=RewardConfig(backend="gpu"))
