"""Two compiled `hf` models in one process: does the second warm up and serve?

On the lent H200 the second compiled model failed its first CUDA-graph step with an AssertionError (after 0.5B, and
after 7B), even though the first had been closed. This runs each way of doing it in its own process, all at once,
and prints each one's outcome and the end of its traceback:

- close: the first model is closed (which calls torch.compiler.reset()), then the second is built;
- trees: as close, and also resets inductor's CUDA-graph trees, collects garbage and empties the CUDA cache;
- together: both models are alive and serving at the same time (a debater and a judge, say);
- eager: the second model uses the static path without compilation (the fallback if nothing else works).

    python bench/second_model.py --out $OUT/second-model.json       # on the GPU box
    python bench/second_model.py --variant close                     # one way, in this process
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

VARIANTS = ("close", "trees", "together", "eager")


def backend_for(name: str, hidden: int, device: str, compile_: bool):
    import torch
    from gpu_generation import SIZES, word_tokenizer
    from transformers import AutoModelForCausalLM, Qwen2Config

    from oversight.models.config import HFConfig
    from oversight.models.hf import HFBackend

    dims = SIZES["tiny"] | {"hidden_size": hidden, "intermediate_size": 2 * hidden}
    cfg = Qwen2Config(**dims, eos_token_id=2, pad_token_id=1)
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(cfg, dtype=dtype).eval()
    mcfg = HFConfig(name=name, device=device, dtype=str(dtype).removeprefix("torch."),
                       compile=compile_, static_cache=True, batch_buckets=[1, 4], max_batch_size=4, max_seq_len=256)
    return HFBackend(mcfg, model=model, tokenizer=word_tokenizer(cfg.vocab_size))


def serve(backend) -> int:
    from gpu_generation import prompt

    from oversight.models.types import Request, Sampling

    backend.warm()
    r = Request(messages=prompt(32, 1), sampling=Sampling(max_new_tokens=16, min_new_tokens=16))
    return backend.complete([r])[0].tokens


def run_variant(variant: str, device: str) -> dict:
    import torch

    t = time.perf_counter()
    first = backend_for("first", 64, device, True)
    assert serve(first) == 16
    if variant != "together":
        first.close()
    if variant == "trees":
        import gc

        from torch._inductor import cudagraph_trees

        cudagraph_trees.reset_cudagraph_trees()
        gc.collect()
        if device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.empty_cache()
    second = backend_for("second", 128, device, variant != "eager")
    tokens = serve(second)
    again = serve(first) if variant == "together" else None
    second.close()
    if variant == "together":
        first.close()
    return {"ok": tokens == 16 and again in (None, 16), "seconds": round(time.perf_counter() - t, 1)}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variant", choices=VARIANTS)
    ap.add_argument("--cpu", action="store_true")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    device = "cpu" if args.cpu else "cuda"
    if args.variant:
        try:
            res = run_variant(args.variant, device)
        except Exception as e:
            res = {"ok": False, "error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()[-2000:]}
        print("RESULT " + json.dumps(res), flush=True)
        return res
    procs = {v: subprocess.Popen([sys.executable, __file__, "--variant", v] + (["--cpu"] if args.cpu else []),
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for v in VARIANTS}
    out = {}
    for v, p in procs.items():
        text, _ = p.communicate(timeout=600)
        line = next((x for x in text.splitlines() if x.startswith("RESULT ")), None)
        out[v] = json.loads(line[7:]) if line else {"ok": False, "error": f"exit {p.returncode}"}
        print(f"== {v}: {'ok' if out[v]['ok'] else 'FAILED'} {out[v].get('seconds', '')}", flush=True)
        if not out[v]["ok"]:  # the scheduler logs the model's own traceback; the RESULT line has the caller's
            out[v]["log"] = "\n".join(x for x in text.splitlines() if "Warning" not in x)[-6000:]
            print(out[v]["log"], flush=True)
    if args.out:
        args.out.write_text(json.dumps(out, indent=2) + "\n")
    return out


if __name__ == "__main__":
    main()
