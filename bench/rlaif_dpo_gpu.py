"""DPO step throughput (TRL DPOTrainer + LoRA, through oversight.rlaif.dpo.train_dpo) on a real-architecture model.

Pairs: the shared HH-RLHF harmless pairs (data set labels). Model: `--model PATH` (a local checkpoint, e.g.
Qwen2.5-0.5B-Instruct), or with `--random-arch 0.5b|1.5b|7b` random bf16 weights with the real Qwen2.5 dimensions
and a byte-level BPE tokenizer trained here on the pairs (speed does not depend on the values; the vocabulary
keeps its real size, so the LM head costs what it costs in the real model). Nothing downloads.

Prints one JSON object (and writes it to `--out`): steps, seconds, steps/s over all steps and after the first,
pairs/s, tokens per step (padded chosen + rejected), peak GPU memory, the losses.

    python bench/rlaif_dpo_gpu.py --random-arch 0.5b --steps 30 --batch-size 8 --max-length 512 --out bench/results/rlaif-dpo-h200.json
    python bench/rlaif_dpo_gpu.py --cpu --steps 2        # check it runs (tiny config, CPU)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

QWEN = {  # Qwen2.5 dimensions (config.json of the released models)
    "0.5b": dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
                 num_key_value_heads=2, tie_word_embeddings=True),
    "1.5b": dict(hidden_size=1536, intermediate_size=8960, num_hidden_layers=28, num_attention_heads=12,
                 num_key_value_heads=2, tie_word_embeddings=True),
    "7b": dict(hidden_size=3584, intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28,
               num_key_value_heads=4, tie_word_embeddings=False),
    "tiny": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, tie_word_embeddings=True),
}
VOCAB = 151936
TEMPLATE = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
            "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def random_model(arch: str, texts: list[str], path: Path, *, cpu: bool) -> str:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(texts, trainers.BpeTrainer(
        vocab_size=8000, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    fast.chat_template = TEMPLATE
    vocab = 512 if arch == "tiny" else VOCAB
    cfg = Qwen2Config(vocab_size=max(vocab, len(fast)), max_position_embeddings=32768,
                      eos_token_id=fast.eos_token_id, pad_token_id=fast.pad_token_id, **QWEN[arch])
    torch.set_default_dtype(torch.float32 if cpu else torch.bfloat16)  # build in bf16: a 7B fp32 copy is 30 GB
    try:
        model = Qwen2ForCausalLM(cfg)
    finally:
        torch.set_default_dtype(torch.float32)
    model.save_pretrained(path)
    fast.save_pretrained(path)
    return str(path)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", help="local model path")
    ap.add_argument("--random-arch", choices=sorted(QWEN), default="0.5b")
    ap.add_argument("--data", default=None, help="HH-RLHF file (default: the shared harmless pairs)")
    ap.add_argument("--pairs", type=int, default=512)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--max-length", type=int, default=512)
    ap.add_argument("--lora-r", type=int, default=16)
    ap.add_argument("--cpu", action="store_true", help="tiny random model on CPU: check that it runs")
    ap.add_argument("--out")
    args = ap.parse_args()
    if args.cpu:
        os.environ["CUDA_VISIBLE_DEVICES"] = ""

    import torch

    from oversight.rlaif.dpo import DPOSettings, train_dpo
    from oversight.rlaif.pairs import read_pairs
    from oversight.settings import get_settings

    data = args.data or get_settings().datasets_dir / "hh_rlhf_harmless" / "harmless_base_test_shared.jsonl"
    pairs = read_pairs(data, skip_invalid=True, limit=args.pairs).pairs
    targets = {p.key: float(p.preferred == 0) for p in pairs}
    work = Path(tempfile.mkdtemp(prefix="dpo-bench-"))
    arch = "tiny" if args.cpu else args.random_arch
    model = args.model or random_model(arch, [p.conversation + " " + " ".join(p.responses) for p in pairs],
                                       work / "model", cpu=args.cpu)
    result = train_dpo(DPOSettings(model=model, output_dir=str(work / "out"), max_steps=args.steps,
                                   batch_size=args.batch_size, max_length=args.max_length, lora_r=args.lora_r),
                       pairs, targets)
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model)
    lengths = sorted(min(args.max_length, len(tok(p.conversation + r)["input_ids"])) for p in pairs for r in p.responses)
    summary = {
        "model": args.model or f"random Qwen2.5-{arch} dimensions", "device": torch.cuda.get_device_name() if
        torch.cuda.is_available() else "cpu", "torch": torch.__version__, "batch_size": args.batch_size,
        "max_length": args.max_length, "lora_r": args.lora_r, "median_sequence_tokens": lengths[len(lengths) // 2],
        "peak_memory_gb": torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else None,
        **{k: v for k, v in result.items() if k != "model_path"},
    }
    text = json.dumps(summary, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
