"""`python -m oversight proposals ...` and `versions ...`: the inner and outer loops from the command line."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import asdict
from typing import Any


def _cli():
    from oversight import cli  # the shared helpers (_emit, _study_id, _json_arg, CliError)

    return cli


def cmd_proposals_list(args) -> None:
    from oversight.inner_loop import list_proposals

    cli = _cli()
    rows = [asdict(p) for p in list_proposals(cli._study_id(args.study), status=args.status)]
    text = "\n".join(f"#{r['id']:<4} {r['status']:<9} {r['strategy']:<20} {r['kind']:<22} {r['text'][:60]!r}"
                     for r in rows) or "no proposals"
    cli._emit(args, rows, text)


def cmd_proposals_accept(args) -> None:
    from oversight.inner_loop import accept_proposal

    done = accept_proposal(args.id, None, rules=_cli()._json_arg(args.rules, "--rules") or None)
    text = f"proposal #{done.proposal_id} is candidate version {done.version} (strategy id {done.strategy_id})"
    _cli()._emit(args, asdict(done), text + (f"\n{done.note}" if done.note else ""))


def cmd_proposals_decline(args) -> None:
    from oversight.inner_loop import decline_proposal

    decline_proposal(args.id, None)
    _cli()._emit(args, {"id": args.id, "status": "declined"}, f"proposal #{args.id} declined")


def _f(d: dict[str, Any], key: str = "rate") -> str:
    value = d.get(key)
    if value is None:
        return "n/a"
    low, high = d.get("ci_low"), d.get("ci_high")
    return f"{value:.2f}" + (f" [{low:.2f}, {high:.2f}]" if low is not None and high is not None else "") \
        + f" n={d['n']}"


def cmd_versions_status(args) -> None:
    from oversight.inner_loop import convergence
    from oversight.outer_loop import version_figures, version_status

    cli = _cli()
    study_id = cli._study_id(args.study)
    figures = version_figures(study_id)
    converged = {c.strategy_id: asdict(c) for c in convergence(study_id)}
    status = version_status(study_id)
    rows = [{**f, "status": status.get(f["strategy_id"], ""), "convergence": converged.get(f["strategy_id"])}
            for f in figures]
    lines = []
    for r in rows:
        c = r["convergence"] or {}
        lines.append(f"{r['strategy_id']:>4}  {r['label']:<20} {r['status'] or '-':<9} "
                     f"success {_f(r['expert_success'])}  accuracy {_f(r['accuracy'])}  "
                     f"brier {_f(r['brier'], 'mean')}  "
                     f"converged {'yes' if c.get('converged') else 'no: ' + '; '.join(c.get('missing', []))}"
                     + ("  (simulated data)" if r["simulated"] else ""))
    cli._emit(args, rows, "\n".join(lines) or "no strategy versions in this study yet")


def _ids(raw: str | None) -> list[int]:
    try:
        return [int(x) for x in (raw or "").split(",") if x.strip()]
    except ValueError:
        raise _cli().CliError("--reviews takes review ids separated by commas, e.g. 3,7") from None


def cmd_versions_promote(args) -> None:
    from oversight.outer_loop import promote

    moved = promote(args.strategy_id, args.rationale, _ids(args.reviews), None)
    _cli()._emit(args, {"strategy_id": args.strategy_id, "conditions": moved},
                 f"promoted; conditions now dealing it: {', '.join(moved) or 'none changed'}")


def cmd_versions_retire(args) -> None:
    from oversight.outer_loop import retire

    retire(args.strategy_id, args.rationale, None, _ids(args.reviews))
    _cli()._emit(args, {"strategy_id": args.strategy_id, "status": "retired"}, "retired")


def cmd_versions_thresholds(args) -> None:
    from oversight.inner_loop import set_convergence

    now = set_convergence(study_id=_cli()._study_id(args.study), user_id=None,
                          min_participants=args.min_participants, min_confidence=args.min_confidence,
                          min_agreement=args.min_agreement)
    _cli()._emit(args, now, ", ".join(f"{k}={v}" for k, v in now.items()))


def add_loops(sub: argparse._SubParsersAction, add: Callable) -> None:
    from oversight.inner_loop import PROPOSAL_STATUSES

    proposals = sub.add_parser("proposals", help="participants' refinement proposals (inner loop)"
                               ).add_subparsers(dest="proposals_cmd", required=True)
    sp = add("list", cmd_proposals_list, "a study's proposals, newest first", proposals)
    sp.add_argument("--study", type=int, required=True)
    sp.add_argument("--status", choices=PROPOSAL_STATUSES)
    sp = add("accept", cmd_proposals_accept, "make a proposal a candidate child version", proposals)
    sp.add_argument("id", type=int)
    sp.add_argument("--rules", help='rules to change in the new version as JSON, e.g. \'{"max_messages": 20}\'')
    sp = add("decline", cmd_proposals_decline, "decline a proposal", proposals)
    sp.add_argument("id", type=int)

    versions = sub.add_parser("versions", help="strategy versions: figures, convergence, promote (outer loop)"
                              ).add_subparsers(dest="versions_cmd", required=True)
    sp = add("status", cmd_versions_status, "per version: figures with intervals, status and convergence", versions)
    sp.add_argument("--study", type=int, required=True)
    for name, fn, help_ in (("promote", cmd_versions_promote, "promote a version: the study's assisted conditions "
                                                                "of its lineage deal it from now on"),
                            ("retire", cmd_versions_retire, "retire a version")):
        sp = add(name, fn, help_, versions)
        sp.add_argument("strategy_id", type=int)
        sp.add_argument("--rationale", required=True)
        sp.add_argument("--reviews", help="ids of the expert reviews it answers, comma-separated")
    sp = add("thresholds", cmd_versions_thresholds, "set when a version's inner loop has converged", versions)
    sp.add_argument("--study", type=int, required=True)
    sp.add_argument("--min-participants", type=int)
    sp.add_argument("--min-confidence", type=float, help="mean self-reported sureness, 0-1")
    sp.add_argument("--min-agreement", type=float, help="share of answers matching their item's majority, 0-1")
