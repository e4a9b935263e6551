"""Many participants at once on one database: how long a submitted answer takes to become durable, and that
none is lost. Each participant is a thread (as Streamlit serves each browser session on a thread): consent,
then take a task and submit an answer, over and over.

    python bench/participants.py --participants 50 --tasks 20                       # SQLite (WAL) in a temp dir
    python bench/participants.py --url postgresql+psycopg://user@host/db --participants 50

Prints p50/p95/max seconds per submit and per task fetch, answers per second, and the stored count; asserts
nothing about time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))]


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--participants", type=int, default=50)
    ap.add_argument("--tasks", type=int, default=20, help="items in the study = answers per participant")
    ap.add_argument("--url", help="database URL (default: a fresh SQLite file)")
    args = ap.parse_args(argv)
    tmp = tempfile.mkdtemp()
    os.environ["OVERSIGHT_DATABASE_URL"] = args.url or f"sqlite:///{tmp}/bench.db"

    from sqlalchemy import func
    from sqlmodel import select

    from oversight.access import auth
    from oversight.db import init_db, session_scope
    from oversight.study.participation import next_task, record_consent, submit_answer
    from oversight.study.studies import create_study
    from oversight.vocab import CHOICE_CONFIDENCE
    from storage.models import Item, ItemGold, Judgment

    init_db()
    study = create_study(name="bench", user_id=None, status="open")
    with session_scope() as s:
        for i in range(args.tasks):
            item = Item(study_id=study.id, external_id=f"b{i}", question=f"Question {i}?", options=["yes", "no"])
            s.add(item)
            s.flush()
            s.add(ItemGold(item_id=item.id, gold_index=i % 2))
    people = [i.user_id for i in auth.create_invites(study_id=study.id, count=args.participants)]
    fetch, submit, errors = [], [], []
    lock = threading.Lock()
    barrier = threading.Barrier(len(people))

    def participant(uid: int) -> None:
        try:
            record_consent(user_id=uid)
            barrier.wait()
            while True:
                t0 = time.perf_counter()
                task = next_task(user_id=uid)
                t1 = time.perf_counter()
                if task is None:
                    break
                submit_answer(user_id=uid, assignment_id=task.assignment_id, probabilities=[60, 40],
                              answer_form=CHOICE_CONFIDENCE)
                t2 = time.perf_counter()
                with lock:
                    fetch.append(t1 - t0)
                    submit.append(t2 - t1)
        except Exception as exc:  # noqa: BLE001 - counted and reported
            with lock:
                errors.append(repr(exc))

    threads = [threading.Thread(target=participant, args=(uid,)) for uid in people]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    with session_scope(write=False) as s:
        stored = s.exec(select(func.count()).select_from(Judgment)).one()
    result = {
        "database": "postgresql" if args.url else "sqlite (WAL)",
        "participants": args.participants, "tasks_each": args.tasks,
        "answers_expected": args.participants * args.tasks, "answers_stored": stored, "errors": len(errors),
        "answers_per_s": round(len(submit) / wall, 1),
        "submit_s": {"p50": round(pct(submit, 0.5), 4), "p95": round(pct(submit, 0.95), 4),
                     "max": round(max(submit), 4)} if submit else None,
        "next_task_s": {"p50": round(pct(fetch, 0.5), 4), "p95": round(pct(fetch, 0.95), 4),
                        "max": round(max(fetch), 4)} if fetch else None,
        "mean_submit_s": round(statistics.mean(submit), 4) if submit else None,
        "first_errors": errors[:3],
    }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
