"""Cross-play on NYU questions from held-out stories with the offline models: extractive debaters at several
best-of-N, the default judge. Does a stronger debater (more candidates, chosen by the judge) rate higher, and is
the judge more accurate when stronger debaters debate each other (Khan et al. 2024)? Runs through the real
cross-play (`oversight.protocols.crossplay.run_crossplay`), so its figures are the page's.

    nice -n 10 python bench/crossplay_eval.py [--n 1,4] [--items 40] [--judge similarity|trained] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", default="1,4", help="best-of-N of each debater version, comma-separated")
    ap.add_argument("--items", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--judge", choices=("trained", "similarity"), default="similarity")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    os.environ["OVERSIGHT_EXTRACTIVE_JUDGE"] = args.judge
    work = Path(tempfile.mkdtemp(prefix="crossplay-"))
    os.environ["OVERSIGHT_DATABASE_URL"] = f"sqlite:///{work / 'bench.db'}"

    from oversight.settings import get_settings, reset_settings

    reset_settings()
    from offline_judge_eval import heldout_study
    from oversight.models import judge_head as jh
    from oversight.protocols import strategies
    from oversight.protocols.crossplay import run_crossplay, summarise, table

    questions = jh.load_nyu_questions(get_settings().datasets_dir)
    held = set(jh.story_split([q.story_id for q in questions]).heldout)
    study_id, _ = heldout_study(held, args.items)
    roles = {"debater": "extractive", "judge": "extractive"}
    versions = [strategies.create_strategy(study_id=study_id, name=f"best of {n}", protocol="debate",
                                           rules={"rounds": args.rounds, "best_of_n": int(n)},
                                           model_roles=roles).id for n in args.n.split(",")]
    started = time.perf_counter()
    last = [0.0]

    def progress(done: int, total: int, message: str) -> None:
        if time.perf_counter() - last[0] > 30 or done == total:
            last[0] = time.perf_counter()
            print(f"{done}/{total} debates, {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)

    result = run_crossplay(study_id=study_id, version_ids=versions, items=args.items, progress=progress)
    summary = summarise(result)
    out = {"judge": args.judge, "rounds": args.rounds, "items": result["items"], "debates": summary.matches,
           "errors": summary.errors, "seconds": round(time.perf_counter() - started, 1),
           "honesty_advantage_elo": round(summary.honesty_advantage_elo, 1), "versions": table(summary),
           "matches": result["matches"]}
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    print(json.dumps({k: v for k, v in out.items() if k != "matches"}, indent=1))


if __name__ == "__main__":
    main()
