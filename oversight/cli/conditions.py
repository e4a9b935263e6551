"""`conditions add|list|set|remove|run`: who answers a study's items, with which strategy version."""

from __future__ import annotations

import argparse

from oversight.cli.common import CliError, add_command, add_group, emit, known_study, progress_bar, whole
from oversight.cli.runs import emit_batch


def _condition_row(c, counts=None) -> dict:
    row = {"id": c.id, "name": c.name, "kind": c.kind, "strategy_id": c.strategy_id, "position": c.position}
    if counts is not None:
        row.update(assignments=counts.assignments, done=counts.done, items=counts.items, practice=counts.practice)
    return row


def cmd_conditions_add(args) -> None:
    from oversight.sandwiching.conditions import add_condition

    row = add_condition(study_id=known_study(args.study), kind=args.kind, name=args.name or "",
                        strategy_id=args.strategy)
    emit(args, _condition_row(row), str(row.id))


def cmd_conditions_list(args) -> None:
    from oversight.sandwiching.conditions import design_summary, list_conditions

    study_id = known_study(args.study)
    counts = {c.id: c for c in design_summary(study_id=study_id)}
    rows = [_condition_row(c, counts.get(c.id)) for c in list_conditions(study_id=study_id)]
    text = "\n".join(f"{r['id']:>4}  {r['name']} [{r['kind']}] strategy={r['strategy_id'] or '-'} "
                     f"assignments={r['assignments']} items={r['items']}" for r in rows) or "no conditions yet"
    emit(args, rows, text)


def cmd_conditions_remove(args) -> None:
    from oversight.sandwiching.conditions import remove_condition

    remove_condition(condition_id=args.condition)
    emit(args, {"removed": args.condition}, f"removed condition {args.condition}")


def cmd_conditions_set(args) -> None:
    from oversight.sandwiching.conditions import rename_condition, repoint_condition

    if args.name is None and args.strategy is None:
        raise CliError("give --name and/or --strategy (a version id, or 'none')")
    if args.name is not None:
        rename_condition(condition_id=args.condition, name=args.name)
    if args.strategy is not None:
        sid = None if args.strategy == "none" else whole(args.strategy, "--strategy")
        repoint_condition(condition_id=args.condition, strategy_id=sid)
    emit(args, {"condition": args.condition}, f"condition {args.condition} changed")


def cmd_conditions_run(args) -> None:
    """Run a model-alone condition now (in this process, with a progress bar), the same run the page enqueues: the
    items people are dealt, the assistant's inputs, replacing an earlier run's results."""
    from oversight.protocols.batch import run_model_alone

    emit_batch(args, run_model_alone(condition_id=args.condition, limit=args.limit, progress=progress_bar(args)))


def register(sub: argparse._SubParsersAction) -> None:
    conds = add_group(sub, "conditions", "a study's conditions (who answers, with which strategy version)",
                      "conditions_cmd")
    sp = add_command(conds, "add", cmd_conditions_add, "add a condition (prints its id)")
    sp.add_argument("--study", type=int, required=True)
    sp.add_argument("--kind", required=True, choices=["alone", "model", "assisted", "expert"])
    sp.add_argument("--strategy", type=int, help="strategy version id (assisted and model need one)")
    sp.add_argument("--name", help="default: from the kind and strategy")
    sp = add_command(conds, "list", cmd_conditions_list, "the conditions with their assignments and items so far")
    sp.add_argument("--study", type=int, required=True)
    sp = add_command(conds, "set", cmd_conditions_set, "rename a condition or point it at another strategy version")
    sp.add_argument("--condition", type=int, required=True)
    sp.add_argument("--name")
    sp.add_argument("--strategy", help="a strategy version id, or 'none'")
    sp = add_command(conds, "remove", cmd_conditions_remove, "remove a condition no assignment uses")
    sp.add_argument("--condition", type=int, required=True)
    sp = add_command(conds, "run", cmd_conditions_run, "run a model-alone condition: its strategy's AI-only run over "
                                                       "the items people are dealt (a re-run replaces the earlier "
                                                       "results)")
    sp.add_argument("--condition", type=int, required=True)
    sp.add_argument("--limit", type=int)
    sp.add_argument("--quiet", action="store_true", help="no progress bar on stderr")
