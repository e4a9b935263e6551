"""CPU per script run of each participant action and staff page, in-process (issue 23).

Drives the same actions as tests/test_statement_budget.py (app.py under Streamlit's AppTest, a participant entering
by their link) for N participants of each kind of study, on a fresh SQLite database, and reports the process CPU
seconds spent inside each action's script runs (the mean over participants), with the SQL counted alongside.
No server, no websocket: this isolates what one script run costs in this process. Run it on two checkouts in one
sitting and compare the ratios (timings on a shared machine are noisy):

    .venv/bin/python -m bench.run_cost --people 5 --json > after.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=5, help="participants per kind of study")
    parser.add_argument("--json", action="store_true", help="one JSON object instead of a table")
    args = parser.parse_args()

    directory = tempfile.mkdtemp(prefix="run-cost-")
    os.environ["OVERSIGHT_DATABASE_URL"] = f"sqlite:///{directory}/cost.db"
    os.environ["OVERSIGHT_DATA_DIR"] = directory
    os.environ["OVERSIGHT_EMBEDDED_WORKER"] = "0"
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

    from streamlit.testing.v1 import AppTest

    from oversight.db import init_db
    from tests import budget_world as world
    from tests.sql_counter import count_sql

    init_db()
    world.configure_models()
    spent = [0.0]
    original = AppTest.run

    def timed_run(self, *a, **kw):
        start = time.process_time()
        try:
            return original(self, *a, **kw)
        finally:
            spent[0] += time.process_time() - start

    AppTest.run = timed_run
    cpu: dict[str, list[float]] = defaultdict(list)
    sql: dict[str, tuple[int, int, int]] = {}
    with count_sql() as counter:
        for n in range(args.people + 1):  # the first person warms the process up and is not counted
            for kind in world.ACTIONS:
                spent[0] = 0.0
                for action, _at in world.participant_actions(counter, kind):
                    if n:
                        cpu[f"{kind}: {action}"].append(spent[0])
                        sql[f"{kind}: {action}"] = (len(counter.runs), counter.statements, counter.transactions)
                    spent[0] = 0.0
                    counter.mark()
        study_id = world.make_study("direct")
        for n in range(args.people + 1):
            for role in world.STAFF_PAGES:
                spent[0] = 0.0
                for action, _at in world.staff_actions(counter, role, study_id, name=f"{role}-{n}"):
                    if n:
                        cpu[action].append(spent[0])
                        sql[action] = (len(counter.runs), counter.statements, counter.transactions)
                    spent[0] = 0.0
                    counter.mark()
    report = {action: {"cpu_ms": round(1000 * statistics.mean(times), 2), "runs": sql[action][0],
                       "statements": sql[action][1], "transactions": sql[action][2]}
              for action, times in cpu.items()}
    if args.json:
        print(json.dumps(report, indent=1))
        return
    print(f"{'action':30s} {'cpu ms':>8s} {'runs':>5s} {'stmts':>6s} {'txns':>5s}")
    for action, r in report.items():
        print(f"{action:30s} {r['cpu_ms']:8.1f} {r['runs']:5d} {r['statements']:6d} {r['transactions']:5d}")


if __name__ == "__main__":
    main()
