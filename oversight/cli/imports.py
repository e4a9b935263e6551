"""`import`: an item set into a study, in one of the formats of `oversight.importers`."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

from oversight.cli.common import add_command, emit, known_study
from oversight.importers import FORMATS


def cmd_import(args) -> None:
    from oversight.importers import import_path

    summary = import_path(study_id=known_study(args.study), fmt=args.format, path=Path(args.path))
    data = asdict(summary)
    emit(args, data, ", ".join(f"{k}={v}" for k, v in data.items()))


def register(sub: argparse._SubParsersAction) -> None:
    sp = add_command(sub, "import", cmd_import, "import an item set into a study")
    sp.add_argument("--study", type=int, required=True)
    sp.add_argument("--format", required=True, choices=sorted(FORMATS))
    sp.add_argument("path")
