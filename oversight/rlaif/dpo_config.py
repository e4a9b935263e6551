"""TRL's `DPOConfig` with the lab's defaults, in one place (the DPO trainer's arguments).

Checked against TRL 1.16 (trl/trainer/dpo_config.py, dpo_trainer.py):
- `max_length` truncates prompt + completion per sequence in the collator (`DataCollatorForPreference`), with
  `truncation_mode="keep_start"` the only non-deprecated mode: a long prompt cuts the *end* of the completion,
  the part DPO learns from. TRL only drops a row when the prompt alone fills `max_length`. The lab therefore
  shortens prompts itself before training (`dpo.fit_prompts`: earliest turns first) and drops a pair whose last
  human turn plus completion still does not fit, so the collator never cuts a completion.
- For plain-text rows TRL appends the tokenizer's eos token to each completion; chat rows use the template.

Imports TRL at module import: import this module lazily (it is only needed when DPO trains)."""

from __future__ import annotations

from dataclasses import dataclass, field

from trl import DPOConfig

from oversight.rlaif.trl_defaults import settle_device, DPO_BETA, DPO_LEARNING_RATE, DPO_MAX_LENGTH


@dataclass
class LabDPOConfig(DPOConfig):
    """The lab's defaults: no checkpoints or trackers, a loss per step, bf16 on a GPU and the CPU otherwise."""

    beta: float = field(default=DPO_BETA, metadata={"help": "KL penalty strength (Rafailov et al. 2023)."})
    learning_rate: float = field(default=DPO_LEARNING_RATE, metadata={"help": "A LoRA rate, larger than full DPO's."})
    max_length: int | None = field(default=DPO_MAX_LENGTH, metadata={"help": "Longest prompt + completion, in tokens."})
    truncation_mode: str = field(default="keep_start", metadata={"help": "Never reached: prompts are shortened first."})
    logging_steps: float = field(default=1, metadata={"help": "Log the loss every step."})
    report_to: str | list[str] | None = field(default="none", metadata={"help": "No experiment trackers."})
    save_strategy: str = field(default="no", metadata={"help": "No checkpoints: the merged model is saved."})
    bf16: bool | None = field(default=None, metadata={"help": "bf16 on a GPU, fp32 on the CPU when unset."})

    def __post_init__(self):
        settle_device(self)
        super().__post_init__()
