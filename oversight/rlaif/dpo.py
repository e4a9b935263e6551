"""Direct preference optimisation of a policy on labelled pairs with TRL's `DPOTrainer` and LoRA adapters.

The pairs' labels come from any source (an AI labeller version, people, the data set): a target above 0.5
makes response 0 the chosen one, below 0.5 response 1, and an exact tie is left out. Without a `ref_model`,
DPOTrainer with a `peft_config` uses the base model with its adapters disabled as the reference, so one copy of
the weights is enough. After training the adapters are merged and the policy saved as a plain transformers
model (with its tokenizer), which the app's `hf` backend loads by path like any other model.

Checked against TRL 1.16: `DPOTrainer(model, ref_model=None, args=DPOConfig, train_dataset, processing_class,
peft_config)`; conversational rows (`prompt` messages, `chosen`/`rejected` assistant messages) when the
tokenizer has a chat template, plain strings otherwise.

No completion is cut: TRL's collator truncates prompt + completion to `max_length` keeping the start
(`truncation_mode="keep_start"`), which on long HH conversations cuts the end of the very responses DPO compares.
`fit_prompts` measures each row as TRL tokenizes it and drops the earliest turns of its prompt until both
completions fit (the end of the conversation, which the response answers, is kept); a pair whose last human
turn plus completion is still too long is dropped and counted (`n_dropped_too_long`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from oversight.rlaif.errors import RlaifError
from oversight.rlaif.pairs import HUMAN, Pair, conversation_messages
from oversight.rlaif.trl_defaults import DPO_BETA, DPO_LEARNING_RATE, DPO_MAX_LENGTH

Progress = Callable[[int, int, str], None]


@dataclass
class DPOSettings:
    model: str  # local path (or hub id already on disk) of the policy to improve
    output_dir: str
    beta: float = DPO_BETA
    learning_rate: float = DPO_LEARNING_RATE
    epochs: float = 1.0
    batch_size: int = 4
    lora_r: int = 16
    max_length: int = DPO_MAX_LENGTH
    max_steps: int = -1  # > 0 stops after that many optimiser steps (benchmarks, tests)
    seed: int = 0


def _prompt_variants(conversation: str, *, chat: bool) -> list:
    """The row's prompt, then shorter and shorter ones that each start at a later human turn (the last one is
    the final human turn alone)."""
    msgs = [{"role": m.role, "content": m.content} for m in conversation_messages(conversation)]
    if chat:
        starts = [i for i, m in enumerate(msgs) if m["role"] == "user"] or [0]
        return [msgs[i:] for i in starts]
    text = "\n\n" + conversation.strip()
    starts = [i for i in range(len(text)) if text.startswith(HUMAN, i)] or [0]
    return [text[i:].strip() + "\n\nAssistant: " for i in starts]


def dpo_rows(pairs: Sequence[Pair], targets: dict[str, float], *, chat: bool) -> list[dict]:
    """TRL preference rows (prompt, chosen, rejected) for the pairs with a preference; each row keeps the
    shorter prompts it may fall back to under `_variants` (removed by `fit_prompts`)."""
    rows = []
    for p in pairs:
        t = targets.get(p.key)
        if t is None or t == 0.5:
            continue
        good, bad = (p.responses[0], p.responses[1]) if t > 0.5 else (p.responses[1], p.responses[0])
        variants = _prompt_variants(p.conversation, chat=chat)
        if chat:
            rows.append({"prompt": variants[0], "chosen": [{"role": "assistant", "content": good}],
                         "rejected": [{"role": "assistant", "content": bad}], "_variants": variants})
        else:
            rows.append({"prompt": variants[0], "chosen": good, "rejected": bad, "_variants": variants})
    return rows


def sequence_length(tokenizer, prompt, completion) -> int:
    """Tokens of prompt + completion as TRL 1.16's DPOTrainer builds the sequence the collator truncates
    (dpo_trainer.py `_prepare_dataset`: the eos token appended to a plain-text completion, chat rows rendered
    by the template without a generation prompt)."""
    from trl.data_utils import _tokenize

    if isinstance(prompt, list):
        return len(_tokenize(tokenizer, prompt + completion, tools=None)["input_ids"])
    eos = tokenizer.eos_token
    if eos and not completion.endswith(eos):
        completion = completion + eos
    return len(_tokenize(tokenizer, prompt + completion)["input_ids"])


def fit_prompts(rows: list[dict], tokenizer, max_length: int | None) -> tuple[list[dict], dict[str, int]]:
    """Rows whose completions the collator will not cut: each prompt starts at the earliest human turn that lets
    prompt + chosen and prompt + rejected fit in `max_length`; rows where even the last turn does not fit are
    dropped. Returns the rows (without `_variants`) and the counts."""
    kept, shortened, dropped = [], 0, 0
    for row in rows:
        variants = row.pop("_variants", [row["prompt"]])
        if max_length is None:
            kept.append(row)
            continue
        for i, prompt in enumerate(variants):
            if max(sequence_length(tokenizer, prompt, row["chosen"]),
                   sequence_length(tokenizer, prompt, row["rejected"])) <= max_length:
                kept.append(row | {"prompt": prompt})
                shortened += i > 0
                break
        else:
            dropped += 1
    return kept, {"n_prompts_shortened": shortened, "n_dropped_too_long": dropped}


def train_dpo(settings: DPOSettings, pairs: Sequence[Pair], targets: dict[str, float],
              progress: Progress | None = None) -> dict:
    """Train, merge and save; returns the merged model's path, the losses and the step throughput."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig, TaskType
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import DPOTrainer

    from oversight.rlaif.dpo_config import LabDPOConfig

    cuda = torch.cuda.is_available()
    tok = AutoTokenizer.from_pretrained(settings.model, local_files_only=True)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    rows = dpo_rows(pairs, targets, chat=bool(tok.chat_template))
    if not rows:
        raise RlaifError("no labelled pairs to train on (every target was missing or a tie)")
    rows, fitted = fit_prompts(rows, tok, settings.max_length)
    if not rows:
        raise RlaifError(f"every labelled pair is longer than max_length={settings.max_length} tokens even with "
                         "only its last human turn as the prompt; raise max_length")
    model = AutoModelForCausalLM.from_pretrained(settings.model, local_files_only=True,
                                                 dtype=torch.bfloat16 if cuda else torch.float32)
    args = LabDPOConfig(output_dir=settings.output_dir, beta=settings.beta, learning_rate=settings.learning_rate,
                        num_train_epochs=settings.epochs, max_steps=settings.max_steps,
                        per_device_train_batch_size=settings.batch_size, max_length=settings.max_length,
                        seed=settings.seed)
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
    n_used = len(trainer.train_dataset)  # after TRL's own filter (a prompt that fills max_length; none left here)
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
    return {"model_path": str(out), "n_pairs": n_used, **fitted, "steps": steps, "seconds": seconds,
            "steps_per_s": steps / seconds if seconds else None,
            "pairs_per_s": steps * settings.batch_size / seconds if seconds else None,
            # Steps after the first (which pays for allocation and kernel selection).
            "steady_steps_per_s": (len(step_ends) - 1) / (step_ends[-1] - step_ends[0]) if len(step_ends) > 1 else None,
            "losses": [h["loss"] for h in logs if "loss" in h],
            "reward_accuracies": [h["rewards/accuracies"] for h in logs if "rewards/accuracies" in h]}
