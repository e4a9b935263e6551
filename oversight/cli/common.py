"""What every command group shares: registering a command, printing its result (`--json`), refusing with a
message (`CliError`, exit 1), checking a study id, reading arguments and drawing a progress bar.

Imports nothing from the command groups, so they can all import it without a circle.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any


class CliError(Exception):
    """A refusal meant for the person at the terminal: printed as `error: ...`, exit status 1."""


def add_command(parent: argparse._SubParsersAction, name: str, fn: Callable[[argparse.Namespace], None],
                help: str) -> argparse.ArgumentParser:
    """A subcommand that runs `fn(args)`; every command takes `--json`."""
    sp = parent.add_parser(name, help=help)
    sp.add_argument("--json", action="store_true", help="print machine-readable JSON")
    sp.set_defaults(fn=fn)
    return sp


def add_group(parent: argparse._SubParsersAction, name: str, help: str, dest: str) -> argparse._SubParsersAction:
    """A command with subcommands of its own (`study create`, `study list`, ...); one of them is required."""
    return parent.add_parser(name, help=help).add_subparsers(dest=dest, required=True)


def emit(args: argparse.Namespace, data: Any, text: str) -> None:
    print(json.dumps(data, indent=2, default=str) if getattr(args, "json", False) else text)


def known_study(study_id: int) -> int:
    """The id itself, once it names a study: a mistyped id is refused before anything runs."""
    from oversight.study.studies import get_study

    if get_study(study_id) is None:
        raise CliError(f"no study with id {study_id} (see `python -m oversight study list`)")
    return study_id


def whole(raw: str, flag: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise CliError(f"{flag} takes a whole number or 'all'") from None


def json_arg(raw: str | None, flag: str) -> dict:
    """A JSON-object option (`--rules`, `--labels`, ...); absent or empty is {}."""
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise CliError(f"{flag} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise CliError(f"{flag} must be a JSON object")
    return value


def progress(done: int, total: int, message: str) -> None:
    # Progress goes to stderr so that --json output on stdout stays machine-readable.
    width = 30
    filled = width * done // max(total, 1)
    print(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {message:<20}", end="", file=sys.stderr,
          flush=True)
    if done == total:
        print(file=sys.stderr)


def progress_bar(args: argparse.Namespace):
    """The progress callback of a long command: the bar on stderr, or none with `--quiet`."""
    return None if args.quiet else progress
