"""`run` and `ai-judge`: AI-only runs over a study's items or its finished transcripts, in this process."""

from __future__ import annotations

import argparse

from oversight.cli.common import add_command, emit, known_study, progress_bar


def emit_batch(args: argparse.Namespace, result) -> None:
    """A batch run's outcome (also `conditions run`'s): items judged, accuracy, errors."""
    data = result.to_dict()
    acc = "n/a" if data["accuracy"] is None else f"{data['accuracy']:.3f}"
    emit(args, data, f"{data['n']} items judged, accuracy {acc}, {data['errors']} errors")


def cmd_run(args) -> None:
    from oversight.protocols.batch import run_batch

    emit_batch(args, run_batch(study_id=known_study(args.study), strategy_id=args.strategy, limit=args.limit,
                               progress=progress_bar(args)))


def cmd_ai_judge(args) -> None:
    from oversight.protocols.ai_judge import judge_transcripts

    summary = judge_transcripts(study_id=known_study(args.study), tag=args.tag, limit=args.limit,
                                model_name=args.model, progress=progress_bar(args))
    emit(args, summary, f"judged {summary['n']} transcripts, accuracy {summary['accuracy']}")


def register(sub: argparse._SubParsersAction) -> None:
    sp = add_command(sub, "run", cmd_run, "AI-only batch: AI speakers or assistant and an AI judge over the items")
    sp.add_argument("--study", type=int, required=True)
    sp.add_argument("--strategy", type=int, required=True, help="strategy version id")
    sp.add_argument("--limit", type=int)
    sp.add_argument("--quiet", action="store_true", help="no progress bar on stderr")
    sp = add_command(sub, "ai-judge", cmd_ai_judge, "an AI judge over finished transcripts (e.g. imported NYU rooms)")
    sp.add_argument("--study", type=int, required=True)
    sp.add_argument("--tag")
    sp.add_argument("--limit", type=int)
    sp.add_argument("--model", help="model name (default: the judge role's model)")
    sp.add_argument("--quiet", action="store_true")
