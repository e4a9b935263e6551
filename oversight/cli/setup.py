"""`init-db`, `seed-demo`, `create-user`, `set-password`: a lab's database, its demo study and its staff."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict

from oversight.cli.common import CliError, add_command, emit


def cmd_init_db(args) -> None:
    from oversight.db import init_db
    from oversight.settings import get_settings

    rev = init_db()
    url = get_settings().resolved_database_url
    emit(args, {"revision": rev, "database": url.split("@")[-1]}, f"database at revision {rev}")


def cmd_seed_demo(args) -> None:
    from oversight.db import init_db
    from oversight.demo import seed_demo

    init_db()
    seed = seed_demo(admin_name=args.admin, admin_password=_read_password(args) if args.password_stdin else None,
                     invites=args.invites, simulated=args.simulated)
    lines = [f"demo study id {seed.study_id}" + ("" if seed.created else " (existed)")]
    if seed.admin_password:
        lines.append(f"admin sign-in: name {seed.admin_name!r}, password {seed.admin_password!r}")
    else:
        lines.append(f"admin {seed.admin_name!r} existed; its password is unchanged "
                     "(reset it with `python -m oversight set-password --name NAME`)")
    lines += ["participant links:"] + [f"  {link}" for link in seed.invite_links]
    emit(args, asdict(seed), "\n".join(lines))


PASSWORD_HELP = ("the password is read from the first line of standard input (never an argument, which other "
                 "users could see in the process list), e.g. `read -rs PW; printf '%s\\n' \"$PW\" | python -m oversight "
                 "{command} ...`; --password-stdin says so explicitly")


def _read_password(args) -> str:
    password = sys.stdin.readline().rstrip("\n")
    if not password:
        raise CliError("give the password on the first line of standard input (see --help)")
    return password


def cmd_create_user(args) -> None:
    from oversight.access.auth import create_user

    user = create_user(role=args.role, name=args.name, password=_read_password(args))
    emit(args, {"id": user.id, "role": user.role, "name": user.name},
         f"created {user.role} {user.name!r} (id {user.id})")


def cmd_set_password(args) -> None:
    from oversight.access.auth import set_password

    set_password(name=args.name, password=_read_password(args))
    emit(args, {"name": args.name}, f"password set for {args.name!r}")


def cmd_train_judge(args) -> None:
    """Train (once) the extractive judge's head on the NYU training stories, so no participant waits for it."""
    from oversight.models import get_model
    from oversight.models.judge_head import load_or_train
    from oversight.settings import get_settings

    settings = get_settings()
    backend = get_model("extractive")
    backend.load()
    head = load_or_train(backend, data_dir=settings.data_dir, datasets_dir=settings.datasets_dir,
                         encoder_id=backend.encoder_id)
    if head is None:
        raise CliError(f"no NYU debate rooms under {settings.datasets_dir / 'nyu_human_debate'} to train on")
    meta = {k: v for k, v in head.meta.items() if not k.endswith("story_ids")}
    emit(args, meta, f"extractive judge ready (validation accuracy {meta['validation_accuracy']})")


def register(sub: argparse._SubParsersAction) -> None:
    add_command(sub, "train-judge", cmd_train_judge, "train the offline extractive judge once (cached under data_dir)")
    add_command(sub, "init-db", cmd_init_db, "create or migrate the database (idempotent)")
    sp = add_command(sub, "seed-demo", cmd_seed_demo, "demo study, items, strategies, invite links")
    sp.add_argument("--admin", default="admin", help="admin name to create if missing")
    sp.add_argument("--password-stdin", action="store_true", help="read the new admin's password from stdin")
    sp.add_argument("--invites", type=int, default=3)
    sp.add_argument("--simulated", type=int, default=6, help="simulated participants run through the new demo study "
                                                              "(with two simulated experts), 0 for none")
    # create-user and set-password always read the password from stdin; --password-stdin is accepted so that the
    # form seed-demo (and other tools) use works here too.
    sp = add_command(sub, "create-user", cmd_create_user, "create an admin or expert (password from stdin)")
    sp.description = PASSWORD_HELP.format(command="create-user")
    sp.add_argument("--role", required=True, choices=["admin", "expert"])
    sp.add_argument("--name", required=True)
    sp.add_argument("--password-stdin", action="store_true",
                    help="read the password from standard input (the default: stdin is always where it comes from)")
    sp = add_command(sub, "set-password", cmd_set_password, "set an admin's or expert's password (from stdin)")
    sp.description = PASSWORD_HELP.format(command="set-password")
    sp.add_argument("--name", required=True)
    sp.add_argument("--password-stdin", action="store_true",
                    help="read the password from standard input (the default: stdin is always where it comes from)")
