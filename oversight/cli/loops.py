"""`proposals list|accept|decline` and `versions status|promote|retire|thresholds`: the inner and outer loops
from the command line."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import Any

from oversight.cli.common import CliError, add_command, add_group, emit, json_arg, known_study


def cmd_proposals_list(args) -> None:
    from oversight.sandwiching.inner_loop import list_proposals

    rows = [asdict(p) for p in list_proposals(known_study(args.study), status=args.status)]
    text = "\n".join(f"#{r['id']:<4} {r['status']:<9} {r['strategy']:<20} {r['kind']:<22} {r['text'][:60]!r}"
                     for r in rows) or "no proposals"
    emit(args, rows, text)


def cmd_proposals_accept(args) -> None:
    from oversight.sandwiching.inner_loop import accept_proposal

    done = accept_proposal(args.id, None, rules=json_arg(args.rules, "--rules") or None)
    text = f"proposal #{done.proposal_id} is candidate version {done.version} (strategy id {done.strategy_id})"
    emit(args, asdict(done), text + (f"\n{done.note}" if done.note else ""))


def cmd_proposals_decline(args) -> None:
    from oversight.sandwiching.inner_loop import decline_proposal

    decline_proposal(args.id, None)
    emit(args, {"id": args.id, "status": "declined"}, f"proposal #{args.id} declined")


def _f(d: dict[str, Any], key: str = "rate") -> str:
    value = d.get(key)
    if value is None:
        return "n/a"
    low, high = d.get("ci_low"), d.get("ci_high")
    return f"{value:.2f}" + (f" [{low:.2f}, {high:.2f}]" if low is not None and high is not None else "") \
        + f" n={d['n']}"


def cmd_versions_status(args) -> None:
    from oversight.sandwiching.inner_loop import convergence
    from oversight.sandwiching.outer_loop import version_figures, version_status

    study_id = known_study(args.study)
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
    emit(args, rows, "\n".join(lines) or "no strategy versions in this study yet")


def _ids(raw: str | None) -> list[int]:
    try:
        return [int(x) for x in (raw or "").split(",") if x.strip()]
    except ValueError:
        raise CliError("--reviews takes review ids separated by commas, e.g. 3,7") from None


def cmd_versions_promote(args) -> None:
    from oversight.sandwiching.outer_loop import promote

    moved = promote(args.strategy_id, args.rationale, _ids(args.reviews), None)
    emit(args, {"strategy_id": args.strategy_id, "conditions": moved},
         f"promoted; conditions now dealing it: {', '.join(moved) or 'none changed'}")


def cmd_versions_retire(args) -> None:
    from oversight.sandwiching.outer_loop import retire

    retire(args.strategy_id, args.rationale, None, _ids(args.reviews))
    emit(args, {"strategy_id": args.strategy_id, "status": "retired"}, "retired")


def cmd_versions_thresholds(args) -> None:
    from oversight.sandwiching.inner_loop import set_convergence

    now = set_convergence(study_id=known_study(args.study), user_id=None,
                          min_participants=args.min_participants, min_confidence=args.min_confidence,
                          min_agreement=args.min_agreement)
    emit(args, now, ", ".join(f"{k}={v}" for k, v in now.items()))


def register(sub: argparse._SubParsersAction) -> None:
    from oversight.sandwiching.inner_loop import PROPOSAL_STATUSES

    proposals = add_group(sub, "proposals", "participants' refinement proposals (inner loop)", "proposals_cmd")
    sp = add_command(proposals, "list", cmd_proposals_list, "a study's proposals, newest first")
    sp.add_argument("--study", type=int, required=True)
    sp.add_argument("--status", choices=PROPOSAL_STATUSES)
    sp = add_command(proposals, "accept", cmd_proposals_accept, "make a proposal a candidate child version")
    sp.add_argument("id", type=int)
    sp.add_argument("--rules", help='rules to change in the new version as JSON, e.g. \'{"max_messages": 20}\'')
    sp = add_command(proposals, "decline", cmd_proposals_decline, "decline a proposal")
    sp.add_argument("id", type=int)

    versions = add_group(sub, "versions", "strategy versions: figures, convergence, promote (outer loop)",
                         "versions_cmd")
    sp = add_command(versions, "status", cmd_versions_status,
                     "per version: figures with intervals, status and convergence")
    sp.add_argument("--study", type=int, required=True)
    for name, fn, help_ in (("promote", cmd_versions_promote, "promote a version: the study's assisted conditions "
                                                                "of its lineage deal it from now on"),
                            ("retire", cmd_versions_retire, "retire a version")):
        sp = add_command(versions, name, fn, help_)
        sp.add_argument("strategy_id", type=int)
        sp.add_argument("--rationale", required=True)
        sp.add_argument("--reviews", help="ids of the expert reviews it answers, comma-separated")
    sp = add_command(versions, "thresholds", cmd_versions_thresholds, "set when a version's inner loop has converged")
    sp.add_argument("--study", type=int, required=True)
    sp.add_argument("--min-participants", type=int)
    sp.add_argument("--min-confidence", type=float, help="mean self-reported sureness, 0-1")
    sp.add_argument("--min-agreement", type=float, help="share of answers matching their item's majority, 0-1")
