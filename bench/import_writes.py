"""Participants' writes during a big import: the longest a small write waits while an item file lands.

A writer thread stores one small row every 20 ms (as participants' answers do) while `import_path` lands a
generated JSON-lines file of about --mb megabytes. Run once with bounded batches (the setting
`import_batch_items`) and once as one transaction (how imports landed before), on SQLite by default:

    python bench/import_writes.py --mb 50
    python bench/import_writes.py --mb 50 --url postgresql+psycopg://user@host/db

Prints the import's seconds and the writes' p50/p99/max wait and failures per mode; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))] if xs else float("nan")


def make_file(path: Path, mb: float) -> int:
    passage = ("The committee met at dawn and argued until the lamps were lit. " * 30).strip()
    n = 0
    with path.open("w") as f:
        while f.tell() < mb * 2**20:
            f.write(json.dumps({"id": f"q{n}", "question": f"What did the committee decide in meeting {n}?",
                                "options": ["to wait", "to act", "to vote", "nothing"], "gold": n % 4,
                                "source_text": passage, "tags": ["bench"]}) + "\n")
            n += 1
    return n


def run(mode: str, batch_items: int, url: str | None, tmp: Path, data: Path) -> None:
    os.environ["OVERSIGHT_DATABASE_URL"] = url or f"sqlite:///{tmp / f'{mode}.db'}"
    os.environ["OVERSIGHT_IMPORT_BATCH_ITEMS"] = str(batch_items)
    from oversight.audit import log_event
    from oversight.db import init_db, session_scope
    from oversight.importers import import_path
    from oversight.settings import reset_settings
    from oversight.study.studies import create_study
    from storage.db import dispose_engines

    reset_settings()
    dispose_engines()
    init_db()
    study = create_study(name=f"bench {mode}", user_id=None)
    waits: list[float] = []
    failures: list[str] = []
    done = threading.Event()

    def writer() -> None:
        while not done.is_set():
            t0 = time.perf_counter()
            try:
                with session_scope() as s:
                    log_event(s, "bench.write", study_id=study.id)
                waits.append(time.perf_counter() - t0)
            except Exception as exc:  # noqa: BLE001 - counted and printed
                failures.append(type(exc).__name__)
            time.sleep(0.02)

    thread = threading.Thread(target=writer)
    thread.start()
    time.sleep(0.5)
    t0 = time.perf_counter()
    summary = import_path(study_id=study.id, fmt="jsonl", path=data)
    seconds = time.perf_counter() - t0
    done.set()
    thread.join()
    print(f"{mode:<16} import {summary.n_items} items in {seconds:6.1f} s | writes {len(waits)}: "
          f"p50 {pct(waits, .5) * 1000:7.1f} ms  p99 {pct(waits, .99) * 1000:8.1f} ms  "
          f"max {max(waits, default=0) * 1000:8.1f} ms  failed {len(failures)}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mb", type=float, default=50)
    p.add_argument("--batch-items", type=int, default=200)
    p.add_argument("--url", help="a database URL (default: a fresh SQLite file per mode)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["OVERSIGHT_DATA_DIR"] = str(tmp)
        data = tmp / "items.jsonl"
        n = make_file(data, args.mb)
        print(f"{data.stat().st_size / 2**20:.1f} MB, {n} items; a small write every 20 ms during the import")
        run(f"batches of {args.batch_items}", args.batch_items, args.url, tmp, data)
        run("one transaction", 10**9, args.url, tmp, data)


if __name__ == "__main__":
    main()
