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

from oversight.cli_loops import add_loops
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
                     invites=args.invites, simulated=args.simulated)
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
    _emit(args, {"id": study.id, "name": study.name, "status": study.status}, str(study.id))


def cmd_study_check(args) -> None:
    from oversight.launch import check_study, describe

    check = check_study(study_id=_study_id(args.study))
    _emit(args, check.to_dict(), describe(check))


def cmd_study_open(args) -> None:
    from oversight.launch import LaunchRefused, describe, open_study

    try:
        check = open_study(study_id=_study_id(args.study), user_id=None)
    except LaunchRefused as exc:
        raise CliError(describe(exc.check)) from None
    _emit(args, check.to_dict() | {"status": "open"}, describe(check) + f"\nstudy {args.study} is open")


def cmd_study_set(args) -> None:
    from oversight.studies import update_study

    changes = {k: v for k, v in (("name", args.name), ("description", args.description),
                                 ("instructions", args.instructions), ("consent_text", args.consent_text),
                                 ("completion_code", args.completion_code), ("design", args.design),
                                 ("allocation", args.allocation), ("practice_items", args.practice_items),
                                 ("review_share", args.review_share), ("blind_review", args.blind_review),
                                 ("completion_url", args.completion_url), ("currency", args.currency),
                                 ("base_pay", args.base_pay), ("bonus_rule", args.bonus_rule),
                                 ("bonus_amount", args.bonus_amount), ("catch_items", args.catch_items),
                                 ("min_seconds_per_item", args.min_seconds_per_item),
                                 ("attention_warn", args.attention_warn),
                                 ("attention_exclude", args.attention_exclude))
               if v is not None}
    convergence = {k: v for k, v in (("min_participants", args.min_participants),
                                     ("min_confidence", args.min_confidence),
                                     ("min_agreement", args.min_agreement)) if v is not None}
    if convergence:
        from oversight.studies import get_study

        changes["convergence"] = {**get_study(_study_id(args.study)).convergence, **convergence}
    if args.items_per_participant is not None:
        changes["items_per_participant"] = None if args.items_per_participant == "all" else \
            _whole(args.items_per_participant, "--items-per-participant")
    changed = update_study(study_id=_study_id(args.study), user_id=None, **changes)
    _emit(args, {"changed": changed}, f"changed: {', '.join(changed)}" if changed else "nothing changed")


def _whole(raw: str, flag: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise CliError(f"{flag} takes a whole number or 'all'") from None


def cmd_study_list(args) -> None:
    from oversight.studies import list_studies, study_label

    studies = list_studies()
    rows = [asdict(s) for s in studies]
    text = "\n".join(f"{s.id:>4}  {study_label(s)}  {s.status}  items={s.n_items} participants={s.n_participants}"
                     for s in studies) or "no studies yet"
    _emit(args, rows, text)


def cmd_study_history(args) -> None:
    from oversight.audit import setting_changes

    rows = setting_changes(study_id=_study_id(args.study), limit=args.limit)
    text = "\n".join(f"{r['when']:%Y-%m-%d %H:%M}  {r['by']}  {r['setting']}: {r['old']} -> {r['new']}"
                     for r in rows) or "no setting has been changed"
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
    from oversight.report import report_text, study_report
    from oversight.sandwich import text_table

    report = study_report(study_id=_study_id(args.study), tag=args.tag)
    _emit(args, report, report_text(report) + "\n\n" + text_table(report["sandwich"]))


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


def _condition_row(c, counts=None) -> dict:
    row = {"id": c.id, "name": c.name, "kind": c.kind, "strategy_id": c.strategy_id, "position": c.position}
    if counts is not None:
        row.update(assignments=counts.assignments, done=counts.done, items=counts.items, practice=counts.practice)
    return row


def cmd_conditions_add(args) -> None:
    from oversight.conditions import add_condition

    row = add_condition(study_id=_study_id(args.study), kind=args.kind, name=args.name or "",
                        strategy_id=args.strategy)
    _emit(args, _condition_row(row), str(row.id))


def cmd_conditions_list(args) -> None:
    from oversight.conditions import design_summary, list_conditions

    study_id = _study_id(args.study)
    counts = {c.id: c for c in design_summary(study_id=study_id)}
    rows = [_condition_row(c, counts.get(c.id)) for c in list_conditions(study_id=study_id)]
    text = "\n".join(f"{r['id']:>4}  {r['name']} [{r['kind']}] strategy={r['strategy_id'] or '-'} "
                     f"assignments={r['assignments']} items={r['items']}" for r in rows) or "no conditions yet"
    _emit(args, rows, text)


def cmd_conditions_remove(args) -> None:
    from oversight.conditions import remove_condition

    remove_condition(condition_id=args.condition)
    _emit(args, {"removed": args.condition}, f"removed condition {args.condition}")


def cmd_conditions_set(args) -> None:
    from oversight.conditions import rename_condition, repoint_condition

    if args.name is None and args.strategy is None:
        raise CliError("give --name and/or --strategy (a version id, or 'none')")
    if args.name is not None:
        rename_condition(condition_id=args.condition, name=args.name)
    if args.strategy is not None:
        sid = None if args.strategy == "none" else _whole(args.strategy, "--strategy")
        repoint_condition(condition_id=args.condition, strategy_id=sid)
    _emit(args, {"condition": args.condition}, f"condition {args.condition} changed")


def cmd_conditions_run(args) -> None:
    """Run a model-alone condition now (in this process, with a progress bar), the same run the page enqueues: the
    items people are dealt, the assistant's inputs, replacing an earlier run's results."""
    from oversight.protocols.batch import run_model_alone

    result = run_model_alone(condition_id=args.condition, limit=args.limit,
                             progress=None if args.quiet else _progress)
    data = result.to_dict()
    acc = "n/a" if data["accuracy"] is None else f"{data['accuracy']:.3f}"
    _emit(args, data, f"{data['n']} items judged, accuracy {acc}, {data['errors']} errors")


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


# --- RLAIF lab ---------------------------------------------------------------------------------------------------
def _pct(d: dict | None) -> str:
    if not d or d.get("estimate") is None:
        return "n/a"
    return f"{d['estimate']:.3f} [{d['ci_low']:.3f}, {d['ci_high']:.3f}] (n={d['n']})"


def _spec(args):
    from oversight.rlaif.lab import resolve_spec

    return resolve_spec(model=getattr(args, "labeller", None), version_id=getattr(args, "version", None))


def cmd_rlaif_label(args) -> None:
    from oversight.rlaif.lab import label_file

    progress = None if args.quiet else _progress
    if args.study is not None:
        from oversight.rlaif.store import label_study

        if args.version is None:
            raise CliError("labels stored in a study need a labeller version: --version ID (see `rlaif labeller list`)")
        data = label_study(study_id=_study_id(args.study), labeller_id=args.version, limit=args.limit,
                           progress=progress)
    elif args.data:
        data = label_file(data=args.data, spec=_spec(args), limit=args.limit, progress=progress)
    else:
        raise CliError("give --data PATH (an HH-RLHF file) or --study ID")
    text = "\n".join([
        f"n={data['n']}" + (f" ({data['n_refused']} invalid lines left out)" if data.get("n_refused") else ""),
        f"agreement with the data set's labels: {_pct(data['agreement'])}",
        f"position-flip rate: {_pct(data['position_flip_rate'])}",
        f"longer response preferred: {_pct(data['longer_preferred_rate'])} "
        f"(data set: {_pct(data['dataset_longer_preferred_rate'])})",
    ])
    _emit(args, data, text)


def cmd_rlaif_reward_model(args) -> None:
    from oversight.rlaif.lab import train_reward_model
    from oversight.rlaif.reward_model import RewardConfig

    config = RewardConfig(backend=args.backend, model=args.model or "", seed=args.seed)
    if args.epochs is not None:
        config.epochs, config.hf_epochs = max(1, round(args.epochs)), args.epochs
    result = train_reward_model(labels=args.labels, data=args.data, study_id=args.study and _study_id(args.study),
                                test=args.test, limit=args.limit, config=config,
                                progress=None if args.quiet else _progress)
    lines = [f"reward model on {result['label_source']} labels: {result['n_train']} training pairs, "
             f"{result['n_test']} held out ({result['test']})"]
    lines += [f"held-out accuracy vs {name}: {_pct(acc)}" for name, acc in result["accuracy"].items()]
    if result.get("run_id"):
        lines.append(f"stored as reward-model run {result['run_id']}")
    _emit(args, result, "\n".join(lines))


def _few_shot(path: str | None):
    return json.loads(Path(path).read_text(encoding="utf-8")) if path else None


def cmd_rlaif_labeller_create(args) -> None:
    from oversight.rlaif.config import DEFAULT_PROMPT, create_labeller

    options = {"chain_of_thought": args.chain_of_thought}
    if args.few_shot:
        options["few_shot"] = _few_shot(args.few_shot)
    row = create_labeller(name=args.name, constitution=args.principle or None, prompt=args.prompt or DEFAULT_PROMPT,
                          model=args.model, options=options)
    _emit(args, row.model_dump(), str(row.id))


def cmd_rlaif_labeller_revise(args) -> None:
    from oversight.rlaif.config import get_labeller, revise_labeller

    options = None
    if args.chain_of_thought is not None or args.few_shot:
        options = dict(get_labeller(args.parent).options)
        if args.chain_of_thought is not None:
            options["chain_of_thought"] = args.chain_of_thought == "on"
        if args.few_shot:
            options["few_shot"] = _few_shot(args.few_shot)
    row = revise_labeller(parent_id=args.parent, reason=args.reason, constitution=args.principle or None,
                          prompt=args.prompt, model=args.model, options=options)
    _emit(args, row.model_dump(), str(row.id))


def cmd_rlaif_labeller_list(args) -> None:
    from oversight.rlaif.config import list_labellers

    rows = [r.model_dump() for r in list_labellers()]
    _emit(args, rows, "\n".join(f"{r['id']:>4}  {r['name']} v{r['version']} model={r['model']} "
                                f"principles={len(r['constitution'])} parent={r['parent_id']} {r['reason']}"
                                for r in rows) or "no labellers yet")


def cmd_rlaif_agreement(args) -> None:
    from oversight.rlaif.store import study_agreement

    data = study_agreement(study_id=_study_id(args.study))
    lines = [f"{r['a']} vs {r['b']}: " + (f"{r['agreement']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}]"
                                           if r["n"] else "n/a") + f" n={r['n']}" for r in data["table"]]
    lines += [f"Krippendorff's alpha among {k}: {'n/a' if v is None else f'{v:.3f}'}" for k, v in data["alpha"].items()]
    _emit(args, data, "\n".join(lines))


def cmd_rlaif_clean(args) -> None:
    from oversight.rlaif.pairs import write_valid_lines

    result = write_valid_lines(args.data, args.out)
    data = {"kept": len(result.pairs), "refused": result.refused, "out": args.out}
    _emit(args, data, "\n".join([f"kept {len(result.pairs)} pairs in {args.out}; left out {len(result.refused)}:",
                                 *result.refused]))


def cmd_rlaif_improve(args) -> None:
    from oversight.rlaif.lab import improve_policy

    dpo = {k: v for k, v in (("max_steps", args.max_steps), ("batch_size", args.batch_size)) if v is not None}
    result = improve_policy(method=args.method, policy=args.policy, data=args.data,
                            study_id=args.study and _study_id(args.study), spec=_spec(args),
                            reward_run=args.reward_run, n=args.n, labels=args.labels, limit=args.limit,
                            n_eval=args.eval, max_new_tokens=args.max_new_tokens, rounds=args.rounds, dpo=dpo,
                            comparison_file=args.out, progress=None if args.quiet else _progress)
    _emit(args, result, f"{result['method']}: win rate against the base policy under {result['labeller']}: "
                        f"{_pct(result['win_rate'])}")


def add_rlaif(sub, add: Callable) -> None:
    rlaif = sub.add_parser("rlaif", help="RLAIF lab: AI labels, agreement, reward models, policy improvement"
                           ).add_subparsers(dest="rlaif_cmd", required=True)

    def source(sp, data_help: str = "HH-RLHF JSON-lines file of pairs") -> None:
        sp.add_argument("--data", help=data_help)
        sp.add_argument("--study", type=int, help="use the study's pair items (imported with format hh-rlhf)")
        sp.add_argument("--limit", type=int, help="first N valid pairs")
        sp.add_argument("--quiet", action="store_true", help="no progress bar on stderr")

    def labeller(sp) -> None:
        sp.add_argument("--labeller", help="model name for a labeller with the default constitution (default extractive)")
        sp.add_argument("--version", type=int, help="a stored labeller version id (overrides --labeller)")

    sp = add("label", cmd_rlaif_label, "label pairs in both orders: agreement, position flips, length preference", rlaif)
    source(sp)
    labeller(sp)
    sp = add("reward-model", cmd_rlaif_reward_model, "train a Bradley-Terry reward model; held-out accuracy", rlaif)
    source(sp)
    sp.add_argument("--labels", default="dataset", help="dataset | ai:VERSION_ID | study:ID[:participant|:expert]")
    sp.add_argument("--test", help="held-out pairs file (default: a seeded quarter of the pairs)")
    sp.add_argument("--backend", choices=["encoder", "hf"], default="encoder")
    sp.add_argument("--model", help="hf: base model path")
    sp.add_argument("--epochs", type=float)
    sp.add_argument("--seed", type=int, default=0)
    sp = add("improve", cmd_rlaif_improve, "best-of-N, DPO or critique-revision; win rate against the base", rlaif)
    source(sp)
    labeller(sp)
    sp.add_argument("--method", required=True, choices=["best-of-n", "dpo", "critique"])
    sp.add_argument("--policy", required=True, help="configured model name of the policy")
    sp.add_argument("--reward-run", type=int, help="best-of-N: reward-model run id")
    sp.add_argument("--n", type=int, default=4, help="best-of-N: samples per conversation")
    sp.add_argument("--labels", help="DPO: label source of the training pairs (default dataset)")
    sp.add_argument("--eval", type=int, default=20, help="held-out conversations to evaluate on")
    sp.add_argument("--max-new-tokens", type=int, default=128)
    sp.add_argument("--rounds", type=int, default=1, help="critique: critique-revision rounds")
    sp.add_argument("--max-steps", type=int, help="DPO: stop after N steps")
    sp.add_argument("--batch-size", type=int, help="DPO: pairs per step")
    sp.add_argument("--out", help="write the comparisons as HH-RLHF lines for people to judge")
    sp = add("agreement", cmd_rlaif_agreement, "agreement table: AI versions, non-experts, experts, data set", rlaif)
    sp.add_argument("--study", type=int, required=True)
    sp = add("clean", cmd_rlaif_clean, "copy the valid lines of an HH-RLHF file (for a strict import)", rlaif)
    sp.add_argument("--data", required=True)
    sp.add_argument("--out", required=True)
    lab = rlaif.add_parser("labeller", help="versioned AI labellers").add_subparsers(dest="labeller_cmd", required=True)
    sp = add("create", cmd_rlaif_labeller_create, "save version 1 of a labeller (prints its id)", lab)
    sp.add_argument("--name", required=True)
    sp.add_argument("--model", default="extractive")
    sp.add_argument("--principle", action="append", help="a principle of the constitution (repeat; default: built-in)")
    sp.add_argument("--prompt", help="instruction with {principles}")
    sp.add_argument("--chain-of-thought", action="store_true")
    sp.add_argument("--few-shot", help="JSON file: list of {conversation, response_a, response_b, answer}")
    sp = add("revise", cmd_rlaif_labeller_revise, "a new version of a labeller (prints its id)", lab)
    sp.add_argument("--parent", type=int, required=True)
    sp.add_argument("--reason", required=True)
    sp.add_argument("--model")
    sp.add_argument("--principle", action="append")
    sp.add_argument("--prompt")
    sp.add_argument("--chain-of-thought", choices=["on", "off"])
    sp.add_argument("--few-shot")
    add("list", cmd_rlaif_labeller_list, "every labeller version", lab)


def _ci(f: dict) -> str:
    if f["estimate"] is None:
        return "n/a"
    if f["ci_low"] is None:
        return f"{f['estimate']:.3f}"
    return f"{f['estimate']:.3f} [{f['ci_low']:.3f}, {f['ci_high']:.3f}]"


def cmd_w2s_run(args) -> None:
    from oversight.db import init_db
    from oversight.w2s.config import W2SConfig
    from oversight.w2s.experiments import ensure_experiment, execute

    if args.weak and args.weak_study is not None:
        raise CliError("give either --weak MODEL or --weak-study ID, not both")
    if args.weak_study is None and not args.train:
        raise CliError("give --train PATH (or --weak-study ID to use a study's participants as the weak supervisor)")
    init_db()
    methods = [m.strip() for m in args.method.split(",") if m.strip()] if args.method else None
    config = W2SConfig.for_dataset(
        args.dataset, train_path=args.train or "", test_path=args.test or "", weak=args.weak,
        weak_study_id=args.weak_study, strong=args.strong, methods=methods, seeds=args.seeds, n_train=args.n_train,
        n_test=args.n_test, epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, max_len=args.max_len,
        lora=args.lora).validate()
    name = args.name or f"{config.dataset}: {config.supervisor} -> {config.strong}"
    experiment = ensure_experiment(name=name, config=config)
    run_id, summary = execute(experiment_id=experiment.id, progress=None if args.quiet else _progress)
    first = config.methods[0]
    data = {**summary["methods"][first], "method": first, "methods": summary["methods"], "n_train": summary["n_train"],
            "seconds": summary["seconds"], "experiment_id": experiment.id, "run_id": run_id,
            "supervisor": summary["supervisor"], "strong": summary["strong"], "dataset": summary["dataset"]}
    lines = [f"{config.dataset}: weak {config.supervisor} -> strong {config.strong}; experiment {experiment.name!r} "
             f"v{experiment.version}, run {run_id}",
             f"n_train={summary['n_train']} n_test={summary['n_test']} seeds={config.seeds} "
             f"seconds={summary['seconds']:.0f}"]
    for method, f in summary["methods"].items():
        pgr_text = _ci(f["pgr"]) if f["pgr"]["estimate"] is not None else f"n/a ({f['pgr_reason']})"
        lines.append(f"{method:<8} weak {_ci(f['weak'])}  w2s {_ci(f['w2s'])}  ceiling {_ci(f['ceiling'])}  "
                     f"PGR {pgr_text}")
    _emit(args, data, "\n".join(lines))


def cmd_w2s_list(args) -> None:
    from oversight.w2s.experiments import results_table

    rows = results_table()
    text = "\n".join(f"{r['experiment']:<40} {r['method']:<8} weak {_ci(r['weak'])}  w2s {_ci(r['w2s'])}  "
                     f"ceiling {_ci(r['ceiling'])}  PGR {_ci(r['pgr'])}" for r in rows) or "no finished w2s runs yet"
    _emit(args, rows, text)


def cmd_w2s_simulate(args) -> None:
    from oversight.w2s.simulated_people import simulate_participants

    summary = simulate_participants(study_id=_study_id(args.study), participants=args.participants,
                                    accuracy=args.accuracy, confidence=args.confidence, seed=args.seed)
    data = {**asdict(summary), "accuracy": summary.accuracy}
    _emit(args, data, f"{summary.participants} simulated participants gave {summary.answers} answers, "
                      f"{summary.correct} right, in dry-run study {summary.study_id} (use study:{summary.study_id} "
                      "as the weak labels)")


def cmd_payments_owed(args) -> None:
    from oversight.payments import owed

    rows = [{"participant": o.name, "prolific_id": o.external_id, "base": o.base, "bonus": o.bonus,
             "amount": o.amount} for o in owed(study_id=_study_id(args.study))]
    text = "\n".join(f"{r['participant']:<14} {r['prolific_id'] or '(personal link)':<26} base {r['base']:.2f} "
                     f"bonus {r['bonus']:.2f}" for r in rows) or "nothing is owed"
    _emit(args, rows, text)


def cmd_payments_export(args) -> None:
    from oversight.payments import export_payments

    batch = export_payments(study_id=_study_id(args.study))
    if args.out:
        Path(args.out).write_text("".join(f"{line}\n" for line in batch.prolific_lines))
    lines = [f"export {batch.export_id}: {len(batch.prolific_lines)} Prolific lines, total {batch.total:.2f} "
             f"{batch.currency}" if batch.export_id else "nothing is owed: nothing exported"]
    if not args.out:
        lines += batch.prolific_lines
    lines += [f"pay by hand: {r['participant']} {r['amount']}" for r in batch.by_hand]
    _emit(args, asdict(batch), "\n".join(lines))


def cmd_attention_list(args) -> None:
    from oversight.attention import attention, describe_thresholds

    study, people = attention(study_id=_study_id(args.study))
    rows = [{"participant_id": a.user_id, "participant": a.name, "prolific_id": a.external_id,
             "catch_answered": a.catch_answered, "catch_wrong": a.catch_wrong, "too_fast": a.too_fast,
             "flags": a.flags, "status": a.status, "override": a.override, "simulated": a.simulated}
            for a in people]
    data = {"study": study.id, "catch_items": study.catch_items, "min_seconds_per_item": study.min_seconds_per_item,
            "warn_at": study.attention_warn, "exclude_at": study.attention_exclude, "participants": rows}
    head = (f"catch items {study.catch_items}, minimum {study.min_seconds_per_item:g} s per item (0: off); "
            f"{describe_thresholds(study)}")
    text = "\n".join([head] + [
        f"{r['participant_id']:>5}  {r['participant']:<14} {r['prolific_id'] or '':<26} flags {r['flags']} "
        f"(catch wrong {r['catch_wrong']}/{r['catch_answered']}, too fast {r['too_fast']})  {r['status']}"
        + (f" (override: {r['override']})" if r["override"] else "") for r in rows])
    _emit(args, data, text if rows else head + "\nno participants yet")


def cmd_attention_set(args) -> None:
    from oversight.attention import set_override

    decision = "include" if args.include else "exclude" if args.exclude else None
    set_override(study_id=_study_id(args.study), participant_id=args.participant, decision=decision)
    _emit(args, {"participant_id": args.participant, "override": decision},
          f"participant {args.participant}: " + ({"include": "included anyway", "exclude": "excluded"}
                                                 .get(decision, "the thresholds decide")))


def cmd_simulate(args) -> None:
    from oversight.simulate import Skill, simulate, summarise

    skill = Skill(alone=args.alone, assisted=args.assisted, expert=args.expert, review_accuracy=args.review_accuracy,
                  confidence=args.confidence)
    bar = None if args.quiet else _progress
    run = simulate(study_id=_study_id(args.study), participants=args.participants, skill=skill,
                   experts=args.experts, seed=args.seed, progress=bar)
    data = summarise(run, skill)

    def pct(x: float | None) -> str:
        return "  n/a" if x is None else f"{x:5.1%}"

    lines = [f"dry run #{data['study_id']} (a copy of study #{data['dry_run_of']}, which is untouched)",
             f"{data['participants']} simulated participants, {data['experts']} experts: {data['answers']} answers, "
             f"{data['reviews']} reviews, {data['model_items']} model-alone items"]
    for c in data["conditions"]:
        lines.append(f"  {c['name']:<40} planted {pct(c['planted'])}  estimate {pct(c['estimate'])} "
                     f"[{pct(c['ci_low'])}, {pct(c['ci_high'])}]  n={c['n']}")
    g = data["gap_closed"]
    interval = "[unbounded]" if g.get("unbounded") else f"[{pct(g['ci_low'])}, {pct(g['ci_high'])}]"
    lines.append(f"  gap closed: planted {pct(g['planted'])}  estimate {pct(g['estimate'])} {interval}")
    a = data["agreement"]
    lines.append(f"  review agreement (alpha, outcome): planted {a['planted']:.2f}  estimate "
                 + (f"{a['estimate']:.2f} [{a['ci_low']:.2f}, {a['ci_high']:.2f}] over {a['n']} double reviews"
                    if a["estimate"] is not None else "n/a (set a review share for second reviews)"))
    lines += [f"  error: {e}" for e in data["errors"]]
    _emit(args, data, "\n".join(lines))


def _counts(raw: str) -> list[int]:
    try:
        counts = [int(x) for x in raw.split(",") if x.strip()]
    except ValueError:
        raise CliError(f"--participants takes whole numbers separated by commas, e.g. 10,20,40 (got {raw!r})") from None
    if not counts:
        raise CliError("--participants needs at least one count, e.g. 10,20,40")
    return counts


def cmd_power(args) -> None:
    from oversight.power import Planted, plan

    planted = Planted(alone=args.alone, assisted=args.assisted, expert=args.expert, skill_sd=args.skill_sd,
                      item_sd=args.item_sd)
    result = plan(study_id=_study_id(args.study), planted=planted, participants=_counts(args.participants),
                  sims=args.sims, seed=args.seed, experts=args.experts, resamples=args.resamples,
                  progress=None if args.quiet else _progress)

    def pct(x: float | None) -> str:
        return "    —" if x is None else f"{x:5.0%}"

    lines = [f"design: {result.design}",
             f"planted gap closed {result.planted_gap_closed:.2f}"
             + (" (the gold stands in for experts)" if result.gold_stands_in else f" ({result.experts} experts)")
             + f"; {result.rows[0].sims} simulated studies per row, {result.resamples} resamples each",
             "participants  power  coverage  median CI width  unbounded"]
    for r in result.rows:
        width = "unbounded" if r.ci_width_median is None else f"{r.ci_width_median:.2f}"
        lines.append(f"{r.participants:>12}  {pct(r.power)}  {pct(r.coverage):>8}  {width:>15}  {pct(r.unbounded):>9}")
    _emit(args, result.to_json(), "\n".join(lines))


def cmd_worker(args) -> None:
    import signal
    import threading

    from oversight.db import init_db
    from oversight.jobs import run_worker

    init_db()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        ran = run_worker(stop=stop, poll_s=args.poll, once=args.once)
    except KeyboardInterrupt:
        ran = None
    _emit(args, {"ran": ran}, f"ran {ran} jobs" if ran is not None else "stopped")


def cmd_jobs_list(args) -> None:
    from oversight.jobs import list_jobs

    rows = [{"id": j.id, "kind": j.kind, "state": j.state, "progress": round(j.progress, 2), "message": j.message,
             "worker": j.worker, "attempts": j.attempts, "error": j.error} for j in
            list_jobs(study_id=_study_id(args.study), limit=args.limit)]
    text = "\n".join(f"{r['id']:>5} {r['kind']:<20} {r['state']:<10} {r['progress']:>4.0%} {r['message']}"
                     + (f" error: {r['error']}" if r["error"] else "") for r in rows) or "no jobs in this study"
    _emit(args, rows, text)


def cmd_jobs_cancel(args) -> None:
    from oversight.jobs import cancel

    state = cancel(job_id=args.job)
    _emit(args, {"job": args.job, "state": state},
          f"job {args.job} " + ("will stop at its next progress report" if state == "running" else f"is {state}"))


def _staff(name: str) -> int:
    """An expert's or admin's id by name (the CLI acts as them)."""
    from sqlmodel import select

    from oversight.db import session_scope
    from storage.models import User

    with session_scope(write=False) as s:
        user = s.exec(select(User).where(User.name == name, User.role.in_(("expert", "admin")))).first()
    if user is None:
        raise CliError(f"no expert or admin named {name!r} (see `python -m oversight create-user`)")
    return user.id


def cmd_reviews_queue(args) -> None:
    from oversight.reviews import review_queue

    queue = review_queue(study_id=_study_id(args.study), expert_id=_staff(args.expert),
                         condition_id=args.condition, strategy_id=args.strategy)
    rows = [asdict(q) for q in queue]
    lines = [f"#{q.assignment_id:<6} {'second' if q.second else 'first ':<6} {q.condition or '-':<20} "
             f"{(q.strategy or '') + ' ' if q.strategy else ''}{q.question[:60]}" for q in queue]
    _emit(args, rows, "\n".join(lines) or "nothing to review for this expert")


def cmd_reviews_submit(args) -> None:
    from oversight.reviews import submit_review

    labels = _json_arg(args.labels, "--labels")
    rid = submit_review(assignment_id=args.assignment, expert_id=_staff(args.expert), labels=labels,
                        notes=args.notes or "")
    _emit(args, {"review_id": rid}, f"review {rid} saved")


def cmd_reviews_agreement(args) -> None:
    from oversight.agreement import agreement

    result = agreement(study_id=_study_id(args.study))

    from oversight.agreement import KAPPAS

    def num(x: float | None) -> str:
        return "undefined" if x is None else f"{x:.3f}"

    def ci(low: float | None, high: float | None) -> str:
        return "" if low is None or high is None else f" [{low:.3f}, {high:.3f}]"

    lines = [result.message] if result.message else (
        [f"over {result.n_double} double-reviewed assignments (95% intervals: bootstrap over them)"
         + (" (includes simulated data)" if result.includes_simulated else "")]
        + [f"{f.name:<26} {f.level:<8} n={f.n:<4} experts={f.n_experts:<3} "
           f"alpha={num(f.alpha)}{ci(f.alpha_ci_low, f.alpha_ci_high)}  "
           f"{KAPPAS.get(f.kappa_kind, 'kappa')}={num(f.kappa)}{ci(f.kappa_ci_low, f.kappa_ci_high)}  "
           f"unanimous={num(f.unanimous)} adjudicated={num(f.adjudicated)} open={num(f.open)}" for f in result.fields])
    _emit(args, asdict(result), "\n".join(lines))


def cmd_reviews_settings(args) -> None:
    from oversight.reviews import set_review_settings
    from oversight.studies import get_study

    changed = set_review_settings(study_id=_study_id(args.study), user_id=None, review_share=args.share,
                                  blind_review=args.blind)
    study = get_study(args.study)
    data = {"review_share": study.review_share, "blind_review": study.blind_review, "changed": changed}
    _emit(args, data, f"second reviews: {study.review_share:g} of assignments · blind review: "
                      f"{'yes' if study.blind_review else 'no'}" + (f" (changed: {', '.join(changed)})" if changed
                                                                     else ""))


def cmd_rubric_show(args) -> None:
    from oversight.rubrics import current_rubric

    rubric = current_rubric(_study_id(args.study))
    data = {"version": rubric.version, "reason": rubric.reason, "fields": rubric.fields}
    lines = [f"rubric v{rubric.version}: {rubric.reason}"] + [
        f"  {f['name']:<26} {f['kind']:<6} {f['level']:<8} {', '.join(map(str, f['choices']))}"
        for f in rubric.fields]
    _emit(args, data, "\n".join(lines))


def cmd_rubric_set(args) -> None:
    from oversight.rubrics import new_rubric_version

    try:
        fields = json.loads(Path(args.file).read_text(encoding="utf-8"))
    except OSError as exc:
        raise CliError(f"cannot read {args.file}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise CliError(f"{args.file} is not valid JSON: {exc}") from None
    base = None
    if isinstance(fields, dict) and "fields" in fields:  # edited `rubric show --json` output: refused if stale
        base, fields = fields.get("version"), fields["fields"]
    row = new_rubric_version(study_id=_study_id(args.study), fields=fields, reason=args.reason or "", user_id=None,
                             base_version=base)
    _emit(args, {"version": row.version, "fields": row.fields}, f"rubric v{row.version} saved")


def add_reviews(sub, add: Callable) -> None:
    reviews = sub.add_parser("reviews", help="expert review: queue, agreement, settings").add_subparsers(
        dest="reviews_cmd", required=True)
    sp = add("queue", cmd_reviews_queue, "what an expert reviews next, in order", reviews)
    sp.add_argument("--study", type=int, required=True)
    sp.add_argument("--expert", required=True, help="the expert's (or admin's) name")
    sp.add_argument("--condition", type=int, help="only this condition id")
    sp.add_argument("--strategy", type=int, help="only this strategy version id (not in a blind study)")
    sp = add("submit", cmd_reviews_submit, "store an expert's rubric review of a finished assignment", reviews)
    sp.add_argument("--assignment", type=int, required=True)
    sp.add_argument("--expert", required=True)
    sp.add_argument("--labels", required=True, help='JSON, e.g. \'{"outcome": "correct", "help_quality": 4}\'')
    sp.add_argument("--notes")
    sp = add("agreement", cmd_reviews_agreement, "Krippendorff's alpha and kappa (Cohen's for a fixed pair, else Fleiss') per rubric field, with intervals", reviews)
    sp.add_argument("--study", type=int, required=True)
    sp = add("settings", cmd_reviews_settings, "share of second reviews and blind review (audited)", reviews)
    sp.add_argument("--study", type=int, required=True)
    sp.add_argument("--share", type=float, help="share of assignments a second expert reviews, 0 to 1")
    sp.add_argument("--blind", action=argparse.BooleanOptionalAction, default=None,
                    help="spare experts the strategy version and the participant's identity")
    rubric = sub.add_parser("rubric", help="a study's versioned review rubric").add_subparsers(
        dest="rubric_cmd", required=True)
    sp = add("show", cmd_rubric_show, "the current rubric version", rubric)
    sp.add_argument("--study", type=int, required=True)
    sp = add("set", cmd_rubric_set, "save a new rubric version from a JSON file of fields", rubric)
    sp.add_argument("--study", type=int, required=True)
    sp.add_argument("--file", required=True, help="a JSON list of fields (or `rubric show --json` output)")
    sp.add_argument("--reason", required=True, help="why the rubric changes")


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
    sp.add_argument("--simulated", type=int, default=6, help="simulated participants run through the new demo study "
                                                              "(with two simulated experts), 0 for none")
    sp = add("create-user", cmd_create_user, "create an admin or expert (password from stdin)")
    sp.add_argument("--role", required=True, choices=["admin", "expert"])
    sp.add_argument("--name", required=True)
    sp = add("set-password", cmd_set_password, "set an admin's or expert's password (from stdin)")
    sp.add_argument("--name", required=True)

    study = sub.add_parser("study", help="create and list studies").add_subparsers(dest="study_cmd", required=True)
    sp = add("create", cmd_study_create, "create a study as a draft (prints its id); `study open` opens it", study)
    sp.add_argument("--name", required=True)
    sp.add_argument("--description")
    sp = add("check", cmd_study_check, "the launch check: per condition, the items it can deal and why others are "
                                       "refused; items per participant, practice, catch items, rubric, pay", study)
    sp.add_argument("--study", type=int, required=True)
    sp = add("open", cmd_study_open, "open a study after the launch check (refused, exit 1, while a condition "
                                     "dealt to people can deal nothing)", study)
    sp.add_argument("--study", type=int, required=True)
    add("list", cmd_study_list, "list studies", study)
    sp = add("history", cmd_study_history, "a study's setting changes, newest first (who, when, old and new value)",
             study)
    sp.add_argument("--study", type=int, required=True)
    sp.add_argument("--limit", type=int, default=100)
    sp = add("set", cmd_study_set, "change a study's settings (each change is in the audit log)", study)
    sp.add_argument("--study", type=int, required=True)
    sp.add_argument("--name")
    sp.add_argument("--description")
    sp.add_argument("--instructions")
    sp.add_argument("--consent-text")
    sp.add_argument("--items-per-participant", help="a whole number, or 'all'")
    sp.add_argument("--completion-code")
    sp.add_argument("--design", choices=["within", "between"], help="within- or between-subject conditions")
    sp.add_argument("--practice-items", type=int, help="practice items (with feedback) before the real ones")
    sp.add_argument("--review-share", type=float, help="share of assignments a second expert reviews (0-1)")
    sp.add_argument("--blind-review", action=argparse.BooleanOptionalAction, default=None,
                    help="experts do not see the strategy version or the participant")
    sp.add_argument("--allocation", choices=["balanced", "thompson"],
                    help="strategy versions by the balanced design, or by Thompson sampling over candidates")
    sp.add_argument("--min-participants", type=int, help="convergence: at least this many participants")
    sp.add_argument("--min-confidence", type=float, help="convergence: mean self-reported confidence (0-1)")
    sp.add_argument("--min-agreement", type=float, help="convergence: agreement among non-experts (0-1)")
    sp.add_argument("--completion-url", help="where finished participants are sent ('' for none); {code} becomes "
                                             "the completion code")
    sp.add_argument("--currency", help="three-letter currency code of the pay (default GBP)")
    sp.add_argument("--base-pay", type=float, help="paid once a participant has finished every task")
    sp.add_argument("--bonus-rule", choices=["none", "per_correct", "score"],
                    help="bonus per correct answer, or per point of score above a uniform guess")
    sp.add_argument("--bonus-amount", type=float, help="the bonus per correct answer or per point")
    sp.add_argument("--catch-items", type=int, help="attention checks dealt to each participant among the real items "
                                                    "(items whose split is 'catch'; 0: off)")
    sp.add_argument("--min-seconds-per-item", type=float, help="an answer sooner than this after the task was shown "
                                                               "is flagged (0: off)")
    sp.add_argument("--attention-warn", type=int, help="flags at which the admin is warned (0: never)")
    sp.add_argument("--attention-exclude", type=int, help="flags at which a participant is excluded (0: never)")

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
    conds = sub.add_parser("conditions", help="a study's conditions (who answers, with which strategy version)"
                           ).add_subparsers(dest="conditions_cmd", required=True)
    sp = add("add", cmd_conditions_add, "add a condition (prints its id)", conds)
    sp.add_argument("--study", type=int, required=True)
    sp.add_argument("--kind", required=True, choices=["alone", "model", "assisted", "expert"])
    sp.add_argument("--strategy", type=int, help="strategy version id (assisted and model need one)")
    sp.add_argument("--name", help="default: from the kind and strategy")
    sp = add("list", cmd_conditions_list, "the conditions with their assignments and items so far", conds)
    sp.add_argument("--study", type=int, required=True)
    sp = add("set", cmd_conditions_set, "rename a condition or point it at another strategy version", conds)
    sp.add_argument("--condition", type=int, required=True)
    sp.add_argument("--name")
    sp.add_argument("--strategy", help="a strategy version id, or 'none'")
    sp = add("remove", cmd_conditions_remove, "remove a condition no assignment uses", conds)
    sp.add_argument("--condition", type=int, required=True)
    sp = add("run", cmd_conditions_run, "run a model-alone condition: its strategy's AI-only run over the items "
                                        "people are dealt (a re-run replaces the earlier results)", conds)
    sp.add_argument("--condition", type=int, required=True)
    sp.add_argument("--limit", type=int)
    sp.add_argument("--quiet", action="store_true", help="no progress bar on stderr")
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
    sp = add("simulate", cmd_simulate, "dry-run a study: copies it into a new dry-run study where simulated "
                                       "participants and experts with planted skill go through it; prints the "
                                       "recovered figures beside the planted ones (the study itself is untouched)")
    sp.add_argument("--study", type=int, required=True)
    sp.add_argument("--participants", type=int, required=True)
    sp.add_argument("--alone", type=float, default=0.55, help="planted accuracy of a non-expert alone")
    sp.add_argument("--assisted", type=float, default=0.75, help="planted accuracy with the model (every version)")
    sp.add_argument("--expert", type=float, default=0.9, help="planted accuracy of an expert")
    sp.add_argument("--review-accuracy", type=float, default=0.9,
                    help="chance a simulated reviewer labels an outcome right (sets the expected alpha)")
    sp.add_argument("--experts", type=int, default=2, help="simulated experts (answer and review)")
    sp.add_argument("--confidence", type=float, default=None,
                    help="every planted answer puts this probability on its chosen option, the rest shared equally "
                         "(e.g. 0.4 on 4-option items); default: confidence drawn around the planted accuracy")
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--quiet", action="store_true", help="no progress bar on stderr")
    sp = add("power", cmd_power, "how many participants the study needs: simulates its design many times with "
                                 "planted accuracies and prints, per participant count, the share of studies whose "
                                 "gap-closed interval excludes 0 (power), covers the planted value, and the median "
                                 "interval width; writes nothing")
    sp.add_argument("--study", type=int, required=True)
    sp.add_argument("--participants", required=True, help="participant counts, comma-separated (e.g. 10,20,40)")
    sp.add_argument("--alone", type=float, required=True, help="planted population accuracy of a non-expert alone")
    sp.add_argument("--assisted", type=float, required=True, help="planted population accuracy with the model")
    sp.add_argument("--expert", type=float, default=0.9,
                    help="planted population accuracy of an expert (ignored without an expert condition: the gold "
                         "stands in)")
    sp.add_argument("--skill-sd", type=float, default=0.5, help="sd of a person's skill on the logit scale")
    sp.add_argument("--item-sd", type=float, default=1.0, help="sd of an item's difficulty on the logit scale")
    sp.add_argument("--experts", type=int, default=10, help="simulated experts answering the expert condition")
    sp.add_argument("--sims", type=int, default=200, help="simulated studies per participant count")
    sp.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples per simulated study")
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--quiet", action="store_true", help="no progress bar on stderr")
    sp = add("worker", cmd_worker, "run queued jobs (batch runs, AI judging, training) until stopped; as many "
                                   "workers as you like may share one PostgreSQL database")
    sp.add_argument("--once", action="store_true", help="stop when the queue is empty")
    sp.add_argument("--poll", type=float, default=1.0, help="seconds between looks at an empty queue")
    jobs = sub.add_parser("jobs", help="queued and finished jobs").add_subparsers(dest="jobs_cmd", required=True)
    sp = add("list", cmd_jobs_list, "a study's recent jobs", jobs)
    sp.add_argument("--study", type=int, required=True)
    sp.add_argument("--limit", type=int, default=20)
    sp = add("cancel", cmd_jobs_cancel, "cancel a job (at once if queued, at its next progress report if running)",
             jobs)
    sp.add_argument("job", type=int)
    pay = sub.add_parser("payments", help="base pay and bonuses").add_subparsers(dest="payments_cmd", required=True)
    sp = add("owed", cmd_payments_owed, "what each participant has earned and not yet been paid", pay)
    sp.add_argument("--study", type=int, required=True)
    sp = add("export", cmd_payments_export, "pay what is owed: Prolific bulk-bonus lines (ID,amount), each "
                                            "payment recorded so that nothing is paid twice", pay)
    sp.add_argument("--study", type=int, required=True)
    sp.add_argument("--out", help="write the Prolific lines to this file")
    att = sub.add_parser("attention", help="attention checks: flags per participant, include or exclude") \
        .add_subparsers(dest="attention_cmd", required=True)
    sp = add("list", cmd_attention_list, "each participant's flags (wrong catch answers, too-fast answers) and "
                                         "status against the study's thresholds", att)
    sp.add_argument("--study", type=int, required=True)
    sp = add("set", cmd_attention_set, "include a flagged participant anyway, or exclude one (audited)", att)
    sp.add_argument("--study", type=int, required=True)
    sp.add_argument("--participant", type=int, required=True, help="the participant's id (see attention list)")
    which = sp.add_mutually_exclusive_group(required=True)
    which.add_argument("--include", action="store_true", help="include anyway: answers count and pay is released")
    which.add_argument("--exclude", action="store_true", help="exclude: answers left out of results, pay held")
    which.add_argument("--clear", action="store_true", help="no override: the thresholds decide")
    add_rlaif(sub, add)
    add_reviews(sub, add)
    add_loops(sub, add)

    w2s = sub.add_parser("w2s", help="weak-to-strong lab").add_subparsers(dest="w2s_cmd", required=True)
    sp = add("run", cmd_w2s_run, "train weak, weak-to-strong and ceiling models; print accuracies and PGR", w2s)
    sp.add_argument("--dataset", required=True, choices=["boolq", "cosmos", "mmlu"])
    sp.add_argument("--train", help="data set file (BoolQ JSON lines, Cosmos QA CSV, MMLU CSV or folder)")
    sp.add_argument("--test", help="a separate test file of the same format (default: the train file is split)")
    sp.add_argument("--weak", help="weak model: bow, minilm-frozen (default), minilm or hf:<model>")
    sp.add_argument("--weak-study", type=int, help="a study whose participants' final answers are the weak labels")
    sp.add_argument("--strong", help="strong student: minilm (default) or hf:<model>")
    sp.add_argument("--method", help="naive, logconf or both comma-separated (default: naive,logconf)")
    sp.add_argument("--seeds", type=int)
    sp.add_argument("--name", help="experiment name (default: data set, supervisor and student)")
    sp.add_argument("--n-train", type=int, help="training items (default 400 BoolQ, 80 Cosmos QA / MMLU)")
    sp.add_argument("--n-test", type=int, help="test items (default 300 BoolQ, 80 Cosmos QA / MMLU)")
    sp.add_argument("--epochs", type=int)
    sp.add_argument("--lr", type=float)
    sp.add_argument("--batch-size", type=int)
    sp.add_argument("--max-len", type=int, help="tokens per sequence (default 128; 96 Cosmos QA / MMLU)")
    sp.add_argument("--lora", action=argparse.BooleanOptionalAction, default=None,
                    help="hf students: LoRA adapters (default: for models over 300M parameters)")
    sp.add_argument("--quiet", action="store_true", help="no progress bar on stderr")
    add("list", cmd_w2s_list, "figures of every experiment's latest finished run", w2s)
    sp = add("simulate-people", cmd_w2s_simulate, "simulated participants answer a study's items (dry runs)", w2s)
    sp.add_argument("--study", type=int, required=True)
    sp.add_argument("--participants", type=int, default=3)
    sp.add_argument("--accuracy", type=float, default=0.7, help="planted share of right answers")
    sp.add_argument("--confidence", type=float, default=0.7, help="probability put on the chosen answer")
    sp.add_argument("--seed", type=int, default=0)
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
