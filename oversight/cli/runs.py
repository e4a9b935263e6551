"""`run`, `crossplay` and `ai-judge`: AI-only runs over a study's items or its finished transcripts, in this
process."""

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


def cmd_crossplay(args) -> None:
    from oversight.protocols.crossplay import run_crossplay, summarise, table

    versions = [int(v) for v in args.versions.split(",") if v.strip()]
    result = run_crossplay(study_id=known_study(args.study), version_ids=versions, items=args.items,
                           progress=progress_bar(args))
    summary = summarise(result)
    rows = table(summary)
    data = {**result, "ratings": rows, "honesty_advantage_elo": summary.honesty_advantage_elo}
    lines = [" · ".join(f"{k}: {v}" for k, v in row.items()) for row in rows]
    emit(args, data, "\n".join([*lines, f"{summary.matches} debates on {result['items']} items, {summary.errors} "
                                 f"failed; honest debaters' advantage {summary.honesty_advantage_elo:+.0f} Elo; "
                                 f"debates in study {result['copy_study_id']}"]))


def register(sub: argparse._SubParsersAction) -> None:
    sp = add_command(sub, "run", cmd_run, "AI-only batch: AI speakers or assistant and an AI judge over the items")
    sp.add_argument("--study", type=int, required=True)
    sp.add_argument("--strategy", type=int, required=True, help="strategy version id")
    sp.add_argument("--limit", type=int)
    sp.add_argument("--quiet", action="store_true", help="no progress bar on stderr")
    sp = add_command(sub, "crossplay", cmd_crossplay,
                     "debater versions against each other: Elo ratings and the judge's self-play accuracy")
    sp.add_argument("--study", type=int, required=True)
    sp.add_argument("--versions", required=True, help="debate strategy version ids, comma-separated (2 to 6); "
                                                       "the first one's rules and judge run every match")
    sp.add_argument("--items", type=int, default=10, help="items each ordered pair debates on")
    sp.add_argument("--quiet", action="store_true", help="no progress bar on stderr")
    sp = add_command(sub, "ai-judge", cmd_ai_judge, "an AI judge over finished transcripts (e.g. imported NYU rooms)")
    sp.add_argument("--study", type=int, required=True)
    sp.add_argument("--tag")
    sp.add_argument("--limit", type=int)
    sp.add_argument("--model", help="model name (default: the judge role's model)")
    sp.add_argument("--quiet", action="store_true")
