"""`python -m oversight`: the command-line contract that scripts, CI and other tools rely on.

Every command reads OVERSIGHT_DATABASE_URL (through the settings). Results go to stdout (`--json` for
machine-readable output); errors go to stderr with exit status 1 (2 for usage errors).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from oversight.importers import FORMATS
from oversight.protocols.registry import PROTOCOLS


class CliError(Exception):
    pass


def _emit(args: argparse.Namespace, data: Any, text: str) -> None:
    print(json.dumps(data, indent=2, default=str) if getattr(args, "json", False) else text)


def _study_id(study_id: int) -> int:
    from oversight.studies import get_study

    if get_study(study_id) is None:
        raise CliError(f"no study with id {study_id} (see `python -m oversight study list`)")
    return study_id


def cmd_init_db(args) -> None:
    from oversight.db import init_db
    from oversight.settings import get_settings

    rev = init_db()
    url = get_settings().resolved_database_url
    _emit(args, {"revision": rev, "database": url.split("@")[-1]}, f"database at revision {rev}")


def cmd_seed_demo(args) -> None:
    from oversight.db import init_db
    from oversight.demo import seed_demo

    init_db()
    seed = seed_demo(admin_name=args.admin, admin_password=_read_password(args) if args.password_stdin else None,
                     invites=args.invites)
    lines = [f"demo study id {seed.study_id}" + ("" if seed.created else " (existed)")]
    if seed.admin_password:
        lines.append(f"admin sign-in: name {seed.admin_name!r}, password {seed.admin_password!r}")
    else:
        lines.append(f"admin {seed.admin_name!r} existed; its password is unchanged "
                     "(reset it with `python -m oversight set-password --name NAME`)")
    lines += ["participant links:"] + [f"  {link}" for link in seed.invite_links]
    _emit(args, asdict(seed), "\n".join(lines))


def _read_password(args) -> str:
    password = sys.stdin.readline().rstrip("\n")
    if not password:
        raise CliError("give the password on standard input")
    return password


def cmd_create_user(args) -> None:
    from oversight.auth import create_user

    user = create_user(role=args.role, name=args.name, password=_read_password(args))
    _emit(args, {"id": user.id, "role": user.role, "name": user.name}, f"created {user.role} {user.name!r} (id {user.id})")


def cmd_set_password(args) -> None:
    from oversight.auth import set_password

    set_password(name=args.name, password=_read_password(args))
    _emit(args, {"name": args.name}, f"password set for {args.name!r}")


def cmd_study_create(args) -> None:
    from oversight.studies import create_study

    study = create_study(name=args.name, user_id=None, description=args.description or "")
    _emit(args, {"id": study.id, "name": study.name}, str(study.id))


def cmd_study_list(args) -> None:
    from oversight.studies import list_studies

    rows = [asdict(s) for s in list_studies()]
    text = "\n".join(f"{r['id']:>4}  {r['name']}  items={r['n_items']} participants={r['n_participants']}"
                     for r in rows) or "no studies yet"
    _emit(args, rows, text)


def cmd_import(args) -> None:
    from oversight.importers import import_path

    summary = import_path(study_id=_study_id(args.study), fmt=args.format, path=Path(args.path))
    data = asdict(summary)
    _emit(args, data, ", ".join(f"{k}={v}" for k, v in data.items()))


def cmd_invite(args) -> None:
    from oversight.auth import create_invites

    invites = create_invites(study_id=_study_id(args.study), count=args.count)
    _emit(args, [asdict(i) for i in invites], "\n".join(i.link for i in invites))


def cmd_enrolment(args) -> None:
    from oversight.auth import enrolment_cap, open_enrolment, set_enrolment_cap

    study_id = _study_id(args.study)
    if args.max_per_minute is None and args.max_total is None:
        link = open_enrolment(study_id=study_id)
        _emit(args, {"link": link}, link)
        return
    # Limits only: the link that is out there keeps working.
    current = enrolment_cap(study_id)
    per_minute = current.max_per_minute if args.max_per_minute is None else _limit(args.max_per_minute)
    total = current.max_total if args.max_total is None else _limit(args.max_total)
    cap = set_enrolment_cap(study_id=study_id, max_per_minute=per_minute, max_total=total)
    _emit(args, {"study_id": study_id, "max_per_minute": cap.max_per_minute, "max_total": cap.max_total},
          f"enrolment limits for study {study_id}: {cap.max_per_minute or 'no limit'} a minute, "
          f"{cap.max_total if cap.max_total is not None else 'no limit'} in total (the link is unchanged)")


def _limit(value: str) -> int | None:
    if value.lower() in ("none", "no", "off"):
        return None
    if not value.isdigit():
        raise CliError(f"a limit is a whole number or 'none', got {value!r}")
    return int(value)


def cmd_sign_out(args) -> None:
    from oversight.auth import end_staff_sessions

    n = end_staff_sessions(name=args.name)
    _emit(args, {"name": args.name, "sessions_ended": n}, f"ended {n} session(s) of {args.name!r}")


def cmd_report(args) -> None:
    from oversight.report import study_report

    report = study_report(study_id=_study_id(args.study), tag=args.tag)
    lines = [f"{r['setting']:<20} {r['judge_kind']:<14} n={r['n']:<5} accuracy={r['accuracy']:.3f}"
             for r in report.get("by_setting", [])]
    _emit(args, report, "\n".join(lines) or "no final judgments yet")


def cmd_export(args) -> None:
    from oversight.export import export_study

    manifest = export_study(study_id=_study_id(args.study), out_dir=Path(args.out))
    _emit(args, manifest, f"exported to {args.out}")


def _progress(done: int, total: int, message: str) -> None:
    # Progress goes to stderr so that --json output on stdout stays machine-readable.
    width = 30
    filled = width * done // max(total, 1)
    print(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {message:<20}", end="", file=sys.stderr,
          flush=True)
    if done == total:
        print(file=sys.stderr)


def cmd_strategy_create(args) -> None:
    from oversight.strategies import create_strategy

    rules, prompts = _json_arg(args.rules, "--rules"), _json_arg(args.prompts, "--prompts")
    if args.rounds is not None:
        rules["rounds"] = args.rounds
    roles = {k: v for k, v in (("debater", args.debater), ("consultant", args.consultant), ("assistant", args.assistant),
                               ("judge", args.judge)) if v}
    name = args.name or f"{args.protocol} ({', '.join(f'{k}={v}' for k, v in roles.items()) or 'default models'})"
    row = create_strategy(study_id=_study_id(args.study), name=name, protocol=args.protocol, rules=rules,
                          prompts=prompts, model_roles=roles)
    _emit(args, {"id": row.id, "name": row.name, "version": row.version, "protocol": row.protocol,
                 "rules": row.rules, "prompts": row.prompts, "model_roles": row.model_roles}, str(row.id))


def _json_arg(raw: str | None, flag: str) -> dict:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise CliError(f"{flag} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise CliError(f"{flag} must be a JSON object")
    return value


def cmd_strategy_list(args) -> None:
    from oversight.strategies import list_strategies

    rows = [{"id": r.id, "name": r.name, "version": r.version, "protocol": r.protocol, "parent_id": r.parent_id,
             "reason": r.reason, "rules": r.rules, "prompts": r.prompts, "model_roles": r.model_roles}
            for r in list_strategies(study_id=_study_id(args.study))]
    _emit(args, rows, "\n".join(f"{r['id']:>4}  {r['name']} v{r['version']} [{r['protocol']}]" for r in rows)
          or "no strategies yet")


def cmd_arms(args) -> None:
    from oversight.strategies import set_arms

    ids = [int(x) for x in args.strategies.split(",") if x.strip()]
    set_arms(study_id=_study_id(args.study), strategy_ids=ids)
    _emit(args, {"arms": ids}, f"participants are dealt strategies {ids or 'none (direct QA)'}")


def cmd_run(args) -> None:
    from oversight.protocols.batch import run_batch

    result = run_batch(study_id=_study_id(args.study), strategy_id=args.strategy, limit=args.limit,
                       progress=None if args.quiet else _progress)
    data = result.to_dict()
    acc = "n/a" if data["accuracy"] is None else f"{data['accuracy']:.3f}"
    _emit(args, data, f"{data['n']} items judged, accuracy {acc}, {data['errors']} errors")


def cmd_ai_judge(args) -> None:
    from oversight.protocols.ai_judge import judge_transcripts

    summary = judge_transcripts(study_id=_study_id(args.study), tag=args.tag, limit=args.limit,
                                model_name=args.model, progress=None if args.quiet else _progress)
    _emit(args, summary, f"judged {summary['n']} transcripts, accuracy {summary['accuracy']}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m oversight", description="Oversight Lab command line")
    sub = p.add_subparsers(dest="command", required=True)

    def add(name: str, fn: Callable, help: str, parent=sub) -> argparse.ArgumentParser:
        sp = parent.add_parser(name, help=help)
        sp.add_argument("--json", action="store_true", help="print machine-readable JSON")
        sp.set_defaults(fn=fn)
        return sp

    add("init-db", cmd_init_db, "create or migrate the database (idempotent)")
    sp = add("seed-demo", cmd_seed_demo, "demo study, items, strategies, invite links")
    sp.add_argument("--admin", default="admin", help="admin name to create if missing")
    sp.add_argument("--password-stdin", action="store_true", help="read the new admin's password from stdin")
    sp.add_argument("--invites", type=int, default=3)
    sp = add("create-user", cmd_create_user, "create an admin or expert (password from stdin)")
    sp.add_argument("--role", required=True, choices=["admin", "expert"])
    sp.add_argument("--name", required=True)
    sp = add("set-password", cmd_set_password, "set an admin's or expert's password (from stdin)")
    sp.add_argument("--name", required=True)

    study = sub.add_parser("study", help="create and list studies").add_subparsers(dest="study_cmd", required=True)
    sp = add("create", cmd_study_create, "create a study (prints its id)", study)
    sp.add_argument("--name", required=True)
    sp.add_argument("--description")
    add("list", cmd_study_list, "list studies", study)

    strategy = sub.add_parser("strategy", help="versioned strategies").add_subparsers(dest="strategy_cmd",
                                                                                      required=True)
    sp = add("create", cmd_strategy_create, "save a new strategy (prints its version id)", strategy)
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
    sp = add("list", cmd_strategy_list, "list a study's strategy versions", strategy)
    sp.add_argument("--study", type=int, required=True)
    sp = add("arms", cmd_arms, "choose the strategy versions participants are dealt")
    sp.add_argument("--study", type=int, required=True)
    sp.add_argument("--strategies", required=True, help="comma-separated version ids ('' for plain direct QA)")
    sp = add("run", cmd_run, "AI-only batch: AI speakers or assistant and an AI judge over the items")
    sp.add_argument("--study", type=int, required=True)
    sp.add_argument("--strategy", type=int, required=True, help="strategy version id")
    sp.add_argument("--limit", type=int)
    sp.add_argument("--quiet", action="store_true", help="no progress bar on stderr")
    sp = add("ai-judge", cmd_ai_judge, "an AI judge over finished transcripts (e.g. imported NYU rooms)")
    sp.add_argument("--study", type=int, required=True)
    sp.add_argument("--tag")
    sp.add_argument("--limit", type=int)
    sp.add_argument("--model", help="model name (default: the judge role's model)")
    sp.add_argument("--quiet", action="store_true")

    sp = add("import", cmd_import, "import an item set into a study")
    sp.add_argument("--study", type=int, required=True)
    sp.add_argument("--format", required=True, choices=sorted(FORMATS))
    sp.add_argument("path")
    sp = add("invite", cmd_invite, "create participant links")
    sp.add_argument("--study", type=int, required=True)
    sp.add_argument("--count", type=int, default=1)
    sp = add("enrolment", cmd_enrolment, "open (or re-issue) a study's enrolment link for Prolific, or set its "
                                          "limits (then the link is unchanged)")
    sp.add_argument("--study", type=int, required=True)
    sp.add_argument("--max-per-minute", help="new participants the link may create a minute (a number or 'none')")
    sp.add_argument("--max-total", help="participants the link may create in all (a number or 'none')")
    sp = add("sign-out", cmd_sign_out, "end every staff session of an admin or expert (e.g. a lost laptop)")
    sp.add_argument("--name", required=True)
    sp = add("report", cmd_report, "accuracy per setting and judge kind")
    sp.add_argument("--study", type=int, required=True)
    sp.add_argument("--tag")
    sp = add("export", cmd_export, "write a study's data to a folder")
    sp.add_argument("--study", type=int, required=True)
    sp.add_argument("--out", required=True)
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
