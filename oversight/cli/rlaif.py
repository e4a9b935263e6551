"""`rlaif ...`: the RLAIF lab: AI labels, agreement, reward models, policy improvement, versioned labellers."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from oversight.cli.common import CliError, add_command, add_group, emit, known_study, progress_bar
from storage.vocabulary import REWARD_BACKENDS


def _pct(d: dict | None) -> str:
    if not d or d.get("estimate") is None:
        return "n/a"
    return f"{d['estimate']:.3f} [{d['ci_low']:.3f}, {d['ci_high']:.3f}] (n={d['n']})"


def _spec(args):
    from oversight.rlaif.lab import resolve_spec

    return resolve_spec(model=getattr(args, "labeller", None), version_id=getattr(args, "version", None))


def cmd_rlaif_label(args) -> None:
    from oversight.rlaif.lab import label_file

    progress = progress_bar(args)
    if args.study is not None:
        from oversight.rlaif.store import label_study

        if args.version is None:
            raise CliError("labels stored in a study need a labeller version: --version ID (see `rlaif labeller list`)")
        data = label_study(study_id=known_study(args.study), labeller_id=args.version, limit=args.limit,
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
    emit(args, data, text)


def cmd_rlaif_reward_model(args) -> None:
    from oversight.rlaif.lab import train_reward_model
    from oversight.rlaif.reward_model import RewardConfig

    config = RewardConfig(backend=args.backend, model=args.model or "", seed=args.seed)
    if args.epochs is not None:
        config.epochs, config.hf_epochs = max(1, round(args.epochs)), args.epochs
    result = train_reward_model(labels=args.labels, data=args.data, study_id=args.study and known_study(args.study),
                                test=args.test, limit=args.limit, config=config, progress=progress_bar(args))
    lines = [f"reward model on {result['label_source']} labels: {result['n_train']} training pairs, "
             f"{result['n_test']} held out ({result['test']})"]
    lines += [f"held-out accuracy vs {name}: {_pct(acc)}" for name, acc in result["accuracy"].items()]
    if result.get("run_id"):
        lines.append(f"stored as reward-model run {result['run_id']}")
    emit(args, result, "\n".join(lines))


def _few_shot(path: str | None):
    return json.loads(Path(path).read_text(encoding="utf-8")) if path else None


def cmd_rlaif_labeller_create(args) -> None:
    from oversight.rlaif.config import DEFAULT_PROMPT, create_labeller

    options = {"chain_of_thought": args.chain_of_thought}
    if args.few_shot:
        options["few_shot"] = _few_shot(args.few_shot)
    row = create_labeller(name=args.name, constitution=args.principle or None, prompt=args.prompt or DEFAULT_PROMPT,
                          model=args.model, options=options)
    emit(args, row.model_dump(), str(row.id))


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
    emit(args, row.model_dump(), str(row.id))


def cmd_rlaif_labeller_list(args) -> None:
    from oversight.rlaif.config import list_labellers

    rows = [r.model_dump() for r in list_labellers()]
    emit(args, rows, "\n".join(f"{r['id']:>4}  {r['name']} v{r['version']} model={r['model']} "
                               f"principles={len(r['constitution'])} parent={r['parent_id']} {r['reason']}"
                               for r in rows) or "no labellers yet")


def cmd_rlaif_agreement(args) -> None:
    from oversight.rlaif.store import study_agreement

    data = study_agreement(study_id=known_study(args.study))
    lines = [f"{r['a']} vs {r['b']}: " + (f"{r['agreement']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}]"
                                           if r["n"] else "n/a") + f" n={r['n']}" for r in data["table"]]
    lines += [f"Krippendorff's alpha among {k}: {'n/a' if v is None else f'{v:.3f}'}" for k, v in data["alpha"].items()]
    emit(args, data, "\n".join(lines))


def cmd_rlaif_clean(args) -> None:
    from oversight.rlaif.pairs import write_valid_lines

    result = write_valid_lines(args.data, args.out)
    data = {"kept": len(result.pairs), "refused": result.refused, "out": args.out}
    emit(args, data, "\n".join([f"kept {len(result.pairs)} pairs in {args.out}; left out {len(result.refused)}:",
                                *result.refused]))


def cmd_rlaif_improve(args) -> None:
    from oversight.rlaif.lab import improve_policy

    dpo = {k: v for k, v in (("max_steps", args.max_steps), ("batch_size", args.batch_size)) if v is not None}
    result = improve_policy(method=args.method, policy=args.policy, data=args.data,
                            study_id=args.study and known_study(args.study), spec=_spec(args),
                            reward_run=args.reward_run, n=args.n, labels=args.labels, limit=args.limit,
                            n_eval=args.eval, max_new_tokens=args.max_new_tokens, rounds=args.rounds, dpo=dpo,
                            comparison_file=args.out, progress=progress_bar(args))
    emit(args, result, f"{result['method']}: win rate against the base policy under {result['labeller']}: "
                       f"{_pct(result['win_rate'])}")


def register(sub: argparse._SubParsersAction) -> None:
    rlaif = add_group(sub, "rlaif", "RLAIF lab: AI labels, agreement, reward models, policy improvement", "rlaif_cmd")

    def source(sp, data_help: str = "HH-RLHF JSON-lines file of pairs") -> None:
        sp.add_argument("--data", help=data_help)
        sp.add_argument("--study", type=int, help="use the study's pair items (imported with format hh-rlhf)")
        sp.add_argument("--limit", type=int, help="first N valid pairs")
        sp.add_argument("--quiet", action="store_true", help="no progress bar on stderr")

    def labeller(sp) -> None:
        sp.add_argument("--labeller",
                        help="model name for a labeller with the default constitution (default extractive)")
        sp.add_argument("--version", type=int, help="a stored labeller version id (overrides --labeller)")

    sp = add_command(rlaif, "label", cmd_rlaif_label,
                     "label pairs in both orders: agreement, position flips, length preference")
    source(sp)
    labeller(sp)
    sp = add_command(rlaif, "reward-model", cmd_rlaif_reward_model,
                     "train a Bradley-Terry reward model; held-out accuracy")
    source(sp)
    sp.add_argument("--labels", default="dataset", help="dataset | ai:VERSION_ID | study:ID[:participant|:expert]")
    sp.add_argument("--test", help="held-out pairs file (default: a seeded quarter of the pairs)")
    sp.add_argument("--backend", choices=REWARD_BACKENDS, default="encoder")
    sp.add_argument("--model", help="hf: base model path")
    sp.add_argument("--epochs", type=float)
    sp.add_argument("--seed", type=int, default=0)
    sp = add_command(rlaif, "improve", cmd_rlaif_improve,
                     "best-of-N, DPO or critique-revision; win rate against the base")
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
    sp = add_command(rlaif, "agreement", cmd_rlaif_agreement,
                     "agreement table: AI versions, non-experts, experts, data set")
    sp.add_argument("--study", type=int, required=True)
    sp = add_command(rlaif, "clean", cmd_rlaif_clean, "copy the valid lines of an HH-RLHF file (for a strict import)")
    sp.add_argument("--data", required=True)
    sp.add_argument("--out", required=True)
    lab = add_group(rlaif, "labeller", "versioned AI labellers", "labeller_cmd")
    sp = add_command(lab, "create", cmd_rlaif_labeller_create, "save version 1 of a labeller (prints its id)")
    sp.add_argument("--name", required=True)
    sp.add_argument("--model", default="extractive")
    sp.add_argument("--principle", action="append", help="a principle of the constitution (repeat; default: built-in)")
    sp.add_argument("--prompt", help="instruction with {principles}")
    sp.add_argument("--chain-of-thought", action="store_true")
    sp.add_argument("--few-shot", help="JSON file: list of {conversation, response_a, response_b, answer}")
    sp = add_command(lab, "revise", cmd_rlaif_labeller_revise, "a new version of a labeller (prints its id)")
    sp.add_argument("--parent", type=int, required=True)
    sp.add_argument("--reason", required=True)
    sp.add_argument("--model")
    sp.add_argument("--principle", action="append")
    sp.add_argument("--prompt")
    sp.add_argument("--chain-of-thought", choices=["on", "off"])
    sp.add_argument("--few-shot")
    add_command(lab, "list", cmd_rlaif_labeller_list, "every labeller version")
