"""Split the shared HH-RLHF harmless file into a training file and a held-out test file for the W2S lab.

    python bench/w2s_hh_split.py SRC OUT_DIR [--test 600]

Lines are copied verbatim; the test lines are `random.Random(19).sample` of the line indices, so the split is the
same on every machine. Choose settings on a validation split of train.jsonl only (the runner's own split when no
--test is given); test.jsonl is for the final figures.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("src")
    ap.add_argument("out_dir")
    ap.add_argument("--test", type=int, default=600)
    args = ap.parse_args()
    lines = Path(args.src).read_text(encoding="utf-8").splitlines(keepends=True)
    test = set(random.Random(19).sample(range(len(lines)), args.test))
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "train.jsonl").write_text("".join(l for i, l in enumerate(lines) if i not in test), encoding="utf-8")
    (out / "test.jsonl").write_text("".join(l for i, l in enumerate(lines) if i in test), encoding="utf-8")
    print(f"{len(lines) - len(test)} training lines, {len(test)} test lines in {out}")


if __name__ == "__main__":
    main()
