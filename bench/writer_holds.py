"""Time holding the process's SQLite writer, per call site, from a log written with OVERSIGHT_WRITER_HOLD_LOG.

    OVERSIGHT_WRITER_HOLD_LOG=/tmp/holds.tsv python bench/load.py --participants 80   # the server inherits it
    python bench/writer_holds.py /tmp/holds.tsv

Prints, per call site (the first function outside the database layers), how many writes, the time holding the
lock (sum, mean, max) and the mean wait for it; asserts nothing.
"""

from __future__ import annotations

import sys
from collections import defaultdict


def main(path: str) -> None:
    sites: dict[str, list[float]] = defaultdict(list)
    waits: dict[str, list[float]] = defaultdict(list)
    with open(path) as log:
        for line in log:
            wait, hold, site = line.rstrip("\n").split("\t")
            sites[site].append(float(hold))
            waits[site].append(float(wait))
    total = sum(sum(h) for h in sites.values())
    print(f"{sum(len(h) for h in sites.values())} writes, {total:.1f} s holding the writer")
    print(f"{'call site':45s} {'writes':>7s} {'hold s':>8s} {'mean ms':>8s} {'max ms':>8s} {'wait ms':>8s}")
    for site, holds in sorted(sites.items(), key=lambda kv: -sum(kv[1])):
        print(f"{site:45s} {len(holds):7d} {sum(holds):8.2f} {1000 * sum(holds) / len(holds):8.1f} "
              f"{1000 * max(holds):8.1f} {1000 * sum(waits[site]) / len(holds):8.1f}")


if __name__ == "__main__":
    main(sys.argv[1])
