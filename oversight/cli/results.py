"""`report` and `export`: a study's figures, and its data written to a folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from oversight.cli.common import add_command, emit, known_study


def cmd_report(args) -> None:
    from oversight.results.report import report_text, study_report
    from oversight.sandwiching.analysis import text_table

    report = study_report(study_id=known_study(args.study), tag=args.tag)
    emit(args, report, report_text(report) + "\n\n" + text_table(report["sandwich"]))


def cmd_export(args) -> None:
    from oversight.results.export import export_study

    manifest = export_study(study_id=known_study(args.study), out_dir=Path(args.out))
    emit(args, manifest, f"exported to {args.out}")


def register(sub: argparse._SubParsersAction) -> None:
    sp = add_command(sub, "report", cmd_report, "accuracy per setting and judge kind")
    sp.add_argument("--study", type=int, required=True)
    sp.add_argument("--tag")
    sp = add_command(sub, "export", cmd_export, "write a study's data to a folder")
    sp.add_argument("--study", type=int, required=True)
    sp.add_argument("--out", required=True)
