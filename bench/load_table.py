"""The load matrix of issue 23 as one markdown table: app and floor side by side (`bench/load.py --with-floor`, so
each pair shares a sitting) at several sizes, for the default mix and direct QA only, plus one row on PostgreSQL.

    python bench/load_table.py --out bench/results/load-table.md             # 20 / 40 / 80 / 120 people, think 3 s
    python bench/load_table.py --people 80 --database-url postgresql+psycopg://user@host/empty_db
    python bench/load_table.py --people 4,10 --think 1 --direct-items 3 --debate-items 2   # a quick check

Every cell is its own `bench/load.py` process (a fresh server and a fresh SQLite file each; the PostgreSQL row
needs an empty database, as `bench/load.py --database-url` does). Run it on a quiet machine: the clients share it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ACTIONS = ("join", "consent", "submit", "next", "continue", "first_speech")
CPU = "server_cpu_s_per_participant_minute"


def run_cell(people: int, only: str | None, database_url: str | None, common: list[str]) -> dict:
    argv = [sys.executable, str(REPO / "bench" / "load.py"), "--with-floor", "--json",
            "--participants", str(people), *common]
    if only:
        argv += ["--only", only]
    if database_url:
        argv += ["--database-url", database_url]
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout[done.stdout.index("{"):])


def p95s(result: dict) -> str:
    actions = result["actions"]
    return " | ".join(f"{actions[a]['p95']:.2f}" if a in actions else "–" for a in ACTIONS)


def integrity(result: dict) -> str:
    return "/".join("–" if result[k] is None else str(result[k]) for k in ("errors", "lost", "duplicates"))


def rows(people: int, mix: str, db: str, pair: dict) -> list[str]:
    app, floor = pair["app"], pair["floor"]
    out = []
    for name, r in (("app", app), ("floor", floor)):
        slowest = max((r["actions"][a]["max"] for a in ACTIONS if a in r["actions"]), default=0)  # not staff
        ratio = f"{pair['ratios'].get(CPU, float('nan')):.2f}x" if name == "app" else ""
        out.append(f"| {people} | {mix} | {db if name == 'app' else '–'} | {name} | {p95s(r)} | {slowest:.2f} | "
                   f"{r[CPU]} | {r['server_cores_busy']} | {integrity(r)} | {ratio} |")
    return out


def main(argv: list[str] | None = None) -> str:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--people", default="20,40,80,120", help="sizes, comma-separated")
    ap.add_argument("--think", type=float, default=3.0)
    ap.add_argument("--direct-items", type=int, default=6)
    ap.add_argument("--debate-items", type=int, default=3)
    ap.add_argument("--database-url", help="also one row on this (empty) database at --pg-people people")
    ap.add_argument("--pg-people", type=int, default=80)
    ap.add_argument("--out", type=Path, help="write the table here too")
    args = ap.parse_args(argv)
    common = ["--think", str(args.think), "--direct-items", str(args.direct_items),
              "--debate-items", str(args.debate_items)]
    cells = [(int(n), only, None) for n in args.people.split(",") for only in (None, "direct-qa")]
    if args.database_url:
        cells.append((args.pg_people, None, args.database_url))

    lines = [
        f"Load through the real server and through the floor (plain Streamlit, same page), "
        f"think {args.think} s; p95 and max in seconds; CPU: server CPU s per participant-minute. "
        f"Each app row and the floor row below it come from one `bench/load.py --with-floor` run.",
        "",
        "| people | mix | database | server | " + " | ".join(f"{a} p95" for a in ACTIONS)
        + " | max | CPU/p-min | cores busy | errors/lost/dup | CPU app/floor |",
        "|" + "---|" * (10 + len(ACTIONS)),
    ]
    for people, only, url in cells:
        pair = run_cell(people, only, url, common)
        db = "postgresql" if url else "sqlite"
        lines += rows(people, only or "default", db, pair)
        print(lines[-2], lines[-1], sep="\n", file=sys.stderr, flush=True)
        for err in pair["app"]["first_errors"] + pair["floor"]["first_errors"]:
            print("  error:", err, file=sys.stderr)
    lines += ["", f"Command: `python bench/load_table.py {' '.join(sys.argv[1:] if argv is None else argv)}`; "
              f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}; {platform.machine()}, {os.cpu_count()} CPUs, "
              f"Python {platform.python_version()}."]
    table = "\n".join(lines) + "\n"
    if args.out:
        args.out.write_text(table)
    print(table)
    return table


if __name__ == "__main__":
    main()
