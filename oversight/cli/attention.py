"""`attention list|set`: attention-check flags per participant, and including or excluding one by hand."""

from __future__ import annotations

import argparse

from oversight.cli.common import add_command, add_group, emit, known_study


def cmd_attention_list(args) -> None:
    from oversight.study.attention import attention, describe_thresholds

    study, people = attention(study_id=known_study(args.study))
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
    emit(args, data, text if rows else head + "\nno participants yet")


def cmd_attention_set(args) -> None:
    from oversight.study.attention import set_override

    decision = "include" if args.include else "exclude" if args.exclude else None
    set_override(study_id=known_study(args.study), participant_id=args.participant, decision=decision)
    emit(args, {"participant_id": args.participant, "override": decision},
         f"participant {args.participant}: " + ({"include": "included anyway", "exclude": "excluded"}
                                                .get(decision, "the thresholds decide")))


def register(sub: argparse._SubParsersAction) -> None:
    att = add_group(sub, "attention", "attention checks: flags per participant, include or exclude", "attention_cmd")
    sp = add_command(att, "list", cmd_attention_list, "each participant's flags (wrong catch answers, too-fast "
                                                      "answers) and status against the study's thresholds")
    sp.add_argument("--study", type=int, required=True)
    sp = add_command(att, "set", cmd_attention_set, "include a flagged participant anyway, or exclude one (audited)")
    sp.add_argument("--study", type=int, required=True)
    sp.add_argument("--participant", type=int, required=True, help="the participant's id (see attention list)")
    which = sp.add_mutually_exclusive_group(required=True)
    which.add_argument("--include", action="store_true", help="include anyway: answers count and pay is released")
    which.add_argument("--exclude", action="store_true", help="exclude: answers left out of results, pay held")
    which.add_argument("--clear", action="store_true", help="no override: the thresholds decide")
