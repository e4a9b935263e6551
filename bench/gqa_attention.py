"""Decode attention for one layer of Qwen2.5-7B (28 query heads, 4 key/value heads, head size 128) over a padded
static cache: transformers' stock masked path (keys and values repeated per query head, then SDPA) against the packed
path of `oversight/models/hf_attention.py`, both under torch.compile as the decode step runs. Prints milliseconds
per call (CUDA events, median of repeats) and the ratio; asserts nothing about time.

    python bench/gqa_attention.py                 # on the GPU box
    python bench/gqa_attention.py --cpu           # small shapes, to check it runs
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


class _Layer:  # what the attention functions read from the module
    num_key_value_groups = 7
    training = False
    is_causal = True


def main(argv=None) -> dict:
    import torch
    from transformers.integrations.sdpa_attention import repeat_kv

    from oversight.models.hf_attention import packed_gqa_sdpa

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cpu", action="store_true")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    dev, dtype = ("cpu", torch.float32) if args.cpu else ("cuda", torch.bfloat16)
    shapes = [(1, 256), (8, 256)] if args.cpu else [(32, 2048), (1, 2048), (32, 8192)]
    module, hq, hkv, d = _Layer(), 28, 4, 128

    def stock(q, k, v, mask):  # transformers' SDPA path when a mask is given under compile (repeat_kv)
        k, v = repeat_kv(k, 7), repeat_kv(v, 7)
        return torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask).transpose(1, 2).contiguous()

    def packed(q, k, v, mask):
        return packed_gqa_sdpa(module, q, k, v, mask)[0]

    def timed(fn, *xs, reps=50):
        for _ in range(3):
            fn(*xs)
        if dev == "cuda":
            torch.cuda.synchronize()
            out = []
            for _ in range(reps):
                a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                a.record()
                fn(*xs)
                b.record()
                b.synchronize()
                out.append(a.elapsed_time(b))
            return statistics.median(out)
        out = []
        for _ in range(reps // 5):
            t = time.perf_counter()
            fn(*xs)
            out.append((time.perf_counter() - t) * 1e3)
        return statistics.median(out)

    rows = []
    c_stock, c_packed = torch.compile(stock, dynamic=False), torch.compile(packed, dynamic=False)
    for batch, length in shapes:
        torch.manual_seed(0)
        q = torch.randn(batch, hq, 1, d, device=dev, dtype=dtype)
        k = torch.randn(batch, hkv, length, d, device=dev, dtype=dtype)
        v = torch.randn(batch, hkv, length, d, device=dev, dtype=dtype)
        mask = torch.ones(batch, 1, 1, length, device=dev, dtype=torch.bool)
        mask[:, :, :, : length // 3] = False  # left padding, as in the static cache
        diff = (c_stock(q, k, v, mask).float() - c_packed(q, k, v, mask).float()).abs().max().item()
        ms_stock, ms_packed = timed(c_stock, q, k, v, mask), timed(c_packed, q, k, v, mask)
        row = {"batch": batch, "cache_len": length, "stock_ms": round(ms_stock, 4), "packed_ms": round(ms_packed, 4),
               "speedup": round(ms_stock / ms_packed, 2), "max_abs_diff": diff,
               "per_step_saved_ms_28_layers": round(28 * (ms_stock - ms_packed), 2)}
        rows.append(row)
        print(json.dumps(row), flush=True)
    summary = {"device": torch.cuda.get_device_name() if dev == "cuda" else "cpu", "torch": torch.__version__,
               "date": time.strftime("%Y-%m-%d %H:%M"), "rows": rows}
    if args.out:
        args.out.write_text(json.dumps(summary, indent=2) + "\n")
    return summary


if __name__ == "__main__":
    main()
