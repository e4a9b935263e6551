"""The lab's defaults for TRL training, in one place without importing TRL: read by the settings dataclasses the
app passes around (`reward_model.RewardConfig`, `dpo.DPOSettings`) and by the TRL config subclasses
(`reward_config.LabRewardConfig`, `dpo_config.LabDPOConfig`)."""

# Reward model (`hf` backend).
REWARD_MAX_LENGTH = 512  # tokens a reward model reads, at training and at scoring (left-truncated)
REWARD_LEARNING_RATE = 1e-4  # TRL's RewardConfig default

# DPO.
DPO_BETA = 0.1  # KL penalty strength (Rafailov et al. 2023)
DPO_LEARNING_RATE = 5e-5  # LoRA adapters take a larger rate than TRL's full-model 1e-6
DPO_MAX_LENGTH = 1024  # longest prompt + completion, in tokens
