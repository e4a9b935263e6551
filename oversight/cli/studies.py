"""`study create|check|open|list|history|set`: a study from draft to open, and its settings."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from oversight.cli.common import CliError, add_command, add_group, emit, known_study, whole
from storage.vocabulary import BONUS_RULES


def cmd_study_create(args) -> None:
    from oversight.study.studies import create_study

    study = create_study(name=args.name, user_id=None, description=args.description or "")
    emit(args, {"id": study.id, "name": study.name, "status": study.status}, str(study.id))


def cmd_study_check(args) -> None:
    from oversight.study.launch import check_study, describe

    check = check_study(study_id=known_study(args.study))
    emit(args, check.to_dict(), describe(check))


def cmd_study_open(args) -> None:
    from oversight.study.launch import LaunchRefused, describe, open_study

    try:
        check = open_study(study_id=known_study(args.study), user_id=None)
    except LaunchRefused as exc:
        raise CliError(describe(exc.check)) from None
    emit(args, check.to_dict() | {"status": "open"}, describe(check) + f"\nstudy {args.study} is open")


def cmd_study_set(args) -> None:
    from oversight.study.studies import update_study

    changes = {k: v for k, v in (("name", args.name), ("description", args.description),
                                 ("instructions", args.instructions), ("consent_text", args.consent_text),
                                 ("completion_code", args.completion_code), ("design", args.design),
                                 ("allocation", args.allocation), ("practice_items", args.practice_items),
                                 ("review_share", args.review_share), ("blind_review", args.blind_review),
                                 ("completion_url", args.completion_url), ("currency", args.currency),
                                 ("base_pay", args.base_pay), ("bonus_rule", args.bonus_rule),
                                 ("bonus_amount", args.bonus_amount), ("catch_items", args.catch_items),
                                 ("min_seconds_per_item", args.min_seconds_per_item),
                                 ("attention_warn", args.attention_warn),
                                 ("attention_exclude", args.attention_exclude),
                                 ("code_no_consent", args.code_no_consent),
                                 ("code_screened_out", args.code_screened_out),
                                 ("code_timed_out", args.code_timed_out),
                                 ("prolific_study_id", args.prolific_study_id))
               if v is not None}
    convergence = {k: v for k, v in (("min_participants", args.min_participants),
                                     ("min_confidence", args.min_confidence),
                                     ("min_agreement", args.min_agreement)) if v is not None}
    if convergence:
        from oversight.study.studies import get_study

        changes["convergence"] = {**get_study(known_study(args.study)).convergence, **convergence}
    if args.items_per_participant is not None:
        changes["items_per_participant"] = None if args.items_per_participant == "all" else \
            whole(args.items_per_participant, "--items-per-participant")
    changed = update_study(study_id=known_study(args.study), user_id=None, **changes)
    emit(args, {"changed": changed}, f"changed: {', '.join(changed)}" if changed else "nothing changed")


def cmd_study_list(args) -> None:
    from oversight.study.studies import list_studies, study_label

    studies = list_studies(include_archived=True)  # the status column says which are archived
    rows = [asdict(s) for s in studies]
    text = "\n".join(f"{s.id:>4}  {study_label(s)}  {s.status}  items={s.n_items} participants={s.n_participants}"
                     for s in studies) or "no studies yet"
    emit(args, rows, text)


def cmd_study_history(args) -> None:
    from oversight.audit import setting_changes

    rows = setting_changes(study_id=known_study(args.study), limit=args.limit)
    text = "\n".join(f"{r['when']:%Y-%m-%d %H:%M}  {r['by']}  {r['setting']}: {r['old']} -> {r['new']}"
                     for r in rows) or "no setting has been changed"
    emit(args, rows, text)


def register(sub: argparse._SubParsersAction) -> None:
    study = add_group(sub, "study", "create and list studies", "study_cmd")
    sp = add_command(study, "create", cmd_study_create,
                     "create a study as a draft (prints its id); `study open` opens it")
    sp.add_argument("--name", required=True)
    sp.add_argument("--description")
    sp = add_command(study, "check", cmd_study_check, "the launch check: per condition, the items it can deal and why "
                                                      "others are refused; items per participant, practice, catch "
                                                      "items, rubric, pay")
    sp.add_argument("--study", type=int, required=True)
    sp = add_command(study, "open", cmd_study_open, "open a study after the launch check (refused, exit 1, while a "
                                                    "condition dealt to people can deal nothing)")
    sp.add_argument("--study", type=int, required=True)
    add_command(study, "list", cmd_study_list, "list studies")
    sp = add_command(study, "history", cmd_study_history,
                     "a study's setting changes, newest first (who, when, old and new value)")
    sp.add_argument("--study", type=int, required=True)
    sp.add_argument("--limit", type=int, default=100)
    sp = add_command(study, "set", cmd_study_set, "change a study's settings (each change is in the audit log)")
    sp.add_argument("--study", type=int, required=True)
    sp.add_argument("--name")
    sp.add_argument("--description")
    sp.add_argument("--instructions")
    sp.add_argument("--consent-text")
    sp.add_argument("--items-per-participant", help="a whole number, or 'all'")
    sp.add_argument("--completion-code", help="the code of a participant who completed the study")
    sp.add_argument("--code-no-consent", help="the code of one who chose \"I do not agree\" ('' for none)")
    sp.add_argument("--code-screened-out", help="the code of one the attention checks exclude ('' for none)")
    sp.add_argument("--code-timed-out", help="the code of one whose time ran out on every task ('' for none)")
    sp.add_argument("--prolific-study-id", help="Prolific's id of the study, for the API mode ('' for none)")
    sp.add_argument("--design", choices=["within", "between"], help="within- or between-subject conditions")
    sp.add_argument("--practice-items", type=int, help="practice items (with feedback) before the real ones")
    sp.add_argument("--review-share", type=float, help="share of assignments a second expert reviews (0-1)")
    sp.add_argument("--blind-review", action=argparse.BooleanOptionalAction, default=None,
                    help="experts do not see the strategy version or the participant")
    sp.add_argument("--allocation", choices=["balanced", "thompson"],
                    help="strategy versions by the balanced design, or by Thompson sampling over candidates")
    sp.add_argument("--min-participants", type=int, help="convergence: at least this many participants")
    sp.add_argument("--min-confidence", type=float, help="convergence: mean self-reported confidence (0-1)")
    sp.add_argument("--min-agreement", type=float, help="convergence: agreement among non-experts (0-1)")
    sp.add_argument("--completion-url", help="where finished participants are sent ('' for none); {code} becomes "
                                             "the completion code")
    sp.add_argument("--currency", help="three-letter currency code of the pay (default GBP)")
    sp.add_argument("--base-pay", type=float, help="paid once a participant has finished every task")
    sp.add_argument("--bonus-rule", choices=BONUS_RULES,
                    help="bonus per correct answer, or per point of score above a uniform guess")
    sp.add_argument("--bonus-amount", type=float, help="the bonus per correct answer or per point")
    sp.add_argument("--catch-items", type=int, help="attention checks dealt to each participant among the real items "
                                                    "(items whose split is 'catch'; 0: off)")
    sp.add_argument("--min-seconds-per-item", type=float, help="an answer sooner than this after the task was shown "
                                                               "is flagged (0: off)")
    sp.add_argument("--attention-warn", type=int, help="flags at which the admin is warned (0: never)")
    sp.add_argument("--attention-exclude", type=int, help="flags at which a participant is excluded (0: never)")
