"""TRL's `RewardConfig` with the lab's defaults, in one place (the `hf` reward model's trainer arguments).

Checked against TRL 1.16 (trl/trainer/reward_config.py, reward_trainer.py):
- `max_length` is a *filter*, not a truncation: RewardTrainer drops a pair when either tokenized text is longer
  (reward_trainer.py `_prepare_dataset`, "Filtering ... tokens"). The lab hands the trainer token ids it built
  itself (`reward_model.reward_input_ids`), already left-truncated to `max_length`, so that filter keeps every
  pair and the scorer sees exactly what the trainer saw.
- For plain-text rows TRL appends `processing_class.eos_token` to each text before tokenizing; the lab's input
  builder does the same.
- A `margin` column is subtracted from the reward gap in the loss: -log sigmoid(r_chosen - r_rejected - margin).

Imports TRL at module import: import this module lazily (it is only needed when an `hf` model trains)."""

from __future__ import annotations

from dataclasses import dataclass, field

from trl import RewardConfig

from oversight.rlaif.trl_defaults import settle_device, REWARD_LEARNING_RATE, REWARD_MAX_LENGTH


@dataclass
class LabRewardConfig(RewardConfig):
    """The lab's defaults: no checkpoints or trackers (the run is stored by the app), a loss per step for the
    run's record, bf16 on a GPU and the CPU otherwise, and the lab's token window."""

    max_length: int | None = field(default=REWARD_MAX_LENGTH, metadata={"help": "Longest input (left-truncated)."})
    learning_rate: float = field(default=REWARD_LEARNING_RATE, metadata={"help": "AdamW's learning rate."})
    logging_steps: float = field(default=1, metadata={"help": "Log the loss every step."})
    report_to: str | list[str] | None = field(default="none", metadata={"help": "No experiment trackers."})
    save_strategy: str = field(default="no", metadata={"help": "No checkpoints: the app stores the run."})
    # bf16/use_cpu are left None here and settled in __post_init__ from whether a GPU is present.
    bf16: bool | None = field(default=None, metadata={"help": "bf16 on a GPU, fp32 on the CPU when unset."})

    def __post_init__(self):
        settle_device(self)
        super().__post_init__()
