"""`reviews queue|submit|agreement|settings` and `rubric show|set`: expert review of finished assignments against a
study's versioned rubric."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from oversight.cli.common import CliError, add_command, add_group, emit, json_arg, known_study


def _staff(name: str) -> int:
    """An expert's or admin's id by name (the CLI acts as them)."""
    from sqlmodel import select

    from oversight.db import session_scope
    from storage.models import User

    with session_scope(write=False) as s:
        user = s.exec(select(User).where(User.name == name, User.role.in_(("expert", "admin")))).first()
    if user is None:
        raise CliError(f"no expert or admin named {name!r} (see `python -m oversight create-user`)")
    return user.id


def cmd_reviews_queue(args) -> None:
    from oversight.sandwiching.reviews import review_queue

    queue = review_queue(study_id=known_study(args.study), expert_id=_staff(args.expert),
                         condition_id=args.condition, strategy_id=args.strategy)
    rows = [asdict(q) for q in queue]
    lines = [f"#{q.assignment_id:<6} {'second' if q.second else 'first ':<6} {q.condition or '-':<20} "
             f"{(q.strategy or '') + ' ' if q.strategy else ''}{q.question[:60]}" for q in queue]
    emit(args, rows, "\n".join(lines) or "nothing to review for this expert")


def cmd_reviews_submit(args) -> None:
    from oversight.sandwiching.reviews import submit_review

    labels = json_arg(args.labels, "--labels")
    rid = submit_review(assignment_id=args.assignment, expert_id=_staff(args.expert), labels=labels,
                        notes=args.notes or "")
    emit(args, {"review_id": rid}, f"review {rid} saved")


def cmd_reviews_agreement(args) -> None:
    from oversight.sandwiching.agreement import agreement

    result = agreement(study_id=known_study(args.study))

    from oversight.sandwiching.agreement import KAPPAS

    def num(x: float | None) -> str:
        return "undefined" if x is None else f"{x:.3f}"

    def ci(low: float | None, high: float | None) -> str:
        return "" if low is None or high is None else f" [{low:.3f}, {high:.3f}]"

    lines = [result.message] if result.message else (
        [f"over {result.n_double} double-reviewed assignments (95% intervals: bootstrap over them)"
         + (" (includes simulated data)" if result.includes_simulated else "")]
        + [f"{f.name:<26} {f.level:<8} n={f.n:<4} experts={f.n_experts:<3} "
           f"alpha={num(f.alpha)}{ci(f.alpha_ci_low, f.alpha_ci_high)}  "
           f"{KAPPAS.get(f.kappa_kind, 'kappa')}={num(f.kappa)}{ci(f.kappa_ci_low, f.kappa_ci_high)}  "
           f"unanimous={num(f.unanimous)} adjudicated={num(f.adjudicated)} open={num(f.open)}" for f in result.fields])
    emit(args, asdict(result), "\n".join(lines))


def cmd_reviews_settings(args) -> None:
    from oversight.sandwiching.reviews import set_review_settings
    from oversight.study.studies import get_study

    changed = set_review_settings(study_id=known_study(args.study), user_id=None, review_share=args.share,
                                  blind_review=args.blind)
    study = get_study(args.study)
    data = {"review_share": study.review_share, "blind_review": study.blind_review, "changed": changed}
    emit(args, data, f"second reviews: {study.review_share:g} of assignments · blind review: "
                     f"{'yes' if study.blind_review else 'no'}" + (f" (changed: {', '.join(changed)})" if changed
                                                                    else ""))


def cmd_rubric_show(args) -> None:
    from oversight.sandwiching.rubrics import current_rubric

    rubric = current_rubric(known_study(args.study))
    data = {"version": rubric.version, "reason": rubric.reason, "fields": rubric.fields}
    lines = [f"rubric v{rubric.version}: {rubric.reason}"] + [
        f"  {f['name']:<26} {f['kind']:<6} {f['level']:<8} {', '.join(map(str, f['choices']))}"
        for f in rubric.fields]
    emit(args, data, "\n".join(lines))


def cmd_rubric_set(args) -> None:
    from oversight.sandwiching.rubrics import new_rubric_version

    try:
        fields = json.loads(Path(args.file).read_text(encoding="utf-8"))
    except OSError as exc:
        raise CliError(f"cannot read {args.file}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise CliError(f"{args.file} is not valid JSON: {exc}") from None
    base = None
    if isinstance(fields, dict) and "fields" in fields:  # edited `rubric show --json` output: refused if stale
        base, fields = fields.get("version"), fields["fields"]
    row = new_rubric_version(study_id=known_study(args.study), fields=fields, reason=args.reason or "", user_id=None,
                             base_version=base)
    emit(args, {"version": row.version, "fields": row.fields}, f"rubric v{row.version} saved")


def register(sub: argparse._SubParsersAction) -> None:
    reviews = add_group(sub, "reviews", "expert review: queue, agreement, settings", "reviews_cmd")
    sp = add_command(reviews, "queue", cmd_reviews_queue, "what an expert reviews next, in order")
    sp.add_argument("--study", type=int, required=True)
    sp.add_argument("--expert", required=True, help="the expert's (or admin's) name")
    sp.add_argument("--condition", type=int, help="only this condition id")
    sp.add_argument("--strategy", type=int, help="only this strategy version id (not in a blind study)")
    sp = add_command(reviews, "submit", cmd_reviews_submit,
                     "store an expert's rubric review of a finished assignment")
    sp.add_argument("--assignment", type=int, required=True)
    sp.add_argument("--expert", required=True)
    sp.add_argument("--labels", required=True, help='JSON, e.g. \'{"outcome": "correct", "help_quality": 4}\'')
    sp.add_argument("--notes")
    sp = add_command(reviews, "agreement", cmd_reviews_agreement, "Krippendorff's alpha and kappa (Cohen's for a "
                                                                  "fixed pair, else Fleiss') per rubric field, with "
                                                                  "intervals")
    sp.add_argument("--study", type=int, required=True)
    sp = add_command(reviews, "settings", cmd_reviews_settings, "share of second reviews and blind review (audited)")
    sp.add_argument("--study", type=int, required=True)
    sp.add_argument("--share", type=float, help="share of assignments a second expert reviews, 0 to 1")
    sp.add_argument("--blind", action=argparse.BooleanOptionalAction, default=None,
                    help="spare experts the strategy version and the participant's identity")
    rubric = add_group(sub, "rubric", "a study's versioned review rubric", "rubric_cmd")
    sp = add_command(rubric, "show", cmd_rubric_show, "the current rubric version")
    sp.add_argument("--study", type=int, required=True)
    sp = add_command(rubric, "set", cmd_rubric_set, "save a new rubric version from a JSON file of fields")
    sp.add_argument("--study", type=int, required=True)
    sp.add_argument("--file", required=True, help="a JSON list of fields (or `rubric show --json` output)")
    sp.add_argument("--reason", required=True, help="why the rubric changes")
