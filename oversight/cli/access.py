"""`invite`, `enrolment`, `sign-out`, `staff`: who gets in (participant links, the enrolment link and its limits),
ending a staff member's sessions, and admins' and experts' accounts (the Staff page's actions)."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from oversight.cli.common import CliError, add_command, add_group, emit, known_study


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
    from oversight.access.staff_links import sign_out_everywhere

    n = sign_out_everywhere(name=args.name)
    emit(args, {"name": args.name, "sessions_ended": n}, f"ended {n} session(s) of {args.name!r}")


def cmd_staff_list(args) -> None:
    from oversight.access.staff_links import pending_links, staff_list

    people, links = staff_list(), pending_links()
    lines = [f"{p.name}\t{p.role}\t{'active' if p.active else 'deactivated'}\tlast sign-in "
             f"{p.last_sign_in or 'never'}\t{p.live_sessions} live session(s)" for p in people]
    lines += [f"link {link['id']}: {link['purpose']} for {link['for']} ({link['role']}), expires {link['expires']}"
              for link in links]
    emit(args, {"staff": [asdict(p) for p in people], "links": links}, "\n".join(lines))


def _link_out(args, issued) -> None:
    emit(args, asdict(issued), f"{issued.link}\n(one-time {issued.purpose} link for {issued.name!r}, "
                               f"valid until {issued.expires_at:%Y-%m-%d %H:%M} UTC; shown once)")


def cmd_staff_invite(args) -> None:
    from oversight.access.staff_links import invite

    _link_out(args, invite(name=args.name, role=args.role))


def cmd_staff_reset_link(args) -> None:
    from oversight.access.staff_links import reset_link

    _link_out(args, reset_link(name=args.name))


def cmd_staff_revoke_link(args) -> None:
    from oversight.access.staff_links import revoke_link

    revoke_link(link_id=args.link)
    emit(args, {"link": args.link, "revoked": True}, f"link {args.link} withdrawn")


def cmd_staff_deactivate(args) -> None:
    from oversight.access.staff_links import set_active

    n = set_active(name=args.name, active=False)
    emit(args, {"name": args.name, "active": False, "sessions_ended": n},
         f"{args.name!r} deactivated ({n} session(s) ended)")


def cmd_staff_reactivate(args) -> None:
    from oversight.access.staff_links import set_active

    set_active(name=args.name, active=True)
    emit(args, {"name": args.name, "active": True}, f"{args.name!r} reactivated")


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

    staff = add_group(sub, "staff", "admins' and experts' accounts: list, invite by link, reset link, deactivate "
                                    "(also on the Staff page)", "staff_cmd")
    add_command(staff, "list", cmd_staff_list, "every admin and expert, and the links not used yet")
    sp = add_command(staff, "invite", cmd_staff_invite,
                     "a one-time sign-up link (7 days) with which a new admin or expert sets their own password")
    sp.add_argument("--name", required=True)
    sp.add_argument("--role", required=True, choices=["admin", "expert"])
    sp = add_command(staff, "reset-link", cmd_staff_reset_link,
                     "a one-time link (7 days) with which an admin or expert sets a new password")
    sp.add_argument("--name", required=True)
    sp = add_command(staff, "revoke-link", cmd_staff_revoke_link, "withdraw an unused invite or reset link")
    sp.add_argument("--link", type=int, required=True, help="the link's id (see `staff list`)")
    sp = add_command(staff, "deactivate", cmd_staff_deactivate,
                     "stop an admin or expert from signing in and end their sessions")
    sp.add_argument("--name", required=True)
    sp = add_command(staff, "reactivate", cmd_staff_reactivate, "let a deactivated admin or expert sign in again")
    sp.add_argument("--name", required=True)
