"""`import`: an item set into a study, in one of the formats of `oversight.importers`; or, with `--format
oversight-export`, a study exported by `export` as a new study (oversight.importers.oversight_export)."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

from oversight.cli.common import CliError, add_command, emit, known_study
from oversight.importers import FORMATS

EXPORT_FORMAT = "oversight-export"  # oversight.importers.oversight_export.FORMAT, without importing it at start


def cmd_import(args) -> None:
    if args.format == EXPORT_FORMAT:
        _import_export(args)
        return
    from oversight.importers import import_path

    if args.study is None:
        raise CliError("--study is required: the study to import into")
    summary = import_path(study_id=known_study(args.study), fmt=args.format, path=Path(args.path))
    data = asdict(summary)
    emit(args, data, ", ".join(f"{k}={v}" for k, v in data.items()))


def _import_export(args) -> None:
    """A study exported elsewhere becomes a new study here (its own settings, people and answers)."""
    from oversight.importers.oversight_export import import_export

    if args.study is not None:
        raise CliError("an oversight-export import makes a new study from the export: leave out --study")
    result = import_export(path=Path(args.path))
    emit(args, asdict(result), result.message)


def register(sub: argparse._SubParsersAction) -> None:
    sp = add_command(sub, "import", cmd_import, "import an item set into a study, or a study export as a new study")
    sp.add_argument("--study", type=int, help=f"the study to import into (not with --format {EXPORT_FORMAT})")
    sp.add_argument("--format", required=True, choices=sorted([*FORMATS, EXPORT_FORMAT]))
    sp.add_argument("path")
