"""`w2s run|list|simulate-people`: the weak-to-strong lab (Burns et al. 2023) from the command line."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from oversight.cli.common import CliError, add_command, add_group, emit, known_study, progress_bar


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
        top_layers=args.top_layers, weak_fraction=args.weak_fraction,
        lora=args.lora).validate()
    name = args.name or f"{config.dataset}: {config.supervisor} -> {config.strong}"
    experiment = ensure_experiment(name=name, config=config)
    run_id, summary = execute(experiment_id=experiment.id, progress=progress_bar(args))
    first = config.methods[0]
    data = {**summary["methods"][first], "method": first, "methods": summary["methods"], "n_train": summary["n_train"],
            "seconds": summary["seconds"], "trainings": summary["trainings"], "experiment_id": experiment.id, "run_id": run_id,
            "supervisor": summary["supervisor"], "strong": summary["strong"], "dataset": summary["dataset"]}
    lines = [f"{config.dataset}: weak {config.supervisor} -> strong {config.strong}; experiment {experiment.name!r} "
             f"v{experiment.version}, run {run_id}",
             f"n_train={summary['n_train']} n_test={summary['n_test']} seeds={config.seeds} "
             f"seconds={summary['seconds']:.0f}"]
    for method, f in summary["methods"].items():
        pgr_text = _ci(f["pgr"]) if f["pgr"]["estimate"] is not None else f"n/a ({f['pgr_reason']})"
        if f["pgr"].get("unbounded"):
            pgr_text = f"{f['pgr']['estimate']:.3f} [unbounded: the ceiling does not beat the weak supervisor in " \
                       f"{100 * f['pgr']['undefined_share']:.0f}% of resamples]"
        gap = f"  gap {_ci(f['gap'])}" if "gap" in f else ""
        lines.append(f"{method:<8} weak {_ci(f['weak'])}  w2s {_ci(f['w2s'])}  ceiling {_ci(f['ceiling'])}{gap}  "
                     f"PGR {pgr_text}")
    lines.append(f"trainings: {summary['trainings']['trained']} trained, {summary['trainings']['reused']} reused "
                 "from the cache; intervals: " + next(iter(summary["methods"].values()))["interval_method"])
    emit(args, data, "\n".join(lines))


def cmd_w2s_list(args) -> None:
    from oversight.w2s.experiments import results_table

    rows = results_table()
    text = "\n".join(f"{r['experiment']:<40} {r['method']:<8} weak {_ci(r['weak'])}  w2s {_ci(r['w2s'])}  "
                     f"ceiling {_ci(r['ceiling'])}  PGR {_ci(r['pgr'])}" for r in rows) or "no finished w2s runs yet"
    emit(args, rows, text)


def cmd_w2s_simulate(args) -> None:
    from oversight.w2s.simulated_people import simulate_participants

    summary = simulate_participants(study_id=known_study(args.study), participants=args.participants,
                                    accuracy=args.accuracy, confidence=args.confidence, seed=args.seed)
    data = {**asdict(summary), "accuracy": summary.accuracy}
    emit(args, data, f"{summary.participants} simulated participants gave {summary.answers} answers, "
                     f"{summary.correct} right, in dry-run study {summary.study_id} (use study:{summary.study_id} "
                     "as the weak labels)")


def register(sub: argparse._SubParsersAction) -> None:
    from oversight.w2s.config import DATASETS

    w2s = add_group(sub, "w2s", "weak-to-strong lab", "w2s_cmd")
    sp = add_command(w2s, "run", cmd_w2s_run,
                     "train weak, weak-to-strong and ceiling models; print accuracies and PGR")
    sp.add_argument("--dataset", required=True, choices=list(DATASETS))
    sp.add_argument("--train", help="data set file (BoolQ JSON lines, Cosmos QA CSV, MMLU CSV or folder, HH-RLHF JSON lines)")
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
    sp.add_argument("--top-layers", type=int,
                    help="minilm students: fine-tune only the top N layers (default all; 2 for hh-rlhf)")
    sp.add_argument("--weak-fraction", type=float,
                    help="model supervisor: the weak model's share of the training items (default 0.5: halves)")
    sp.add_argument("--lora", action=argparse.BooleanOptionalAction, default=None,
                    help="hf students: LoRA adapters (default: for models over 300M parameters)")
    sp.add_argument("--quiet", action="store_true", help="no progress bar on stderr")
    add_command(w2s, "list", cmd_w2s_list, "figures of every experiment's latest finished run")
    sp = add_command(w2s, "simulate-people", cmd_w2s_simulate,
                     "simulated participants answer a study's items (dry runs)")
    sp.add_argument("--study", type=int, required=True)
    sp.add_argument("--participants", type=int, default=3)
    sp.add_argument("--accuracy", type=float, default=0.7, help="planted share of right answers")
    sp.add_argument("--confidence", type=float, default=0.7, help="probability put on the chosen answer")
    sp.add_argument("--seed", type=int, default=0)
