"""The offline (extractive) judge on NYU questions from stories it was not trained on: AI-only debate, consultancy
and model alone through the real batch runner, with 95 % intervals (oversight.results.intervals, clustered by
story, since questions on one story are correlated).

The held-out stories are the ones `oversight.models.judge_head.story_split` holds out; the script refuses to run if
the cached head's training or validation stories meet them. It trains the head first if it is not cached
(minutes, once). Run from the repository root:

    nice -n 10 python bench/offline_judge_eval.py [--limit N] [--judge trained|similarity] [--json OUT]
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
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def heldout_study(held: set, limit: int | None) -> tuple[int, dict[int, str]]:
    """A new open study holding the NYU questions of the `held` stories (the first `limit`), on the configured
    database; returns its id and each item's story id."""
    from sqlmodel import select

    from oversight.db import init_db, session_scope
    from oversight.importers.common import land
    from oversight.importers.nyu import parse
    from oversight.settings import get_settings
    from oversight.study.studies import create_study
    from storage.models import Item

    init_db()
    batch = parse(get_settings().datasets_dir / "nyu_human_debate")
    batch.items = [i for i in batch.items if i.meta["quality_article_id"] in held][: limit or None]
    batch.transcripts = []
    study = create_study(name="offline judge eval", user_id=None, status="open")
    land(batch, study_id=study.id)
    with session_scope(write=False) as s:
        items = s.exec(select(Item).where(Item.of_study(study.id))).all()
        return study.id, {item.id: item.meta["quality_article_id"] for item in items}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=None, help="first N held-out questions only")
    ap.add_argument("--judge", choices=("trained", "similarity"), default="trained")
    ap.add_argument("--protocols", default="debate,consultancy,model-alone")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    os.environ["OVERSIGHT_EXTRACTIVE_JUDGE"] = args.judge
    work = Path(tempfile.mkdtemp(prefix="offline-judge-"))
    # A throwaway database; the head's cache stays in the configured data_dir (trained once, reused).
    os.environ["OVERSIGHT_DATABASE_URL"] = f"sqlite:///{work / 'bench.db'}"

    from oversight.settings import get_settings, reset_settings

    reset_settings()
    settings = get_settings()
    from oversight.models import get_model
    from oversight.models import judge_head as jh
    from oversight.protocols import strategies
    from oversight.protocols.batch import run_batch
    from oversight.results.intervals import Obs, accuracy

    backend = get_model("extractive")
    started = time.perf_counter()
    head = None
    if args.judge == "trained":
        backend.load()
        head = jh.load_or_train(backend, data_dir=settings.data_dir, datasets_dir=settings.datasets_dir,
                                encoder_id=backend.encoder_id)
        if head is None:
            sys.exit("no NYU data to train the judge on")
    head_s = time.perf_counter() - started

    questions = jh.load_nyu_questions(settings.datasets_dir)
    split = jh.story_split([q.story_id for q in questions])
    held = set(split.heldout)
    if head is not None:
        seen = set(head.meta["train_story_ids"]) | set(head.meta["validation_story_ids"])
        if seen & held:
            sys.exit(f"the head was trained on held-out stories: {sorted(seen & held)}")
    study_id, story_of = heldout_study(held, args.limit)
    roles = {"debater": "extractive", "consultant": "extractive", "judge": "extractive"}
    out = {"judge": args.judge, "n_heldout_stories": len(held), "n_questions": len(story_of),
           "head": head.meta if head else None, "head_seconds": round(head_s, 1), "protocols": {}}
    for protocol in args.protocols.split(","):
        model_roles = {k: v for k, v in roles.items()
                       if k in {"debate": ("debater", "judge"), "consultancy": ("consultant", "judge"),
                                "model-alone": ("judge",)}[protocol]}
        sid = strategies.create_strategy(study_id=study_id, name=f"eval {protocol}", protocol=protocol,
                                         rules={"rounds": 3} if protocol != "model-alone" else {},
                                         model_roles=model_roles).id
        t0 = time.perf_counter()
        result = run_batch(study_id=study_id, strategy_id=sid, sees_source=True)
        obs = [Obs(item=story_of[o.item_id], person=None, value=float(o.correct)) for o in result.judged]
        est = accuracy(obs, key=protocol)
        out["protocols"][protocol] = {"n": len(obs), "accuracy": est.estimate, "ci": [est.ci_low, est.ci_high],
                                      "errors": sum(o.error is not None for o in result.outcomes),
                                      "seconds": round(time.perf_counter() - t0, 1)}
        print(protocol, json.dumps(out["protocols"][protocol]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    print(json.dumps({k: v for k, v in out.items() if k != "head"}, indent=1))


if __name__ == "__main__":
    main()
