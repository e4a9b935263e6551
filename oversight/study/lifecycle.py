"""A study's life after its design: duplicate it, archive it (and back), record its export, delete it.

- **Duplicate**: a new draft "<name> (copy)" with the settings, items with gold, strategy versions, conditions and
  rubric versions (oversight.study.dry_run.copy_design), and nothing of people, assignments, answers, reviews or
  payments; no enrolment link, a new completion code, no Prolific study id (a new study on Prolific has its own).
- **Archive**: status "archived": hidden from the lists unless asked for, read-only (every write to its design
  refuses through oversight.study.archive.refuse_if_archived), its links closed (oversight.access.auth refuses
  personal and enrolment links of an archived study). Unarchiving brings it back closed (a draft stays a draft): a
  study opens again only through the launch check.
- **Delete**: only after an export of the study was made (`Study.exported_at`, set by oversight.results.export)
  and nothing was added since, while no job of the study runs, and only when the caller typed the study's name
  exactly. Every row of the study goes in one transaction; the audit log keeps its rows (with the study's id in
  their detail) and gains one for the deletion.
Every action is in the audit log.
"""

from __future__ import annotations

import copy
import secrets

from sqlalchemy import delete, func, update
from sqlmodel import col, select

from oversight.audit import log_event
from oversight.db import session_scope
from oversight.study.archive import ARCHIVED
from oversight.study.dry_run import copy_design
from oversight.study.studies import StudyError
from storage.models import (
    Assignment, Condition, DesignPlace, EnrolmentCap, Event, ExpertReview, ImportBatch, Item, ItemGold, Job,
    Judgment, PaymentExport, Payout, ProlificCall, Proposal, QuestionnaireAnswer, RewardModelRun, RlaifLabel, Rubric,
    StaffSession, Strategy, Study, Transcript, Turn, User, VersionDecision, W2SExperiment, W2SRun, utcnow,
)

# Study columns a duplicate does not take over: who it is, its state, its ways in, its record of exports, and the
# ids that tie it to one study on a recruiting platform.
_NOT_COPIED = {"id", "name", "status", "dry_run_of", "enrol_token_hash", "created_at", "created_by", "exported_at",
               "completion_code", "prolific_study_id"}


def _study(s, study_id: int) -> Study:
    study = s.get(Study, study_id)
    if study is None:
        raise StudyError(f"no study with id {study_id}")
    return study


def duplicate_study(*, study_id: int, user_id: int | None) -> int:
    """A new draft copy of the study's design (see the module docstring); returns its id. One transaction."""
    with session_scope() as s:
        original = _study(s, study_id)
        fields = {k: copy.deepcopy(v) for k, v in original.model_dump().items() if k not in _NOT_COPIED}
        dup = Study(**fields, name=f"{original.name} (copy)", status="draft", created_by=user_id,
                    completion_code=secrets.token_hex(4).upper())
        s.add(dup)
        s.flush()
        n_items, n_strategies = copy_design(s, study_id, dup.id)
        if (cap := s.get(EnrolmentCap, study_id)) is not None:
            s.add(EnrolmentCap(study_id=dup.id, max_per_minute=cap.max_per_minute, max_total=cap.max_total))
        log_event(s, "study.duplicate", user_id=user_id, study_id=dup.id, copy_of=study_id, items=n_items,
                  strategies=n_strategies)
        return dup.id


def archive_study(*, study_id: int, user_id: int | None) -> None:
    """Archive the study: hidden, read-only, links closed. Its enrolment link is closed for good (unarchiving does
    not bring it back: open a new one)."""
    with session_scope() as s:
        study = _study(s, study_id)
        if study.status == ARCHIVED:
            raise StudyError(f"study #{study_id} is archived already")
        log_event(s, "study.archive", user_id=user_id, study_id=study_id, old=study.status)
        study.status, study.enrol_token_hash = ARCHIVED, None


def unarchive_study(*, study_id: int, user_id: int | None) -> str:
    """Bring an archived study back: a draft as a draft, anything else closed (it reopens through the launch
    check). Returns the new status."""
    with session_scope() as s:
        study = _study(s, study_id)
        if study.status != ARCHIVED:
            raise StudyError(f"study #{study_id} is not archived")
        archived = s.exec(select(Event).where(Event.study_id == study_id, Event.kind == "study.archive")
                          .order_by(col(Event.id).desc())).first()
        status = "draft" if archived is not None and archived.detail.get("old") == "draft" else "closed"
        log_event(s, "study.unarchive", user_id=user_id, study_id=study_id, status=status)
        study.status = status
        return status


def record_export(*, study_id: int, user_id: int | None = None) -> None:
    """Note that the study's export was just made (what delete_study asks for)."""
    with session_scope() as s:
        study = s.get(Study, study_id)
        if study is not None:
            study.exported_at = utcnow()
            log_event(s, "study.export", user_id=user_id, study_id=study_id)


def _added_since(s, study_id: int, since) -> bool:
    """Whether the study gained people, tasks, answers, transcripts or reviews after `since` (its export)."""
    items = select(Item.id).where(Item.study_id == study_id)
    checks = (
        (User.created_at, User.study_id == study_id),
        (Assignment.created_at, Assignment.study_id == study_id),
        (Judgment.created_at, col(Judgment.item_id).in_(items)),
        (Transcript.created_at, Transcript.study_id == study_id),
        (ExpertReview.created_at, ExpertReview.study_id == study_id),
        (Item.created_at, Item.study_id == study_id),
    )
    for column, where in checks:
        if s.exec(select(func.count()).where(where, column > since)).one():
            return True
    return False


def deletion_refusal(s, study: Study, confirm_name: str | None) -> str | None:
    """Why the study cannot be deleted now, or None. `confirm_name` None: every check but the typed name."""
    if study.status == "open":
        return "close or archive the study first, so that nothing new arrives after its export"
    if study.exported_at is None:
        return ("export the study first (Results page, 'Prepare the export', or `python -m oversight export`): "
                "a study is deleted only once its data is kept in an export")
    if _added_since(s, study.id, study.exported_at):
        return "the study has new data since its last export: export it again first"
    running = s.exec(select(func.count()).select_from(Job).where(
        Job.study_id == study.id, col(Job.state).in_(("queued", "running")))).one()
    if running:
        return "a job of this study is still queued or running: wait for it or cancel it first"
    if confirm_name is not None and confirm_name != study.name:
        return "type the study's name exactly to confirm the deletion"
    return None


def can_delete(*, study_id: int) -> str | None:
    """Why the study cannot be deleted (before the name is typed), or None."""
    with session_scope(write=False) as s:
        return deletion_refusal(s, _study(s, study_id), None)


def delete_study(*, study_id: int, confirm_name: str, user_id: int | None) -> dict[str, int]:
    """Delete the study and every row that belongs to it, in one transaction (see the module docstring). Returns
    how many rows went per table. Raises StudyError, deleting nothing, when a condition is not met."""
    with session_scope() as s:
        study = _study(s, study_id)
        if (why := deletion_refusal(s, study, confirm_name)) is not None:
            raise StudyError(f"study #{study_id} cannot be deleted: {why}")
        name = study.name
        items = select(Item.id).where(Item.study_id == study_id)
        people = select(User.id).where(User.study_id == study_id, User.role == "participant")
        transcripts = select(Transcript.id).where(Transcript.study_id == study_id)
        jobs = select(Job.id).where(Job.study_id == study_id)
        counts: dict[str, int] = {}

        def gone(table, *where) -> None:
            result = s.exec(delete(table).where(*where))
            counts[table.__tablename__] = counts.get(table.__tablename__, 0) + result.rowcount

        # What other records keep of the study loses its pointer, not the record: the audit log (its detail keeps
        # the study's id), the labs' runs, dry-run copies (a dry run of itself, as an imported one is), staff.
        for event in s.exec(select(Event).where(Event.study_id == study_id)).all():
            event.detail = {**event.detail, "deleted_study_id": study_id}
            event.study_id = None
        s.flush()
        s.exec(update(Event).where(col(Event.user_id).in_(people)).values(user_id=None))
        s.exec(update(RewardModelRun).where(RewardModelRun.study_id == study_id).values(study_id=None))
        s.exec(update(W2SExperiment).where(W2SExperiment.study_id == study_id).values(study_id=None))
        s.exec(update(W2SRun).where(col(W2SRun.job_id).in_(jobs)).values(job_id=None))
        s.exec(update(Study).where(Study.dry_run_of == study_id).values(dry_run_of=Study.id))
        s.exec(update(User).where(User.study_id == study_id, User.role != "participant").values(study_id=None))

        # Children before parents (foreign keys are checked).
        gone(Payout, Payout.study_id == study_id)
        gone(ProlificCall, ProlificCall.study_id == study_id)
        gone(PaymentExport, PaymentExport.study_id == study_id)
        gone(VersionDecision, VersionDecision.study_id == study_id)
        gone(Proposal, Proposal.study_id == study_id)
        gone(QuestionnaireAnswer, QuestionnaireAnswer.study_id == study_id)
        gone(ExpertReview, ExpertReview.study_id == study_id)
        gone(Judgment, col(Judgment.item_id).in_(items) | col(Judgment.transcript_id).in_(transcripts)
             | col(Judgment.judge_id).in_(people))
        gone(Turn, col(Turn.transcript_id).in_(transcripts))
        gone(Transcript, Transcript.study_id == study_id)
        gone(RlaifLabel, col(RlaifLabel.item_id).in_(items))
        gone(DesignPlace, DesignPlace.study_id == study_id)
        gone(Assignment, Assignment.study_id == study_id)
        gone(Condition, Condition.study_id == study_id)
        gone(Rubric, Rubric.study_id == study_id)
        gone(Strategy, Strategy.study_id == study_id)
        gone(ItemGold, col(ItemGold.item_id).in_(items))
        gone(Item, Item.study_id == study_id)
        gone(ImportBatch, ImportBatch.study_id == study_id)
        gone(StaffSession, col(StaffSession.user_id).in_(people))
        gone(User, User.study_id == study_id, User.role == "participant")
        gone(Job, Job.study_id == study_id)
        gone(EnrolmentCap, EnrolmentCap.study_id == study_id)
        gone(Study, Study.id == study_id)
        log_event(s, "study.delete", user_id=user_id, study_id=None, deleted_study_id=study_id, name=name,
                  rows={k: v for k, v in counts.items() if v})
        return counts
