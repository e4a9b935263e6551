"""Generation throughput of the `hf` backend on real Qwen2.5 shapes (random bf16 weights), beside plain `generate`.

Measures, per model size:
- single stream: decode tokens/s of one request (prompt 128 tokens), and its fraction of the memory-bandwidth bound
  (weight bytes x decode steps/s / peak bandwidth: H100 SXM 3.35 TB/s, H200 4.8 TB/s);
- aggregate tokens/s with 8, 32 and 64 concurrent requests (one thread each, streaming);
- p50/p95 time to first token for 32 concurrent requests with 2,000-token prompts: all submitted at the same instant
  (a burst: the last one waits for all 32 prefills), and arriving spread evenly over --ttft-spread seconds (each
  participant's request lands while the others decode);
- baseline: `model.generate` one request at a time (dynamic cache, no compilation);
- with --second-model, that a model compiled after the benchmarked one was closed still warms up and serves (it
  failed on the H200 before `close()` reset torch.compile).
Output length is fixed (min_new_tokens = max_new_tokens, EOS suppressed). Weights are random: speed does not depend
on their values. Prints figures and a JSON summary (also written to --out); asserts nothing about time.

Needs only torch and transformers (no Streamlit, SQLModel or pydantic-settings): the backend is built directly from
an HFConfig.

    python bench/gpu_generation.py --sizes 7b --out bench/results/gpu-7b.json     # on the GPU box
    python bench/gpu_generation.py --cpu --out /tmp/cpu.json                      # tiny config, to check it runs
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from oversight.models.config import HFConfig  # noqa: E402
from oversight.models.hf import HFBackend  # noqa: E402
from oversight.models.types import Message, Request, Sampling  # noqa: E402

# Real Qwen2.5 dimensions (config.json of the published checkpoints).
SIZES = {
    "0.5b": dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
                 num_key_value_heads=2, vocab_size=151936, tie_word_embeddings=True),
    "1.5b": dict(hidden_size=1536, intermediate_size=8960, num_hidden_layers=28, num_attention_heads=12,
                 num_key_value_heads=2, vocab_size=151936, tie_word_embeddings=True),
    "7b": dict(hidden_size=3584, intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28,
               num_key_value_heads=4, vocab_size=152064, tie_word_embeddings=False),
    "tiny": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, vocab_size=2000, tie_word_embeddings=True),
}
PEAK_BW = [("H200", 4.8e12), ("H100 PCIe", 2.0e12), ("H100", 3.35e12), ("A100", 2.0e12)]


def peak_bandwidth(device_name: str) -> float | None:
    for key, bw in PEAK_BW:
        if key in device_name:
            return bw
    return None


def word_tokenizer(vocab_size: int):
    """A word-level tokenizer whose words w0..wN are the model's token ids: prompts of exactly n tokens, cheap
    decoding, no files."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<unk>": 0, "<pad>": 1, "<eos>": 2} | {f"w{i}": i for i in range(3, vocab_size)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    # Only EOS is special (and suppressed by min_new_tokens): every generated token then streams as text.
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<eos>", eos_token="<eos>")


def build(size: str, device: str, dtype):
    import torch
    from transformers import AutoModelForCausalLM, Qwen2Config

    cfg = Qwen2Config(**SIZES[size], max_position_embeddings=32768, rope_theta=1_000_000.0,
                      eos_token_id=2, pad_token_id=1)
    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(cfg, dtype=dtype)
    model.generation_config.eos_token_id = 2
    return model.eval(), word_tokenizer(cfg.vocab_size)


def prompt(n_tokens: int, seed: int) -> list[Message]:
    # The fallback template adds "user:" and "assistant:" (two more tokens).
    words = " ".join(f"w{(seed * 7919 + i * 104729) % 1500 + 10}" for i in range(n_tokens))
    return [Message("user", words)]


def run_concurrent(backend, n: int, prompt_tokens: int, new_tokens: int, spread_s: float = 0.0):
    """n threads stream one request each, the i-th submitted i * spread_s / n seconds after the start (all at once
    when spread_s is 0); returns per-request (submit, first token, last token, tokens)."""
    barrier = threading.Barrier(n + 1)
    out: list = [None] * n

    def worker(i):
        r = Request(messages=prompt(prompt_tokens, i), sampling=Sampling(max_new_tokens=new_tokens, min_new_tokens=new_tokens))
        barrier.wait()
        if spread_s:
            time.sleep(i * spread_s / n)
        t0 = time.perf_counter()
        first = last = None
        count = 0
        for _ in backend.stream(r):
            last = time.perf_counter()
            first = first or last
            count += 1
        out[i] = (t0, first, last, count)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    barrier.wait()
    for t in threads:
        t.join()
    return out


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(q * (len(xs) - 1))))]


def bench_size(size: str, args, device: str, dtype) -> dict:
    import torch

    t = time.perf_counter()
    model, tok = build(size, device, dtype)
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    res = {"size": size, "weight_gb": round(weight_bytes / 1e9, 3), "build_s": round(time.perf_counter() - t, 1)}
    print(f"\n== {size}: {res['weight_gb']} GB of weights", flush=True)
    peak = peak_bandwidth(torch.cuda.get_device_name() if device == "cuda" else "cpu")
    new = args.new_tokens
    max_conc = max(args.concurrency)

    # Baseline: plain generate, one request at a time.
    ids = torch.tensor([[10 + i % 1000 for i in range(args.prompt_tokens)]], device=device)
    gen_kw = dict(max_new_tokens=args.baseline_tokens, min_new_tokens=args.baseline_tokens, do_sample=False,
                  eos_token_id=None, pad_token_id=1)
    with torch.no_grad():
        model.generate(ids, attention_mask=torch.ones_like(ids), **(gen_kw | {"max_new_tokens": 4, "min_new_tokens": 4}))
        sync(device)
        t = time.perf_counter()
        model.generate(ids, attention_mask=torch.ones_like(ids), **gen_kw)
        sync(device)
    base_tps = args.baseline_tokens / (time.perf_counter() - t)
    res["baseline_generate_tok_s"] = round(base_tps, 1)
    res["baseline_bw_fraction"] = round(weight_bytes * base_tps / peak, 3) if peak else None
    print(f"baseline model.generate, 1 request: {base_tps:.1f} tok/s", flush=True)

    cfg = HFConfig(
        name=size, device=device, dtype=str(dtype).removeprefix("torch."), max_batch_size=max_conc,
        max_seq_len=args.ttft_prompt_tokens + 64, static_len=args.static_len or args.prompt_tokens + 2 + new + 16, batch_wait_ms=20, static_cache=args.compile or args.static,
        compile=args.compile, batch_buckets=sorted({1, *args.concurrency}),
    )
    backend = HFBackend(cfg, model=model, tokenizer=tok)
    t = time.perf_counter()
    backend.warm()  # compiles every bucket here, not in a request
    res["warmup_s"] = round(time.perf_counter() - t, 1)
    print(f"warm-up (compile {cfg.compile}, buckets {cfg.batch_buckets}): {res['warmup_s']} s", flush=True)

    # Single stream: decode rate between first and last token.
    rates = []
    for _ in range(args.repeats):
        (t0, first, last, n), = run_concurrent(backend, 1, args.prompt_tokens, new)
        rates.append((n - 1) / (last - first))
    single = statistics.median(rates)
    res["single_stream_tok_s"] = round(single, 1)
    res["single_stream_bw_fraction"] = round(weight_bytes * single / peak, 3) if peak else None
    print(f"single stream: {single:.1f} tok/s" + (f" = {res['single_stream_bw_fraction']:.2f} of bandwidth bound" if peak else ""), flush=True)

    res["aggregate"] = {}
    for n in args.concurrency:
        before = backend.stats.max_batch
        backend.stats.max_batch = 0
        rows = run_concurrent(backend, n, args.prompt_tokens, new)
        start = min(r[0] for r in rows)
        end = max(r[2] for r in rows)
        total = sum(r[3] for r in rows)
        agg = total / (end - start)
        res["aggregate"][str(n)] = {
            "tok_s": round(agg, 1), "x_single": round(agg / single, 1),
            "per_stream_tok_s": round(statistics.median((r[3] - 1) / (r[2] - r[1]) for r in rows), 1),
            "largest_batch": backend.stats.max_batch,
        }
        backend.stats.max_batch = max(before, backend.stats.max_batch)
        print(f"{n} concurrent: {agg:.1f} tok/s aggregate ({agg / single:.1f}x single), largest batch {res['aggregate'][str(n)]['largest_batch']}", flush=True)

    # Time to first token, long prompts (prefill is the same eager, FIFO-grouped code on either path).
    flops = 2 * weight_bytes / 2 * args.ttft_concurrency * args.ttft_prompt_tokens  # ~2 FLOPs per weight per token
    res["ttft"] = {"concurrency": args.ttft_concurrency, "prompt_tokens": args.ttft_prompt_tokens,
                   "new_tokens": args.ttft_new_tokens, "prefill_tflop": round(flops / 1e12, 1),
                   "static_path": args.ttft_prompt_tokens + 2 + args.ttft_new_tokens + 1 <= cfg.static_len}
    for label, spread in (("burst", 0.0), (f"spread_{args.ttft_spread:g}s", args.ttft_spread)):
        rows = run_concurrent(backend, args.ttft_concurrency, args.ttft_prompt_tokens, args.ttft_new_tokens, spread)
        ttft = [r[1] - r[0] for r in rows]
        res["ttft"][label] = {"p50_s": round(pct(ttft, 0.5), 3), "p95_s": round(pct(ttft, 0.95), 3),
                              "min_s": round(min(ttft), 3), "max_s": round(max(ttft), 3)}
        print(f"TTFT {label}, {args.ttft_concurrency} x {args.ttft_prompt_tokens}-token prompts: "
              f"p50 {res['ttft'][label]['p50_s']} s, p95 {res['ttft'][label]['p95_s']} s "
              f"(min {res['ttft'][label]['min_s']}, max {res['ttft'][label]['max_s']}; "
              f"{res['ttft']['prefill_tflop']} TFLOP of prefill in all)", flush=True)
    res["memory_mb"] = backend.info().get("memory_mb")
    backend.close()
    del backend, model
    if device == "cuda":
        torch.cuda.empty_cache()
    return res


def second_model_check(device: str) -> dict:
    """A second compiled model after the benchmarked ones were closed, in this process (bench/second_model.py)."""
    from second_model import run_variant

    try:
        res = run_variant("close", device)
    except Exception as e:  # the figure to report is whether it works
        res = {"ok": False, "error": f"{type(e).__name__}: {e}"}
    print(f"second compiled model in the same process: {res}", flush=True)
    return res


def sync(device):
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def main(argv=None) -> dict:
    import torch

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="0.5b,1.5b,7b", help="comma list of " + ", ".join(SIZES))
    ap.add_argument("--cpu", "--quick", dest="cpu", action="store_true", help="tiny config on CPU, small counts")
    ap.add_argument("--compile", choices=["auto", "on", "off"], default="auto",
                    help="static cache + torch.compile decode (CUDA graphs); auto: on for CUDA, off for --cpu")
    ap.add_argument("--static", action="store_true", help="static cache even without compile")
    ap.add_argument("--new-tokens", type=int, default=256)
    ap.add_argument("--prompt-tokens", type=int, default=128)
    ap.add_argument("--baseline-tokens", type=int, default=64)
    ap.add_argument("--concurrency", default="8,32,64")
    ap.add_argument("--ttft-concurrency", type=int, default=32)
    ap.add_argument("--ttft-prompt-tokens", type=int, default=2000)
    ap.add_argument("--ttft-new-tokens", type=int, default=16)
    ap.add_argument("--ttft-spread", type=float, default=2.0, help="seconds over which the spread arrivals land")
    ap.add_argument("--static-len", type=int, default=0, help="static cache columns (0: prompt + new tokens + 18)")
    ap.add_argument("--second-model", action="store_true", help="then compile and serve a second (tiny) model")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    args.concurrency = [int(x) for x in args.concurrency.split(",")]
    if args.cpu:
        device, dtype, sizes = "cpu", torch.float32, ["tiny"]
        args.new_tokens = min(args.new_tokens, 32)
        args.baseline_tokens = min(args.baseline_tokens, 16)
        args.ttft_prompt_tokens = min(args.ttft_prompt_tokens, 256)
        args.ttft_concurrency = min(args.ttft_concurrency, 8)
        args.ttft_spread = min(args.ttft_spread, 0.5)
        args.repeats = 1
    else:
        if not torch.cuda.is_available():
            sys.exit("No CUDA device; use --cpu to check the script on this machine.")
        device, dtype, sizes = "cuda", torch.bfloat16, args.sizes.split(",")
    # CPU inductor compiles slowly and gains nothing for a tiny model; "on" is there to test the compiled path.
    args.compile = args.compile == "on" or (args.compile == "auto" and device == "cuda")
    summary = {
        "device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
        "peak_bandwidth_tb_s": (peak_bandwidth(torch.cuda.get_device_name()) or 0) / 1e12 if device == "cuda" else None,
        "torch": torch.__version__,
        "transformers": __import__("transformers").__version__,
        "settings": {k: v for k, v in vars(args).items() if k != "out"},
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "results": [bench_size(s, args, device, dtype) for s in sizes],
    }
    if args.second_model:
        summary["second_model"] = second_model_check(device)
    text = json.dumps(summary, indent=2, default=str)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    return summary


if __name__ == "__main__":
    main()
