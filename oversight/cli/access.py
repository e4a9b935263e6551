"""`invite`, `enrolment`, `sign-out`: who gets in (participant links, the enrolment link and its limits) and
ending a staff member's sessions."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from oversight.cli.common import CliError, add_command, emit, known_study


def cmd_invite(args) -> None:
    from oversight.access.auth import create_invites

    invites = create_invites(study_id=known_study(args.study), count=args.count)
    emit(args, [asdict(i) for i in invites], "\n".join(i.link for i in invites))


def cmd_enrolment(args) -> None:
    from oversight.access.auth import enrolment_cap, open_enrolment, set_enrolment_cap

    study_id = known_study(args.study)
    if args.max_per_minute is None and args.max_total is None:
        link = open_enrolment(study_id=study_id)
        emit(args, {"link": link}, link)
        return
    # Limits only: the link that is out there keeps working.
    current = enrolment_cap(study_id)
    per_minute = current.max_per_minute if args.max_per_minute is None else _limit(args.max_per_minute)
    total = current.max_total if args.max_total is None else _limit(args.max_total)
    cap = set_enrolment_cap(study_id=study_id, max_per_minute=per_minute, max_total=total)
    emit(args, {"study_id": study_id, "max_per_minute": cap.max_per_minute, "max_total": cap.max_total},
         f"enrolment limits for study {study_id}: {cap.max_per_minute or 'no limit'} a minute, "
         f"{cap.max_total if cap.max_total is not None else 'no limit'} in total (the link is unchanged)")


def _limit(value: str) -> int | None:
    if value.lower() in ("none", "no", "off"):
        return None
    if not value.isdigit():
        raise CliError(f"a limit is a whole number or 'none', got {value!r}")
    return int(value)


def cmd_sign_out(args) -> None:
    from oversight.access.auth import end_staff_sessions

    n = end_staff_sessions(name=args.name)
    emit(args, {"name": args.name, "sessions_ended": n}, f"ended {n} session(s) of {args.name!r}")


def register(sub: argparse._SubParsersAction) -> None:
    sp = add_command(sub, "invite", cmd_invite, "create participant links")
    sp.add_argument("--study", type=int, required=True)
    sp.add_argument("--count", type=int, default=1)
    sp = add_command(sub, "enrolment", cmd_enrolment, "open (or re-issue) a study's enrolment link for Prolific, or "
                                                      "set its limits (then the link is unchanged)")
    sp.add_argument("--study", type=int, required=True)
    sp.add_argument("--max-per-minute", help="new participants the link may create a minute (a number or 'none')")
    sp.add_argument("--max-total", help="participants the link may create in all (a number or 'none')")
    sp = add_command(sub, "sign-out", cmd_sign_out,
                     "end every staff session of an admin or expert (e.g. a lost laptop)")
    sp.add_argument("--name", required=True)
