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
  `RewardTrainer` (BT loss on chosen/rejected). A label's confidence reaches the trainer as TRL's `margin`
  (`margin_for`: the reward gap the label implies under Bradley-Terry), and pairs with an exact tie are left
  out. One function, `reward_inputs`, builds the token ids for training and for scoring: the text with the
  tokenizer's end token appended (as TRL does), left-truncated to `max_length` so a long input keeps its end
  (the response being judged) instead of being dropped by TRL's length filter at training and cut at its end
  when scored. `n_train` is the number of pairs the trainer really used.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

from oversight.rlaif.agreement import proportion
from oversight.rlaif.errors import RlaifError
from oversight.rlaif.pairs import HUMAN, Pair
from oversight.rlaif.trl_defaults import REWARD_LEARNING_RATE, REWARD_MAX_LENGTH
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
    max_length: int = REWARD_MAX_LENGTH  # tokens a reward model reads, at training and at scoring
    hf_epochs: float = 1.0
    hf_lr: float = REWARD_LEARNING_RATE
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


# The largest margin a label asks for: a hard label (P = 1) has an infinite logit. 3 is the largest margin of
# Touvron et al. 2023 (Llama 2, "significantly better"), a gap of sigmoid(3) = 0.95 under Bradley-Terry.
MAX_MARGIN = 3.0


def margin_for(p_chosen: float) -> float:
    """TRL's `margin` for a pair whose chosen response is better with probability `p_chosen` (>= 0.5): the reward
    gap that probability implies under Bradley-Terry, logit(p), capped at MAX_MARGIN. The loss is then
    -log sigmoid(r_chosen - r_rejected - margin): a surer label asks for a wider gap, and a soft AI label keeps
    its confidence instead of being rounded to a hard one."""
    p = min(max(p_chosen, 0.5), 1.0)
    return MAX_MARGIN if p >= 1.0 else min(math.log(p / (1.0 - p)), MAX_MARGIN)


def reward_inputs(tokenizer, conversation: str, response: str, max_length: int | None) -> tuple[list[int], bool]:
    """The token ids a reward model reads for (conversation, response), and whether they were truncated.

    The one definition used to build the training rows and to score. Like TRL 1.16's RewardTrainer for plain
    text (reward_trainer.py `_prepare_dataset`): the tokenizer's eos token is appended to the text, which is
    tokenized with `tokenizer(text)`. Longer than `max_length`, the *start* is dropped (a leading BOS is kept):
    the classifier reads the last token, and the end holds the response being judged."""
    text = HFRewardModel.text(conversation, response)
    eos = tokenizer.eos_token
    if eos and not text.endswith(eos):
        text += eos
    ids = list(tokenizer(text)["input_ids"])
    if max_length is None or len(ids) <= max_length:
        return ids, False
    keep = 1 if tokenizer.bos_token_id is not None and ids[0] == tokenizer.bos_token_id else 0
    return ids[:keep] + ids[len(ids) - (max_length - keep):], True


class HFRewardModel:
    """A sequence classifier with LoRA adapters, trained with TRL's RewardTrainer."""

    def __init__(self, config: RewardConfig):
        self.config = config
        self.model = self.tokenizer = None
        self.stats: dict[str, int] = {}

    @staticmethod
    def text(conversation: str, response: str) -> str:
        return f"{conversation.strip()}\n\nAssistant: {response.strip()}"

    def fit(self, pairs: Sequence[Pair], targets: Sequence[float], output_dir: str) -> list[float]:
        """Train on the pairs with a preference (ties left out); `self.stats` says how many were used."""
        import torch
        from datasets import Dataset
        from peft import LoraConfig, TaskType
        from transformers import AutoModelForSequenceClassification, AutoTokenizer
        from trl import RewardTrainer

        from oversight.rlaif.reward_config import LabRewardConfig

        cfg = self.config
        if not cfg.model:
            raise RlaifError("the hf reward model needs a base model path (RewardConfig.model)")
        tok = AutoTokenizer.from_pretrained(cfg.model, local_files_only=True)
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
        rows, n_ties, n_truncated = [], 0, 0
        for p, t in zip(pairs, targets):
            if t == 0.5:  # no preference to learn; as a margin it would push an arbitrary side up
                n_ties += 1
                continue
            good, bad = (0, 1) if t > 0.5 else (1, 0)
            chosen, cut_c = reward_inputs(tok, p.conversation, p.responses[good], cfg.max_length)
            rejected, cut_r = reward_inputs(tok, p.conversation, p.responses[bad], cfg.max_length)
            n_truncated += cut_c or cut_r
            # Pre-tokenized rows: TRL skips its own tokenization and keeps only its length filter, which
            # these rows pass, so training and scoring read identical ids.
            rows.append({"chosen_ids": chosen, "rejected_ids": rejected, "margin": margin_for(max(t, 1.0 - t))})
        if not rows:
            raise RlaifError("no training pair has a preference (every label is a tie)")
        model = AutoModelForSequenceClassification.from_pretrained(
            cfg.model, num_labels=1, local_files_only=True,
            dtype=torch.bfloat16 if torch.cuda.is_available() else torch.float32)
        model.config.pad_token_id = tok.pad_token_id
        args = LabRewardConfig(output_dir=output_dir, num_train_epochs=cfg.hf_epochs, learning_rate=cfg.hf_lr,
                               per_device_train_batch_size=cfg.hf_batch_size, max_length=cfg.max_length,
                               seed=cfg.seed)
        lora = LoraConfig(task_type=TaskType.SEQ_CLS, r=cfg.lora_r, lora_alpha=2 * cfg.lora_r, lora_dropout=0.0)
        trainer = RewardTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tok,
                                peft_config=lora)
        used = len(trainer.train_dataset)  # after TRL's own length filter
        self.stats = {"n_train": used, "n_ties": n_ties, "n_too_long": len(rows) - used, "n_truncated": n_truncated}
        trainer.train()
        self.model, self.tokenizer = trainer.model.eval(), tok
        return [h["loss"] for h in trainer.state.log_history if "loss" in h]

    def input_ids(self, conversation: str, response: str) -> list[int]:
        """What the model reads for this response: the training rows' ids (`reward_inputs`)."""
        return reward_inputs(self.tokenizer, conversation, response, self.config.max_length)[0]

    def score(self, conversations: Sequence[str], responses: Sequence[str]) -> list[float]:
        """Rewards in batches padded on the right with the pad token, as TRL's collator pads the training
        batches (the classifier reads the last non-pad token)."""
        import torch

        out: list[float] = []
        device = next(self.model.parameters()).device
        pad = self.tokenizer.pad_token_id
        seqs = [self.input_ids(c, r) for c, r in zip(conversations, responses)]
        step = max(1, self.config.hf_batch_size)
        with torch.no_grad():
            for start in range(0, len(seqs), step):
                batch = seqs[start:start + step]
                width = max(len(s) for s in batch)
                ids = torch.tensor([s + [pad] * (width - len(s)) for s in batch], device=device)
                mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in batch], device=device)
                out.extend(float(x) for x in self.model(input_ids=ids, attention_mask=mask).logits[:, 0])
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
        counts = model.stats  # the pairs the trainer really used (ties and TRL's length filter taken out)
    else:
        model = EncoderRewardModel(encoder, config)
        losses = model.fit(used, [targets[p.key] for p in used], progress)
        counts = {"n_train": len(used)}  # the encoder learns ties as a 0.5 target: every pair is used
    result = counts | {"n_test": len(test), "final_loss": losses[-1] if losses else None,
              "accuracy": {name: pairwise_accuracy(model, test, ref) for name, ref in evaluations.items()}}
    return model, result
