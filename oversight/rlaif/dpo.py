"""Direct preference optimisation of a policy on labelled pairs with TRL's `DPOTrainer` and LoRA adapters.

The pairs' labels come from any source (an AI labeller version, people, the data set): a target above 0.5
makes response 0 the chosen one, below 0.5 response 1, and an exact tie is left out. Without a `ref_model`,
DPOTrainer with a `peft_config` uses the base model with its adapters disabled as the reference, so one copy of
the weights is enough. After training the adapters are merged and the policy saved as a plain transformers
model (with its tokenizer), which the app's `hf` backend loads by path like any other model.

Checked against TRL 1.16: `DPOTrainer(model, ref_model=None, args=DPOConfig, train_dataset, processing_class,
peft_config)`; conversational rows (`prompt` messages, `chosen`/`rejected` assistant messages) when the
tokenizer has a chat template, plain strings otherwise.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from oversight.rlaif.errors import RlaifError
from oversight.rlaif.pairs import Pair, conversation_messages

Progress = Callable[[int, int, str], None]


@dataclass
class DPOSettings:
    model: str  # local path (or hub id already on disk) of the policy to improve
    output_dir: str
    beta: float = 0.1
    learning_rate: float = 5e-5
    epochs: float = 1.0
    batch_size: int = 4
    lora_r: int = 16
    max_length: int = 1024
    max_steps: int = -1  # > 0 stops after that many optimiser steps (benchmarks, tests)
    seed: int = 0


def dpo_rows(pairs: Sequence[Pair], targets: dict[str, float], *, chat: bool) -> list[dict]:
    rows = []
    for p in pairs:
        t = targets.get(p.key)
        if t is None or t == 0.5:
            continue
        good, bad = (p.responses[0], p.responses[1]) if t > 0.5 else (p.responses[1], p.responses[0])
        if chat:
            prompt = [{"role": m.role, "content": m.content} for m in conversation_messages(p.conversation)]
            rows.append({"prompt": prompt, "chosen": [{"role": "assistant", "content": good}],
                         "rejected": [{"role": "assistant", "content": bad}]})
        else:
            rows.append({"prompt": p.conversation.strip() + "\n\nAssistant: ", "chosen": good, "rejected": bad})
    return rows


def train_dpo(settings: DPOSettings, pairs: Sequence[Pair], targets: dict[str, float],
              progress: Progress | None = None) -> dict:
    """Train, merge and save; returns the merged model's path, the losses and the step throughput."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig, TaskType
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import DPOConfig, DPOTrainer

    cuda = torch.cuda.is_available()
    tok = AutoTokenizer.from_pretrained(settings.model, local_files_only=True)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    rows = dpo_rows(pairs, targets, chat=bool(tok.chat_template))
    if not rows:
        raise RlaifError("no labelled pairs to train on (every target was missing or a tie)")
    model = AutoModelForCausalLM.from_pretrained(settings.model, local_files_only=True,
                                                 dtype=torch.bfloat16 if cuda else torch.float32)
    args = DPOConfig(output_dir=settings.output_dir, beta=settings.beta, learning_rate=settings.learning_rate,
                     num_train_epochs=settings.epochs, max_steps=settings.max_steps,
                     per_device_train_batch_size=settings.batch_size, max_length=settings.max_length,
                     report_to=[], save_strategy="no", logging_steps=1, seed=settings.seed, bf16=cuda, use_cpu=not cuda)
    lora = LoraConfig(task_type=TaskType.CAUSAL_LM, r=settings.lora_r, lora_alpha=2 * settings.lora_r,
                      lora_dropout=0.0, target_modules="all-linear")

    step_ends: list[float] = []

    class _Progress(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if cuda:
                torch.cuda.synchronize()
            step_ends.append(time.perf_counter())
            if progress:
                progress(state.global_step, max(state.max_steps, 1), f"DPO step {state.global_step}")

    trainer = DPOTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tok,
                         peft_config=lora, callbacks=[_Progress()])
    if cuda:
        torch.cuda.synchronize()
    started = time.perf_counter()
    trainer.train()
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    steps = trainer.state.global_step
    merged = trainer.model.merge_and_unload()
    out = Path(settings.output_dir) / "merged"
    merged.save_pretrained(out)
    tok.save_pretrained(out)
    logs = trainer.state.log_history
    return {"model_path": str(out), "n_pairs": len(rows), "steps": steps, "seconds": seconds,
            "steps_per_s": steps / seconds if seconds else None,
            "pairs_per_s": steps * settings.batch_size / seconds if seconds else None,
            # Steps after the first (which pays for allocation and kernel selection).
            "steady_steps_per_s": (len(step_ends) - 1) / (step_ends[-1] - step_ends[0]) if len(step_ends) > 1 else None,
            "losses": [h["loss"] for h in logs if "loss" in h],
            "reward_accuracies": [h["rewards/accuracies"] for h in logs if "rewards/accuracies" in h]}
