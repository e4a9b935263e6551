"""Latency of one extractive debate turn on the longest NYU story, on this CPU.

cold: first turn on a story (its sentences are encoded), encoder already loaded; also reported: encoder load.
warm: later turns on the same story (embeddings cached; only the question and options are encoded).
Prints figures; asserts nothing.

    python bench/extractive.py [--turns 50] [--datasets DIR]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from oversight.models.config import ExtractiveConfig  # noqa: E402
from oversight.models.extractive import ExtractiveBackend, split_passages  # noqa: E402
from oversight.models.types import Request, Task  # noqa: E402
from oversight.protocols.quotes import check_quotes  # noqa: E402
from oversight.text import detokenize  # noqa: E402


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--turns", type=int, default=50)
    ap.add_argument("--datasets", type=Path, default=None, help="default: the datasets_dir setting")
    args = ap.parse_args()
    if args.datasets is None:
        from oversight.settings import get_settings

        args.datasets = get_settings().datasets_dir
    files = sorted((args.datasets / "nyu_human_debate" / "debates").glob("*.json"))
    if not files:
        sys.exit(f"no NYU debates under {args.datasets}")
    rooms = {}
    for f in files:
        d = json.loads(f.read_text())
        story = d["setup"]["sourceMaterial"]["QuALITYSourceMaterial"]
        rooms.setdefault(story["title"], (story["contents"], d["setup"]))
    title, (tokens, setup) = max(rooms.items(), key=lambda kv: len(kv[1][0]))
    source = detokenize(tokens)
    words = len(source.split())
    backend = ExtractiveBackend(ExtractiveConfig(name="extractive"))
    t = time.perf_counter()
    backend.load()
    load_s = time.perf_counter() - t

    def turn(side: int) -> float:
        task = Task(role="debater", question=setup["question"], options=tuple(setup["answers"]), source=source,
                    answer_index=side, char_limit=750, quote_limit=500)
        t0 = time.perf_counter()
        text = backend.complete([Request(task=task)])[0].text
        dt = time.perf_counter() - t0
        assert all(q.verified for q in check_quotes(text, source))
        return dt

    cold = turn(0)
    warm = [turn(i % 2) for i in range(args.turns)]
    print(f"story: {title!r}, {words} words, {len(split_passages(source))} passages")
    print(f"encoder load: {load_s:.2f} s")
    print(f"cold turn (story encoded): {cold * 1000:.0f} ms")
    print(f"warm turns (n={len(warm)}): p50 {pct(warm, 0.5) * 1000:.1f} ms, p95 {pct(warm, 0.95) * 1000:.1f} ms, "
          f"mean {statistics.mean(warm) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
