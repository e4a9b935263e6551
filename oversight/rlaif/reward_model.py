"""Reward models trained with the Bradley-Terry loss on preference pairs, from any label source.

A label source gives, per training pair, the probability that response 0 is the better one: 1/0 for the data
set's labels and for people's (majority) labels, the averaged both-order probability for an AI labeller (soft
labels, as Lee et al. 2023 train their reward models). Held-out pairs are drawn by a seeded split of the pairs
that does not depend on the label source, so reward models trained on different sources are scored on the
same pairs: accuracy = share of held-out pairs where the model rewards the reference's preferred response
higher, against the data set's labels and, where a study has them, the experts'.

Backends:
- `encoder` (CPU, the default): the shipped sentence encoder (all-MiniLM-L6-v2), frozen, embeds the last human
  turn and the response; a small MLP head maps [context, response, context*response] to a scalar reward. The
  encoder reads ~64 tokens of each text, so this is a cheap baseline, not a fine-tuned reward model.
- `hf` (GPU): a transformers sequence classifier (one logit) with LoRA adapters (`peft`), trained by TRL's
  `RewardTrainer` (BT loss on chosen/rejected text; soft AI labels are rounded to hard ones there, and pairs
  with an exact tie are left out).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

from oversight.rlaif.agreement import proportion
from oversight.rlaif.errors import RlaifError
from oversight.rlaif.pairs import HUMAN, Pair
from storage.vocabulary import REWARD_BACKENDS

Progress = Callable[[int, int, str], None]


@dataclass
class RewardConfig:
    backend: str = "encoder"  # storage.vocabulary.REWARD_BACKENDS: encoder | hf
    epochs: int = 20
    lr: float = 1e-3
    hidden: int = 256
    weight_decay: float = 1e-2
    batch_size: int = 64
    seed: int = 0
    test_fraction: float = 0.25  # held-out share when no separate test file is given
    # --- hf ---
    model: str = ""  # local path or hub id of the base model (loaded with local_files_only)
    lora_r: int = 16
    max_length: int = 512
    hf_epochs: float = 1.0
    hf_lr: float = 1e-4
    hf_batch_size: int = 8


def bt_loss(r0, r1, target):
    """Bradley-Terry loss with (soft) targets: -[t log s(r0 - r1) + (1 - t) log s(r1 - r0)], averaged.
    With t = 1 this is the usual -log sigmoid(r_chosen - r_rejected)."""
    import torch.nn.functional as F

    d = r0 - r1
    return -(target * F.logsigmoid(d) + (1 - target) * F.logsigmoid(-d)).mean()


def split_pairs(pairs: Sequence[Pair], test_fraction: float, seed: int = 0) -> tuple[list[Pair], list[Pair]]:
    """(train, held-out) by a seeded shuffle of the pair keys: the same pairs are held out whatever the labels."""
    keys = sorted(p.key for p in pairs)
    random.Random(seed).shuffle(keys)
    n_test = max(1, round(len(keys) * test_fraction)) if len(keys) > 1 else 0
    test = set(keys[:n_test])
    return [p for p in pairs if p.key not in test], [p for p in pairs if p.key in test]


def last_human_turn(conversation: str) -> str:
    """The final human message (what the response answers); the whole text when there is no marker."""
    text = "\n\n" + conversation.strip()
    cut = text.rfind(HUMAN)
    return text[cut + len(HUMAN):].strip() if cut >= 0 else conversation.strip()


class EncoderRewardModel:
    """Frozen sentence encoder + MLP head: reward(conversation, response) -> float."""

    def __init__(self, backend, config: RewardConfig):
        import torch

        self.backend, self.config = backend, config
        torch.manual_seed(config.seed)
        self.head = None

    def features(self, conversations: Sequence[str], responses: Sequence[str]):
        import torch

        ctx = torch.tensor(self.backend.encode([last_human_turn(c) for c in conversations]))
        rsp = torch.tensor(self.backend.encode(list(responses)))
        return torch.cat([ctx, rsp, ctx * rsp], dim=1)

    def _build(self, dim: int):
        from torch import nn

        self.head = nn.Sequential(nn.Linear(dim, self.config.hidden), nn.ReLU(), nn.Dropout(0.1),
                                  nn.Linear(self.config.hidden, 1))

    def fit(self, pairs: Sequence[Pair], targets: Sequence[float], progress: Progress | None = None) -> list[float]:
        """Train the head; returns the mean loss per epoch."""
        import torch

        cfg = self.config
        f0 = self.features([p.conversation for p in pairs], [p.responses[0] for p in pairs])
        f1 = self.features([p.conversation for p in pairs], [p.responses[1] for p in pairs])
        t = torch.tensor(list(targets), dtype=torch.float32)
        torch.manual_seed(cfg.seed)
        self._build(f0.shape[1])
        opt = torch.optim.AdamW(self.head.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        gen = torch.Generator().manual_seed(cfg.seed)
        losses = []
        self.head.train()
        for epoch in range(cfg.epochs):
            order = torch.randperm(len(t), generator=gen)
            total = 0.0
            for start in range(0, len(t), cfg.batch_size):
                idx = order[start:start + cfg.batch_size]
                loss = bt_loss(self.head(f0[idx]).squeeze(-1), self.head(f1[idx]).squeeze(-1), t[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(idx)
            losses.append(total / len(t))
            if progress:
                progress(epoch + 1, cfg.epochs, f"epoch {epoch + 1} loss {losses[-1]:.3f}")
        self.head.eval()
        return losses

    def score(self, conversations: Sequence[str], responses: Sequence[str]) -> list[float]:
        import torch

        with torch.no_grad():
            return self.head(self.features(conversations, responses)).squeeze(-1).tolist()

    def save(self, path) -> None:
        import torch

        torch.save({"config": asdict(self.config), "state": self.head.state_dict(),
                    "dim": self.head[0].in_features}, path)

    @classmethod
    def load(cls, path, backend) -> "EncoderRewardModel":
        import torch

        blob = torch.load(path, weights_only=True)
        model = cls(backend, RewardConfig(**blob["config"]))
        model._build(blob["dim"])
        model.head.load_state_dict(blob["state"])
        model.head.eval()
        return model


class HFRewardModel:
    """A sequence classifier with LoRA adapters, trained with TRL's RewardTrainer."""

    def __init__(self, config: RewardConfig):
        self.config = config
        self.model = self.tokenizer = None

    @staticmethod
    def text(conversation: str, response: str) -> str:
        return f"{conversation.strip()}\n\nAssistant: {response.strip()}"

    def fit(self, pairs: Sequence[Pair], targets: Sequence[float], output_dir: str) -> list[float]:
        import torch
        from datasets import Dataset
        from peft import LoraConfig, TaskType
        from transformers import AutoModelForSequenceClassification, AutoTokenizer
        from trl import RewardConfig as TrlRewardConfig
        from trl import RewardTrainer

        cfg = self.config
        if not cfg.model:
            raise RlaifError("the hf reward model needs a base model path (RewardConfig.model)")
        tok = AutoTokenizer.from_pretrained(cfg.model, local_files_only=True)
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
        model = AutoModelForSequenceClassification.from_pretrained(
            cfg.model, num_labels=1, local_files_only=True,
            dtype=torch.bfloat16 if torch.cuda.is_available() else torch.float32)
        model.config.pad_token_id = tok.pad_token_id
        rows = []
        for p, t in zip(pairs, targets):
            if t == 0.5:
                continue
            good, bad = (0, 1) if t > 0.5 else (1, 0)
            rows.append({"chosen": self.text(p.conversation, p.responses[good]),
                         "rejected": self.text(p.conversation, p.responses[bad])})
        args = TrlRewardConfig(output_dir=output_dir, num_train_epochs=cfg.hf_epochs, learning_rate=cfg.hf_lr,
                               per_device_train_batch_size=cfg.hf_batch_size, max_length=cfg.max_length,
                               report_to=[], save_strategy="no", logging_steps=1, seed=cfg.seed,
                               bf16=torch.cuda.is_available(), use_cpu=not torch.cuda.is_available())
        lora = LoraConfig(task_type=TaskType.SEQ_CLS, r=cfg.lora_r, lora_alpha=2 * cfg.lora_r, lora_dropout=0.0)
        trainer = RewardTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tok,
                                peft_config=lora)
        trainer.train()
        self.model, self.tokenizer = trainer.model.eval(), tok
        return [h["loss"] for h in trainer.state.log_history if "loss" in h]

    def score(self, conversations: Sequence[str], responses: Sequence[str]) -> list[float]:
        import torch

        out = []
        device = next(self.model.parameters()).device
        with torch.no_grad():
            for c, r in zip(conversations, responses):
                enc = self.tokenizer(self.text(c, r), return_tensors="pt", truncation=True,
                                     max_length=self.config.max_length).to(device)
                out.append(float(self.model(**enc).logits[0, 0]))
        return out


def pairwise_accuracy(model, pairs: Sequence[Pair], reference: dict[str, int]) -> dict:
    """Share of `pairs` with a reference label where the model rewards the referenced response higher (a tie is
    wrong), with its 95 % interval."""
    labelled = [p for p in pairs if p.key in reference]
    if not labelled:
        return proportion(0, 0)
    r0 = model.score([p.conversation for p in labelled], [p.responses[0] for p in labelled])
    r1 = model.score([p.conversation for p in labelled], [p.responses[1] for p in labelled])
    right = sum((a > b) if reference[p.key] == 0 else (b > a) for p, a, b in zip(labelled, r0, r1))
    return proportion(right, len(labelled))


def train_and_evaluate(*, train: Sequence[Pair], targets: dict[str, float], evaluations: dict[str, dict[str, int]],
                       test: Sequence[Pair], config: RewardConfig, encoder=None, output_dir: str | None = None,
                       progress: Progress | None = None) -> tuple[object, dict]:
    """Train on the train pairs that have a target; score held-out accuracy against each reference labelling."""
    if config.backend not in REWARD_BACKENDS:  # refused before training, not when the run is stored
        raise RlaifError(f"the backend must be one of {', '.join(REWARD_BACKENDS)} (got {config.backend!r})")
    used = [p for p in train if p.key in targets]
    if len(used) < 2:
        raise RlaifError(f"only {len(used)} training pairs have labels from this source; a reward model needs more")
    if config.backend == "hf":
        import tempfile

        model = HFRewardModel(config)
        losses = model.fit(used, [targets[p.key] for p in used], output_dir or tempfile.mkdtemp(prefix="rm-"))
    else:
        model = EncoderRewardModel(encoder, config)
        losses = model.fit(used, [targets[p.key] for p in used], progress)
    result = {"n_train": len(used), "n_test": len(test), "final_loss": losses[-1] if losses else None,
              "accuracy": {name: pairwise_accuracy(model, test, ref) for name, ref in evaluations.items()}}
    return model, result
