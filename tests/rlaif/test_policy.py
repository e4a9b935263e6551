"""Policy improvement end to end on a tiny random causal LM: best-of-N, DPO (TRL + LoRA), critique-revision,
each evaluated against the base policy by an AI labeller's win rate."""

from __future__ import annotations

import json

import pytest

from oversight.models import create_backend
from oversight.models.config import HFConfig, ScriptedConfig
from oversight.rlaif.config import LabellerSpec
from oversight.rlaif.labeller import Labeller
from oversight.rlaif.pairs import read_pairs
from oversight.rlaif.policy import run_best_of_n, run_critique, run_dpo, win_rate, write_comparison_file


class PrefersLonger(Labeller):
    spec = LabellerSpec(constitution=("Be thorough.",))

    def prefer(self, conversation, first, second):
        return 0.5 if len(first) == len(second) else (0.9 if len(first) > len(second) else 0.1)


@pytest.fixture(scope="module")
def policy(tiny_lm):
    backend = create_backend(HFConfig(name="tiny-policy", model=str(tiny_lm), device="cpu",
                                         max_seq_len=1024, batch_wait_ms=5))
    yield backend
    backend.close()


def test_win_rate_counts_ties_half_and_reports_losses():
    got = win_rate(PrefersLonger(), ["c"] * 4, ["long one", "x", "same", "longer"], ["short", "yy", "four", "a"])
    assert (got["wins"], got["losses"], got["ties"], got["n"]) == (2, 1, 1, 4)
    assert got["estimate"] == pytest.approx(2.5 / 4) and got["ci_low"] < 0.625 < got["ci_high"]


def test_best_of_n_keeps_the_highest_reward_sample_and_beats_one_sample(policy, pairs_file):
    from oversight.rlaif.best_of_n import best_of_n

    def reward(conversations, responses):
        return [float(len(r)) for r in responses]

    out = best_of_n(policy, reward, "Human: tell me about the ship", 4, max_new_tokens=12, seed=1)
    assert len(set(out.candidates)) > 1  # seeded samples differ
    assert out.best == max(out.candidates, key=len) and out.rewards[out.best_index] == max(out.rewards)
    conversations = [p.conversation for p in read_pairs(pairs_file).pairs[:3]]
    result = run_best_of_n(policy=policy, reward=reward, conversations=conversations, n=4,
                           labeller=PrefersLonger(), max_new_tokens=12)
    # The labeller likes length and the reward model picks the longest of 4 (one of which is the base): no losses.
    assert result["win_rate"]["losses"] == 0 and result["win_rate"]["n"] == 3
    assert len(result["examples"]) == 3


def test_critique_revision_uses_the_constitution_and_keeps_the_revision():
    model = create_backend(ScriptedConfig(name="critic",
                                       responses=["base answer", "It is rude.", "A polite, much longer answer."]))
    result = run_critique(policy=model, conversations=["Human: hi"], labeller=PrefersLonger(), rounds=1)
    step = result["first_steps"][0][0]
    assert step == {"principle": "Be thorough.", "critique": "It is rude.", "revision": "A polite, much longer answer."}
    assert result["examples"][0]["improved"] == "A polite, much longer answer."
    assert result["win_rate"]["wins"] == 1


def test_critique_revision_runs_on_a_real_causal_lm(policy):
    from oversight.rlaif.critique import CritiqueRevision, critique_and_revise

    rev = critique_and_revise(policy, CritiqueRevision(principles=("Be kind.", "Be safe."), rounds=2,
                                                       max_new_tokens=8), "Human: hello", "go away")
    assert len(rev.steps) == 2 and all(s["principle"] in ("Be kind.", "Be safe.") for s in rev.steps)
    assert rev.final == (rev.steps[-1]["revision"] or rev.steps[0]["revision"] or "go away")


@pytest.mark.slow
def test_dpo_trains_merges_and_is_evaluated_against_the_base(tmp_path, tiny_lm, pairs_file):
    import torch
    from transformers import AutoModelForCausalLM

    pairs = read_pairs(pairs_file).pairs[:8]
    targets = {p.key: float(p.preferred == 0) for p in pairs}
    result = run_dpo(policy_path=str(tiny_lm), train=pairs, targets=targets,
                     conversations=[p.conversation for p in pairs[:2]], labeller=PrefersLonger(),
                     output_dir=str(tmp_path / "dpo"), max_new_tokens=8, max_steps=3, batch_size=4,
                     learning_rate=5e-3, lora_r=4, max_length=256)
    training = result["training"]
    assert training["steps"] == 3 and training["n_pairs"] == 8 and len(training["losses"]) == 3
    assert result["win_rate"]["n"] == 2
    base = AutoModelForCausalLM.from_pretrained(str(tiny_lm))
    tuned = AutoModelForCausalLM.from_pretrained(training["model_path"])
    changed = any(not torch.equal(a, b) for a, b in zip(base.state_dict().values(), tuned.state_dict().values()))
    assert changed  # the merged LoRA update reached the saved weights


def test_comparison_file_imports_for_people_to_judge(study, tmp_path):
    from oversight.importers import import_path

    path = tmp_path / "cmp.jsonl"
    n = write_comparison_file(path, ["Human: a", "Human: b", "Human: c"], ["better", "same", "x"], ["worse", "same", ""])
    assert n == 1  # identical and empty comparisons are left out
    assert json.loads(path.read_text())["chosen"].endswith("Assistant: better")
    assert import_path(study_id=study.id, fmt="hh-rlhf", path=path).n_items == 1


def test_improve_policy_from_a_file_with_the_extractive_judge_and_a_comparison_file(db, pairs_file, models, tmp_path):
    from oversight.rlaif.lab import LabSourceError, improve_policy

    out = tmp_path / "cmp.jsonl"
    result = improve_policy(method="critique", policy="critic", data=pairs_file, n_eval=3, comparison_file=out)
    assert result["win_rate"]["n"] == 3 and result["labeller"] == "default v1 (extractive)"
    assert "all" not in result and len(result["examples"]) == 3
    assert result["comparison_lines"] == len(out.read_text().splitlines())
    with pytest.raises(LabSourceError, match="reward model"):
        improve_policy(method="best-of-n", policy="critic", data=pairs_file)
    with pytest.raises(LabSourceError, match="hf model"):
        improve_policy(method="dpo", policy="critic", data=pairs_file)
