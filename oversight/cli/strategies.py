"""`strategy create|list`: a study's versioned strategies (protocol, rules, prompts, model roles)."""

from __future__ import annotations

import argparse

from oversight.cli.common import add_command, add_group, emit, json_arg, known_study
from oversight.protocols.registry import PROTOCOLS


def cmd_strategy_create(args) -> None:
    from oversight.protocols.strategies import create_strategy

    rules, prompts = json_arg(args.rules, "--rules"), json_arg(args.prompts, "--prompts")
    if args.rounds is not None:
        rules["rounds"] = args.rounds
    roles = {k: v for k, v in (("debater", args.debater), ("consultant", args.consultant),
                               ("assistant", args.assistant), ("judge", args.judge)) if v}
    name = args.name or f"{args.protocol} ({', '.join(f'{k}={v}' for k, v in roles.items()) or 'default models'})"
    row = create_strategy(study_id=known_study(args.study), name=name, protocol=args.protocol, rules=rules,
                          prompts=prompts, model_roles=roles)
    emit(args, {"id": row.id, "name": row.name, "version": row.version, "protocol": row.protocol,
                "rules": row.rules, "prompts": row.prompts, "model_roles": row.model_roles}, str(row.id))


def cmd_strategy_list(args) -> None:
    from oversight.protocols.strategies import list_strategies

    rows = [{"id": r.id, "name": r.name, "version": r.version, "protocol": r.protocol, "parent_id": r.parent_id,
             "reason": r.reason, "rules": r.rules, "prompts": r.prompts, "model_roles": r.model_roles}
            for r in list_strategies(study_id=known_study(args.study))]
    emit(args, rows, "\n".join(f"{r['id']:>4}  {r['name']} v{r['version']} [{r['protocol']}]" for r in rows)
         or "no strategies yet")


def register(sub: argparse._SubParsersAction) -> None:
    strategy = add_group(sub, "strategy", "versioned strategies", "strategy_cmd")
    sp = add_command(strategy, "create", cmd_strategy_create, "save a new strategy (prints its version id)")
    sp.add_argument("--study", type=int, required=True)
    sp.add_argument("--protocol", required=True, choices=list(PROTOCOLS))
    sp.add_argument("--name")
    sp.add_argument("--rounds", type=int)
    sp.add_argument("--debater", help="model name for the debaters")
    sp.add_argument("--consultant", help="model name for the consultant")
    sp.add_argument("--assistant", help="model name for the assistant (assisted QA)")
    sp.add_argument("--judge", help="model name for the AI judge")
    sp.add_argument("--rules", help='more rules as JSON, e.g. \'{"speeches": "sequential"}\'')
    sp.add_argument("--prompts", help='prompts as JSON by model role, e.g. \'{"assistant": {"system": "..."}}\'')
    sp = add_command(strategy, "list", cmd_strategy_list, "list a study's strategy versions")
    sp.add_argument("--study", type=int, required=True)
