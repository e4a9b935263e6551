"""Studies, and what admins and experts see of them. Participant-facing reads live elsewhere and never
select ItemGold."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
import re
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import select

from oversight.audit import log_event
from oversight import read_cache
from oversight.db import session_scope
from oversight.study.archive import ARCHIVED, refuse_if_archived
from oversight.study.feedback import FeedbackError, check_mode
from storage.models import Assignment, Item, ItemGold, Judgment, Study, Transcript, User, landed, utcnow
from storage.vocabulary import ALLOCATIONS, DESIGNS, STUDY_STATUSES as STATUSES

ACTIVE_WINDOW = timedelta(minutes=15)


class StudyError(Exception):
    """A study operation that cannot go ahead; the message is safe to show."""


@dataclass(frozen=True)
class StudySummary:
    id: int
    name: str
    status: str
    created_at: datetime
    n_items: int
    n_participants: int
    n_transcripts: int
    dry_run_of: int | None = None  # a dry-run copy (oversight/study/dry_run.py) of this study


def study_label(study: Study | StudySummary) -> str:
    """A study's name as every list and picker shows it: a dry-run copy says so, so nobody mistakes its simulated
    figures for a real study's."""
    return f"{study.name} [dry run of #{study.dry_run_of}]" if study.dry_run_of is not None else study.name


def create_study(*, name: str, user_id: int | None, description: str = "", instructions: str = "",
                 status: str = "draft") -> Study:
    """A new study, a draft by default: nobody is dealt anything until it opens through the launch check
    (oversight.study.launch.open_study). `status="open"` skips the check: for tests and scripts that build a study
    whose design they know."""
    name = name.strip()
    if not name:
        raise StudyError("a study needs a name")
    if status not in STATUSES:
        raise StudyError(f"status must be one of {', '.join(STATUSES)}")
    with session_scope() as s:
        study = Study(name=name, description=description, instructions=instructions, created_by=user_id,
                      completion_code=secrets.token_hex(4).upper(), status=status)
        s.add(study)
        s.flush()
        log_event(s, "study.create", user_id=user_id, study_id=study.id, name=name)
        return study


def get_study(study_id: int) -> Study | None:
    with session_scope(write=False) as s:
        return s.get(Study, study_id)


def study_settings(study_id: int) -> Study | None:
    """The study as participants' pages read it: a frozen snapshot kept per process until any study, item or
    strategy changes (oversight.read_cache)."""
    with session_scope(write=False) as s:
        return read_cache.row(s, Study, study_id)


def list_studies(*, include_archived: bool = False) -> list[StudySummary]:
    """Studies, newest first; archived ones (oversight/study/lifecycle.py) only when asked for."""
    with session_scope(write=False) as s:
        query = select(Study).order_by(Study.created_at.desc())
        if not include_archived:
            query = query.where(Study.status != ARCHIVED)
        studies = s.exec(query).all()

        def counts(table) -> dict[int, int]:
            rows = s.exec(select(table.study_id, func.count()).where(landed(table.import_id))
                          .group_by(table.study_id)).all()
            return dict(rows)

        items = counts(Item)
        transcripts = counts(Transcript)
        people = dict(s.exec(select(User.study_id, func.count())
                             .where(User.role == "participant", User.preview_by == None)  # noqa: E711 - previews
                             .group_by(User.study_id)).all())
        return [StudySummary(st.id, st.name, st.status, st.created_at, items.get(st.id, 0),
                             people.get(st.id, 0), transcripts.get(st.id, 0), st.dry_run_of) for st in studies]


# What the Study settings page and `study set` may change; each change is in the audit log with old and new value.
SETTINGS = ("name", "description", "instructions", "consent_text", "items_per_participant", "completion_code",
            "design", "practice_items", "review_share", "blind_review", "allocation", "convergence",
            "completion_url", "currency", "base_pay", "bonus_rule", "bonus_amount", "catch_items",
            "min_seconds_per_item", "attention_warn", "attention_exclude", "code_no_consent", "code_screened_out",
            "code_timed_out", "prolific_study_id", "feedback")
# The completion code of each way participation ends (the "completed" one is required, the others optional).
CODE_SETTINGS = ("completion_code", "code_no_consent", "code_screened_out", "code_timed_out")
CODE = re.compile(r"[A-Za-z0-9_-]{1,64}")
TEXT_LIMIT = 20_000
CONVERGENCE = ("min_participants", "min_confidence", "min_agreement")


def _share(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise StudyError(f"{what} must be a number from 0 to 1")
    return float(value)


def _check_design(changes: dict) -> None:
    """The sandwiching design settings (see oversight.sandwiching.dealing and oversight.sandwiching.allocation)."""
    if "design" in changes and changes["design"] not in DESIGNS:
        raise StudyError(f"design must be one of {', '.join(DESIGNS)}")
    if "allocation" in changes and changes["allocation"] not in ALLOCATIONS:
        raise StudyError(f"allocation must be one of {', '.join(ALLOCATIONS)}")
    n = changes.get("practice_items", 0)
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise StudyError("practice items must be a whole number of 0 or more")
    if "review_share" in changes:
        changes["review_share"] = _share(changes["review_share"], "the review share")
    if "blind_review" in changes and not isinstance(changes["blind_review"], bool):
        raise StudyError("blind review must be true or false")
    if "convergence" in changes:
        c = changes["convergence"]
        if not isinstance(c, dict) or set(c) - set(CONVERGENCE):
            raise StudyError(f"convergence takes {', '.join(CONVERGENCE)}")
        c = {k: v for k, v in c.items() if v is not None}
        m = c.get("min_participants")
        if m is not None and (not isinstance(m, int) or isinstance(m, bool) or m < 1):
            raise StudyError("min_participants must be a whole number of at least 1")
        for key in ("min_confidence", "min_agreement"):
            if key in c:
                c[key] = _share(c[key], key)
        changes["convergence"] = c


def _check_attention(changes: dict) -> None:
    """Attention checks (oversight/study/attention.py): whole numbers of 0 or more; seconds a number from 0 to 3600."""
    for key, what in (("catch_items", "catch items"), ("attention_warn", "the warn threshold"),
                      ("attention_exclude", "the exclude threshold")):
        n = changes.get(key, 0)
        if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n <= 1000:
            raise StudyError(f"{what} must be a whole number from 0 to 1000")
    if "min_seconds_per_item" in changes:
        v = changes["min_seconds_per_item"]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 3600:
            raise StudyError("the minimum seconds per item must be a number from 0 to 3600")
        changes["min_seconds_per_item"] = float(v)


def _check_codes(changes: dict) -> None:
    """Completion codes go into the completion URL, so ASCII letters, digits, '-' and '_' only; the Prolific study
    id likewise (empty: no API mode for this study)."""
    for key in CODE_SETTINGS:
        if key in changes:
            code = (changes[key] or "").strip()
            if code and not CODE.fullmatch(code) or not code and key == "completion_code":
                what = "the completion code" if key == "completion_code" else f"the {key.removeprefix('code_').replace('_', ' ')} code"
                raise StudyError(f"{what} must be 1 to 64 letters, digits, '-' or '_'"
                                 + ("" if key == "completion_code" else " (or empty: none)"))
            changes[key] = code or None
    if "prolific_study_id" in changes:
        pid = (changes["prolific_study_id"] or "").strip()
        if pid and not CODE.fullmatch(pid):
            raise StudyError("the Prolific study id is letters and digits (from the study's address on Prolific)")
        changes["prolific_study_id"] = pid or None


def _check_pay(changes: dict) -> None:
    """The completion redirect (an https URL; "{code}" becomes the completion code) and pay (oversight/study/payments.py)."""
    from oversight.study.payments import BONUS_RULES, PaymentError, check_pay_settings

    if "completion_url" in changes:
        url = (changes["completion_url"] or "").strip() or None
        # No quotes or angle brackets either: the URL goes into the one link the app builds as HTML (web/completion.py).
        if url is not None and (not url.startswith("https://") or len(url) > 500
                                or any(c.isspace() or c in "<>\"'`" for c in url)):
            raise StudyError("the completion URL must be an https:// address without spaces (Prolific's completion "
                             "URL, e.g. https://app.prolific.com/submissions/complete?cc={code})")
        changes["completion_url"] = url
    if "currency" in changes:
        changes["currency"] = (changes["currency"] or "").strip().upper()
    pay = {k: changes[k] for k in ("currency", "base_pay", "bonus_rule", "bonus_amount") if k in changes}
    if pay:
        try:
            check_pay_settings(currency=pay.get("currency", "GBP"), base_pay=float(pay.get("base_pay", 0)),
                               bonus_rule=pay.get("bonus_rule", BONUS_RULES[0]),
                               bonus_amount=float(pay.get("bonus_amount", 0)))
        except (PaymentError, TypeError, ValueError) as exc:
            raise StudyError(str(exc)) from None
        for key in ("base_pay", "bonus_amount"):
            if key in changes:
                changes[key] = round(float(changes[key]), 2)


def update_study(*, study_id: int, user_id: int | None, **changes) -> list[str]:
    """Change a study's settings; returns the names of the fields that changed (nothing changes on an error)."""
    unknown = set(changes) - set(SETTINGS)
    if unknown:
        raise StudyError(f"unknown study setting(s): {', '.join(sorted(unknown))}; settings are {', '.join(SETTINGS)}")
    if "name" in changes:
        changes["name"] = (changes["name"] or "").strip()
        if not changes["name"]:
            raise StudyError("a study needs a name")
    n = changes.get("items_per_participant")
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 1):
        raise StudyError("items per participant must be a whole number of at least 1 (or empty: every item)")
    _check_design(changes)
    _check_attention(changes)
    _check_codes(changes)
    _check_pay(changes)
    if "feedback" in changes:
        try:
            check_mode(changes["feedback"])
        except FeedbackError as exc:
            raise StudyError(str(exc)) from None
    for key in ("description", "instructions", "consent_text"):
        if key in changes and len(changes[key] or "") > TEXT_LIMIT:
            raise StudyError(f"{key.replace('_', ' ')} can be at most {TEXT_LIMIT} characters")
    with session_scope() as s:
        study = s.get(Study, study_id)
        if study is None:
            raise StudyError(f"no study with id {study_id}")
        refuse_if_archived(s, study_id)
        changed = [k for k, v in changes.items() if getattr(study, k) != v]
        for key in changed:
            log_event(s, "study.setting", user_id=user_id, study_id=study_id, field=key,
                      old=getattr(study, key), new=changes[key])
            setattr(study, key, changes[key])
        return changed


def items_with_gold(*, study_id: int, limit: int | None = None, offset: int = 0) -> list[dict]:
    """Items of a study with their gold answers: for admins and experts only (pages check the role)."""
    with session_scope(write=False) as s:
        query = (select(Item, ItemGold).join(ItemGold, ItemGold.item_id == Item.id, isouter=True)
                 .where(Item.of_study(study_id)).order_by(Item.id).offset(offset))
        if limit is not None:
            query = query.limit(limit)
        rows = []
        for item, gold in s.exec(query).all():
            rows.append({
                "id": item.id, "external_id": item.external_id, "question": item.question,
                "options": item.options,
                "gold": None if gold is None else gold.gold_index,
                "gold_answer": None if gold is None else item.options[gold.gold_index],
                "tags": item.tags, "split": item.split,
                "has_source": bool(item.source_text), "source_title": item.source_title,
            })
        return rows


def count_items(*, study_id: int) -> int:
    with session_scope(write=False) as s:
        return s.exec(select(func.count()).select_from(Item).where(Item.of_study(study_id))).one()


def count_catch_items(*, study_id: int) -> int:
    """Attention-check items of a study (split "catch") with a gold answer: the pool catch items are dealt from."""
    from oversight.study.attention import CATCH

    with session_scope(write=False) as s:
        return s.exec(select(func.count()).select_from(Item).join(ItemGold, ItemGold.item_id == Item.id)
                      .where(Item.of_study(study_id), Item.split == CATCH)).one()


def participants(*, study_id: int) -> list[dict]:
    """Who is in a study, whether they were active lately, and how far they got."""
    now = utcnow()
    with session_scope(write=False) as s:
        people = s.exec(select(User).where(User.study_id == study_id, User.role == "participant")
                        .order_by(User.created_at)).all()
        done = dict(s.exec(select(Assignment.participant_id, func.count())
                           .where(Assignment.study_id == study_id, Assignment.state == "done")
                           .group_by(Assignment.participant_id)).all())
        total = dict(s.exec(select(Assignment.participant_id, func.count())
                            .where(Assignment.study_id == study_id).group_by(Assignment.participant_id)).all())
        judged = dict(s.exec(select(Judgment.judge_id, func.count())
                             .where(Judgment.judge_id.in_([p.id for p in people]))
                             .group_by(Judgment.judge_id)).all()) if people else {}
        return [{
            "id": p.id, "name": p.name, "external_id": p.external_id or "",
            "status": "revoked" if p.token_revoked else "declined consent" if p.declined_at else (
                "finished" if total.get(p.id) and done.get(p.id, 0) == total[p.id] else
                "active" if p.last_seen_at and now - p.last_seen_at < ACTIVE_WINDOW else
                ("joined" if p.last_seen_at or p.consented_at else "invited")),
            "last_seen": p.last_seen_at, "assignments_done": done.get(p.id, 0),
            "assignments": total.get(p.id, 0), "judgments": judged.get(p.id, 0),
            "preview": p.preview_by is not None,  # a staff member's preview: no result, never paid
        } for p in people]
