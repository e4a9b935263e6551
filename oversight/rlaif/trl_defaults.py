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


def settle_device(config) -> None:
    """For a TRL config's `__post_init__`: bf16 on a GPU and fp32 on the CPU when `bf16` is unset, and the CPU when
    no GPU is present (shared by `LabRewardConfig` and `LabDPOConfig`)."""
    import torch

    cuda = torch.cuda.is_available()
    if config.bf16 is None:
        config.bf16 = cuda
    if not cuda:
        config.use_cpu = True
