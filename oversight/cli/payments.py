"""`payments owed|export`: base pay and bonuses, each paid exactly once."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

from oversight.cli.common import add_command, add_group, emit, known_study


def cmd_payments_owed(args) -> None:
    from oversight.study.payments import owed

    rows = [{"participant": o.name, "prolific_id": o.external_id, "base": o.base, "bonus": o.bonus,
             "amount": o.amount} for o in owed(study_id=known_study(args.study))]
    text = "\n".join(f"{r['participant']:<14} {r['prolific_id'] or '(personal link)':<26} base {r['base']:.2f} "
                     f"bonus {r['bonus']:.2f}" for r in rows) or "nothing is owed"
    emit(args, rows, text)


def cmd_payments_export(args) -> None:
    from oversight.study.payments import export_payments

    batch = export_payments(study_id=known_study(args.study))
    if args.out:
        Path(args.out).write_text("".join(f"{line}\n" for line in batch.prolific_lines))
    lines = [f"export {batch.export_id}: {len(batch.prolific_lines)} Prolific lines, total {batch.total:.2f} "
             f"{batch.currency}" if batch.export_id else "nothing is owed: nothing exported"]
    if not args.out:
        lines += batch.prolific_lines
    lines += [f"pay by hand: {r['participant']} {r['amount']}" for r in batch.by_hand]
    emit(args, asdict(batch), "\n".join(lines))


def register(sub: argparse._SubParsersAction) -> None:
    pay = add_group(sub, "payments", "base pay and bonuses", "payments_cmd")
    sp = add_command(pay, "owed", cmd_payments_owed, "what each participant has earned and not yet been paid")
    sp.add_argument("--study", type=int, required=True)
    sp = add_command(pay, "export", cmd_payments_export, "pay what is owed: Prolific bulk-bonus lines (ID,amount), "
                                                         "each payment recorded so that nothing is paid twice")
    sp.add_argument("--study", type=int, required=True)
    sp.add_argument("--out", help="write the Prolific lines to this file")
