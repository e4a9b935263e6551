"""`backup` and `restore`: the whole database to one file while people go on working, and back into an empty one
(see oversight/backup.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

from oversight.cli.common import add_command, emit, progress_bar


def cmd_backup(args) -> None:
    from oversight.backup import backup

    manifest = backup(out=Path(args.out), progress=progress_bar(args))
    rows = sum(manifest["tables"].values())
    emit(args, manifest, f"backed up {rows} rows of {len(manifest['tables'])} tables (schema revision "
                         f"{manifest['schema_revision']}) to {args.out}")


def cmd_restore(args) -> None:
    from oversight.backup import restore

    result = restore(path=Path(args.file), progress=progress_bar(args))
    emit(args, result, f"restored {result['rows']} rows of {len(result['tables'])} tables (schema revision "
                       f"{result['schema_revision']})")


def register(sub: argparse._SubParsersAction) -> None:
    sp = add_command(sub, "backup", cmd_backup, "back up the whole database to one file (online)")
    sp.add_argument("--out", required=True, help="the backup file to write (a zip)")
    sp.add_argument("--quiet", action="store_true", help="no progress bar")
    sp = add_command(sub, "restore", cmd_restore, "restore a backup into an empty database")
    sp.add_argument("file")
    sp.add_argument("--quiet", action="store_true", help="no progress bar")
