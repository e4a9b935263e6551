"""Reward models and DPO evaluated as trained (issue 19): the `hf` reward model scores a response from exactly the
token ids it was trained on (TRL's end token, the same length rule), reports the pairs TRL really trained on,
passes soft AI labels as TRL's `margin`, and DPO never trains on a cut completion.

The data-path tests swap TRL's trainers for subclasses that record the prepared data set and skip the optimiser
steps (the same swap works on any version of our code, so each test fails where the bug is). The learning test
trains for real on a tiny random model built locally (no weights are downloaded)."""

from __future__ import annotations

import math
import random

import pytest

from oversight.rlaif.pairs import Pair

LONG_CONTEXT = " ".join(f"The judge reads quote number {i} from the story and weighs it." for i in range(40))


def _recording(monkeypatch, name: str, *, train: bool = False) -> list:
    """Replace `trl.<name>` by a subclass that remembers each instance (and does not train unless asked)."""
    import trl

    made: list = []
    base = getattr(trl, name)

    class Recording(base):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

        def train(self, *args, **kwargs):
            if train:
                return super().train(*args, **kwargs)
            return None

    monkeypatch.setattr(trl, name, Recording)
    return made


class _Recorder:
    """Stands in for the trained classifier: records the input ids it is asked to score."""

    def __init__(self):
        import torch

        self.seen: list[list[int]] = []
        self._p = torch.nn.Parameter(torch.zeros(1))

    def parameters(self):
        yield self._p

    def __call__(self, input_ids, attention_mask=None, **_):
        import torch
        from types import SimpleNamespace

        mask = attention_mask if attention_mask is not None else torch.ones_like(input_ids)
        for ids, m in zip(input_ids, mask):
            self.seen.append(ids[m.bool()].tolist())
        return SimpleNamespace(logits=torch.zeros(len(input_ids), 1))


def _hf_config(tiny_lm, **kw):
    from oversight.rlaif.reward_model import RewardConfig

    return RewardConfig(**{"backend": "hf", "model": str(tiny_lm), "lora_r": 4, "max_length": 64,
                           "hf_batch_size": 4, "hf_epochs": 1} | kw)


def _pair(i: int, conversation: str, a: str, b: str) -> Pair:
    return Pair(key=f"p{i}", conversation=conversation, responses=(a, b), preferred=0)


def test_two_long_responses_that_differ_only_at_the_end_never_score_from_identical_inputs(tiny_lm):
    from transformers import AutoTokenizer

    from oversight.rlaif.reward_model import HFRewardModel

    model = HFRewardModel(_hf_config(tiny_lm))
    model.tokenizer = AutoTokenizer.from_pretrained(str(tiny_lm), local_files_only=True)
    model.model = recorder = _Recorder()
    conversation = "\n\nHuman: What does the story say about the ship?"
    a = LONG_CONTEXT + " So the answer is A."
    b = LONG_CONTEXT + " So the answer is B."
    model.score([conversation, conversation], [a, b])
    first, second = recorder.seen
    assert len(first) <= 64 and len(second) <= 64  # still within the trained length
    assert first != second


def test_scoring_input_is_the_training_input_including_the_end_token(tiny_lm, tmp_path, monkeypatch):
    from oversight.rlaif.reward_model import HFRewardModel

    made = _recording(monkeypatch, "RewardTrainer")
    conversation = "\n\nHuman: Who picks the answer?"
    pairs = [_pair(0, conversation, "The judge picks it.", "Nobody knows."),
             _pair(1, "\n\nHuman: " + LONG_CONTEXT, "The quotes support A.", "Bob says B.")]
    model = HFRewardModel(_hf_config(tiny_lm))
    model.fit(pairs, [1.0, 0.0], str(tmp_path / "rm"))
    trained = made[0].train_dataset
    tok = model.tokenizer
    model.model = recorder = _Recorder()
    model.score([pairs[0].conversation, pairs[1].conversation], [pairs[0].responses[0], pairs[1].responses[1]])
    chosen_ids = [row["chosen_ids"] for row in trained]
    assert recorder.seen[0] == chosen_ids[0] and recorder.seen[0][-1] == tok.eos_token_id
    assert len(trained) == 2  # the long pair is kept (left-truncated), not silently dropped
    assert recorder.seen == chosen_ids
    # For a short pair this is exactly TRL's own preprocessing of the plain text (end token appended).
    import trl

    from datasets import Dataset

    text = HFRewardModel.text(conversation, "The judge picks it.")
    raw = Dataset.from_list([{"chosen": text, "rejected": HFRewardModel.text(conversation, "Nobody knows.")}])
    theirs = made[0]._prepare_dataset(raw, tok, made[0].args, "check")
    assert theirs[0]["chosen_ids"] == recorder.seen[0]
    assert isinstance(made[0], trl.RewardTrainer)


def test_n_train_counts_the_pairs_the_trainer_really_used(tiny_lm, tmp_path, monkeypatch):
    from oversight.rlaif.reward_model import train_and_evaluate

    made = _recording(monkeypatch, "RewardTrainer")
    train = [_pair(i, f"\n\nHuman: question {i}?", f"Answer A {i}.", f"Answer B {i}.") for i in range(6)]
    train.append(_pair(6, "\n\nHuman: " + LONG_CONTEXT, "Long A.", "Long B."))
    targets = {p.key: 1.0 for p in train} | {"p0": 0.5, "p1": 0.5}  # two ties: no preference to learn
    test = [_pair(9, "\n\nHuman: held out?", "Yes.", "No.")]
    _, result = train_and_evaluate(train=train, targets=targets, test=test, config=_hf_config(tiny_lm),
                                   evaluations={"data set": {"p9": 0}}, output_dir=str(tmp_path / "rm"))
    assert result["n_train"] == len(made[0].train_dataset) == 5
    assert result["n_ties"] == 2


def test_soft_ai_labels_reach_the_trainer_as_margin(tiny_lm, tmp_path, monkeypatch):
    from oversight.rlaif.reward_model import HFRewardModel

    made = _recording(monkeypatch, "RewardTrainer")
    pairs = [_pair(i, f"\n\nHuman: question {i}?", f"First {i}.", f"Second {i}.") for i in range(4)]
    HFRewardModel(_hf_config(tiny_lm)).fit(pairs, [1.0, 0.8, 0.3, 0.6], str(tmp_path / "rm"))
    rows = made[0].train_dataset
    assert "margin" in rows.column_names
    margins = rows["margin"]
    # P(chosen) 1.0 > 0.8 > 0.7 > 0.6: a surer label asks for a larger reward gap; a soft one is not rounded to 1.
    assert margins[0] > margins[1] > margins[2] > margins[3] > 0
    assert margins[1] == pytest.approx(math.log(0.8 / 0.2), rel=1e-5)
    assert margins[2] == pytest.approx(math.log(0.7 / 0.3), rel=1e-5)
    # The third pair's label prefers response 1: that is the chosen text.
    tok = made[0].processing_class
    assert tok.decode(rows[2]["chosen_ids"]).rstrip(tok.eos_token).endswith("Second 2.")


def test_dpo_never_trains_on_a_cut_completion(tiny_lm, tmp_path, monkeypatch):
    from oversight.rlaif.dpo import DPOSettings, train_dpo

    made = _recording(monkeypatch, "DPOTrainer")
    turns = "".join(f"\n\nHuman: Tell me about quote {i} and the ship.\n\nAssistant: Quote {i} says the ship left "
                    f"at dawn, which supports A." for i in range(2))
    long = _pair(0, turns + "\n\nHuman: So which is it?", "It is A, the quotes say dawn.", "It is B.")
    hopeless = _pair(1, "\n\nHuman: " + LONG_CONTEXT, "A.", "B.")  # one turn longer than max_length
    short = _pair(2, "\n\nHuman: Which is it?", "A, by the quotes.", "B.")
    settings = DPOSettings(model=str(tiny_lm), output_dir=str(tmp_path / "dpo"), max_length=170, max_steps=1,
                           batch_size=2, lora_r=4)
    result = train_dpo(settings, [long, hopeless, short], {"p0": 1.0, "p1": 1.0, "p2": 1.0})
    trainer = made[0]
    rows = list(trainer.train_dataset)
    batch = trainer.data_collator(rows)
    n = len(rows)
    completion_tokens = batch["completion_mask"].sum(dim=1).tolist()
    expected = [len(r["chosen_ids"]) for r in rows] + [len(r["rejected_ids"]) for r in rows]
    assert completion_tokens == expected  # every completion token survives the collator's truncation
    assert n == 2 and result["n_pairs"] == 2 and result["n_dropped_too_long"] == 1
    assert result["n_prompts_shortened"] == 1
    # The shortened prompt keeps the end of the conversation (the question being answered).
    tok = trainer.processing_class
    assert "So which is it?" in tok.decode(rows[0]["prompt_ids"])


WORDS = ("the judge reads the quotes and picks an answer ship harbour story cold city air face "
         "alice bob option correct weather white blanket").split()


def _toy_pairs(n: int, seed: int) -> list[Pair]:
    """The same words in both responses, with the marker word `dawn` (chosen) or `night` (rejected) inserted at
    the same random place: a preference a reward model can only learn by reading the response."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        words = [rng.choice(WORDS) for _ in range(rng.randint(4, 8))]
        at = rng.randint(0, len(words))
        good, bad = (" ".join(words[:at] + [w] + words[at:]) + "." for w in ("dawn", "night"))
        q = f"\n\nHuman: {' '.join(rng.choice(WORDS) for _ in range(5))}?"
        first = rng.random() < 0.5
        out.append(Pair(key=f"toy{seed}-{i}", conversation=q, responses=(good, bad) if first else (bad, good),
                        preferred=0 if first else 1))
    return out


@pytest.mark.slow
def test_hf_reward_model_learns_a_toy_preference_and_scores_held_out_pairs_well_above_chance(tiny_lm, tmp_path):
    from oversight.rlaif.reward_model import train_and_evaluate

    train, test = _toy_pairs(64, seed=1), _toy_pairs(40, seed=2)
    targets = {p.key: float(p.preferred == 0) for p in train}
    cfg = _hf_config(tiny_lm, lora_r=8, hf_batch_size=8, hf_epochs=4, hf_lr=2e-2)
    _, result = train_and_evaluate(train=train, targets=targets, test=test, config=cfg,
                                   evaluations={"data set": {p.key: p.preferred for p in test}},
                                   output_dir=str(tmp_path / "rm"))
    acc = result["accuracy"]["data set"]
    assert result["n_train"] == 64 and acc["n"] == 40
    assert acc["estimate"] >= 0.8, result
