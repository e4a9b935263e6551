"""`simulate` and `power`: a study's design run by simulated people of planted skill, once in a dry-run copy, or
many times to plan how many participants it needs."""

from __future__ import annotations

import argparse

from oversight.cli.common import CliError, add_command, emit, known_study, progress_bar


def cmd_simulate(args) -> None:
    from oversight.sandwiching.simulate import Skill, simulate, summarise

    skill = Skill(alone=args.alone, assisted=args.assisted, expert=args.expert, review_accuracy=args.review_accuracy,
                  confidence=args.confidence)
    run = simulate(study_id=known_study(args.study), participants=args.participants, skill=skill,
                   experts=args.experts, seed=args.seed, progress=progress_bar(args))
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
    emit(args, data, "\n".join(lines))


def _counts(raw: str) -> list[int]:
    try:
        counts = [int(x) for x in raw.split(",") if x.strip()]
    except ValueError:
        raise CliError(f"--participants takes whole numbers separated by commas, e.g. 10,20,40 (got {raw!r})") from None
    if not counts:
        raise CliError("--participants needs at least one count, e.g. 10,20,40")
    return counts


def cmd_power(args) -> None:
    from oversight.study.power import Planted, plan

    planted = Planted(alone=args.alone, assisted=args.assisted, expert=args.expert, skill_sd=args.skill_sd,
                      item_sd=args.item_sd)
    result = plan(study_id=known_study(args.study), planted=planted, participants=_counts(args.participants),
                  sims=args.sims, seed=args.seed, experts=args.experts, resamples=args.resamples,
                  progress=progress_bar(args))

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
    emit(args, result.to_json(), "\n".join(lines))


def register(sub: argparse._SubParsersAction) -> None:
    sp = add_command(sub, "simulate", cmd_simulate,
                     "dry-run a study: copies it into a new dry-run study where simulated participants and experts "
                     "with planted skill go through it; prints the recovered figures beside the planted ones (the "
                     "study itself is untouched)")
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
    sp = add_command(sub, "power", cmd_power,
                     "how many participants the study needs: simulates its design many times with planted accuracies "
                     "and prints, per participant count, the share of studies whose gap-closed interval excludes 0 "
                     "(power), covers the planted value, and the median interval width; writes nothing")
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
