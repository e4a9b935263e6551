"""`payments owed|export|files|send|settle`: base pay by approval, bonuses by file or the Prolific API, each settled
exactly once."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

from oversight.cli.common import add_command, add_group, emit, known_study


def cmd_payments_owed(args) -> None:
    from oversight.study.payments import ledger

    book = ledger(study_id=known_study(args.study))
    rows = [{"participant": o.name, "prolific_id": o.external_id, "base": o.base, "bonus": o.bonus,
             "amount": o.amount} for o in book.owed]
    text = "\n".join([f"{r['participant']:<14} {r['prolific_id'] or '(personal link)':<26} base {r['base']:.2f} "
                      f"bonus {r['bonus']:.2f}" for r in rows]
                     + [f"{p.external_id or p.name}: {p.decision} ({p.reason})" for p in book.people
                        if p.decision in ("reject", "returned")]
                     + [message for _, message in book.messages()])
    emit(args, rows, text)


def cmd_payments_export(args) -> None:
    from oversight.study.payments import export_payments

    batch = export_payments(study_id=known_study(args.study))
    if args.out:
        Path(args.out).write_text("".join(f"{line}\n" for line in batch.prolific_lines))
    lines = [f"export {batch.export_id}: {len(batch.prolific_lines)} bonus lines, {len(batch.approve)} to approve, "
             f"{len(batch.reject)} to reject, total {batch.total:.2f} {batch.currency} (files: payments files "
             f"--study {args.study})" if batch.export_id else "nothing is owed: nothing exported"]
    if not args.out:
        lines += batch.prolific_lines
    lines += [f"pay by hand: {r['participant']} {r['amount']}" for r in batch.by_hand]
    emit(args, asdict(batch), "\n".join(lines))


def cmd_payments_files(args) -> None:
    """Write every export's files again (they are kept with the export)."""
    from oversight.study.payments import export_files, exports

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for batch in exports(study_id=known_study(args.study)):
        for name, text in export_files(batch).items():
            path = out / f"study-{args.study}-export-{batch.export_id}-{name}"
            path.write_text(text)
            written.append(str(path))
    emit(args, written, "\n".join(written) or "no export yet")


def cmd_payments_send(args) -> None:
    from oversight.study.payments import exports
    from oversight.study.prolific_api import ProlificError, send_export

    export_id = args.export
    if export_id is None:
        past = exports(study_id=known_study(args.study))
        if not past:
            raise ProlificError("no export yet: run `payments export` first")
        export_id = past[0].export_id
    lines = send_export(export_id=export_id)
    emit(args, lines, "\n".join(lines))


def cmd_payments_settle(args) -> None:
    from oversight.study.prolific_api import settle_unanswered

    settle_unanswered(call_id=args.call, happened=args.paid == "yes")
    emit(args, {"call": args.call, "happened": args.paid == "yes"}, f"call {args.call} recorded")


def register(sub: argparse._SubParsersAction) -> None:
    pay = add_group(sub, "payments", "base pay and bonuses", "payments_cmd")
    sp = add_command(pay, "owed", cmd_payments_owed, "what each participant has earned and not yet been paid")
    sp.add_argument("--study", type=int, required=True)
    sp = add_command(pay, "export", cmd_payments_export, "pay what is owed: Prolific bulk-bonus lines (ID,amount), "
                                                         "each payment recorded so that nothing is paid twice")
    sp.add_argument("--study", type=int, required=True)
    sp.add_argument("--out", help="write the Prolific bonus lines (ID,bonus) to this file")
    sp = add_command(pay, "files", cmd_payments_files, "write every export's files again (bonus, approve, reject, "
                                                       "by hand)")
    sp.add_argument("--study", type=int, required=True)
    sp.add_argument("--out", required=True, help="folder to write them to")
    sp = add_command(pay, "send", cmd_payments_send, "Prolific API mode: pay an export's bonuses, approve and reject "
                                                     "its submissions (safe to rerun: nothing is paid twice)")
    sp.add_argument("--study", type=int, required=True)
    sp.add_argument("--export", type=int, help="the export to send (default: the latest)")
    sp = add_command(pay, "settle", cmd_payments_settle, "record whether a Prolific call that got no answer happened")
    sp.add_argument("--call", type=int, required=True)
    sp.add_argument("--paid", choices=("yes", "no"), required=True, help="yes: it happened on Prolific")
