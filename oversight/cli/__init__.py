"""`python -m oversight`: the command-line contract that scripts, CI and other tools rely on.

Every command reads OVERSIGHT_DATABASE_URL (through the settings). Results go to stdout (`--json` for
machine-readable output); errors go to stderr with exit status 1 (2 for usage errors).

One module per command group, each with `register(subparsers)` beside the functions its commands run; the shared
helpers are in `oversight.cli.common`. A new command goes into its group's module (or a new module listed in
GROUPS); GROUPS' order is the order of `python -m oversight --help`.
"""

from __future__ import annotations

import argparse
import sys

from oversight.cli import (access, attention, backups, conditions, imports, jobs, loops, payments, results, reviews, rlaif,
                           runs, setup, simulation, strategies, studies, w2s)
from oversight.cli.common import CliError

GROUPS = (setup, studies, strategies, conditions, runs, imports, access, results, simulation, jobs, payments,
          attention, rlaif, reviews, loops, w2s, backups)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m oversight", description="Oversight Lab command line")
    sub = p.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Errors from the domain carry messages meant for people; anything else is a bug and keeps its traceback.
    from oversight.errors import USER_ERRORS

    try:
        args.fn(args)
    except (CliError, *USER_ERRORS) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
