"""What counts as a result of a study: one definition, used by every figure the app shows or exports (report,
Results tabs, sandwich, outer loop, allocation, reviews, agreement, attention, bonuses, simulate, W2S, RLAIF).

A judgment is a result of its study when
- it is not on a practice item (answered with feedback) nor on a catch item (an attention check);
- the person who gave it is not left out: not a participant the attention checks (or an admin) exclude, not a
  staff member's preview participant, and not a simulated person unless the study is a dry-run copy
  (`Study.dry_run_of`), where the simulated people are the point;
- people and experts are never pooled: a result carries its judge's group (`judge_group`), and every table shows
  non-experts (role participant) and experts as separate rows.

Timed-out tasks (assignment state "skipped") have no judgment; they are an outcome counted per condition by the
analyses (accuracy excluding them and counting them as incorrect). The export keeps every row and marks its status
(`row_status`).
"""

from __future__ import annotations

from sqlalchemy import and_, or_
from sqlmodel import Session, select

from oversight.study.attention import CATCH, excluded_participants
from oversight.vocab import SIMULATED
from storage.models import Assignment, Item, Judgment, Study, Transcript, User

PRACTICE = "practice"  # the item split of practice items (oversight.study.eligibility)
NON_EXPERT = "participant"
EXPERT = "expert"
GROUP_LABELS = {NON_EXPERT: "Non-experts", EXPERT: "Experts"}


def judge_group(role: str | None) -> str | None:
    """The group a human judge's answers count in: "participant" (non-expert) or "expert"; None for anyone else
    (an AI judge, an imported room's judge)."""
    return role if role in (NON_EXPERT, EXPERT) else None


def is_dry_run(study: Study | None) -> bool:
    return study is not None and study.dry_run_of is not None


def people_left_out(s: Session, study_id: int) -> set[int]:
    """Ids of the people whose answers in this study are not results: excluded participants, preview
    participants, and simulated people unless the study is a dry run. Read-only; a few small reads."""
    return set(left_out_reasons(s, study_id))


def result_assignment(left_out: set[int]):
    """A condition on Assignment: its answer can be a result (not practice, not a catch item, not by someone left
    out)."""
    cond = and_(Assignment.practice.is_(False), Assignment.catch.is_(False))
    return and_(cond, Assignment.participant_id.notin_(left_out)) if left_out else cond


def not_catch_item():
    """A condition on Item: not an attention check (whoever answered it, e.g. an AI batch run)."""
    return or_(Item.split.is_(None), Item.split != CATCH)


def not_practice_item():
    """A condition on Item: not set aside for practice (whoever answered it: a model-alone run of an older
    version may have judged one)."""
    return or_(Item.split.is_(None), Item.split != PRACTICE)


SUPERSEDED = "superseded"  # Transcript.status of an AI batch run replaced by a re-run on the same item and version


def not_superseded():
    """A condition on Judgment: not from a transcript a later model-alone run replaced (one result per item and
    version)."""
    replaced = select(Transcript.id).where(Transcript.status == SUPERSEDED)
    return or_(Judgment.transcript_id.is_(None), Judgment.transcript_id.notin_(replaced))


def is_result(s: Session, study_id: int):
    """A condition on a query over judgments joined to Item and outer-joined to Assignment: the judgment is a
    result (see the module docstring). Judgments without an assignment (AI batch runs, imported rooms) are results
    unless they are on a catch or practice item or their run was superseded by a re-run."""
    return and_(or_(Assignment.id.is_(None), result_assignment(people_left_out(s, study_id))), not_catch_item(),
                not_practice_item(), not_superseded())


def row_status(*, practice: bool, catch: bool, left_out_reason: str | None, preview: bool = False,
               superseded: bool = False) -> str:
    """The status the export writes beside every row, so a reader can apply (or check) the filter: result,
    practice, catch, preview, excluded, simulated, superseded (a model-alone run a re-run replaced)."""
    if superseded:
        return "superseded"
    if preview:
        return "preview"
    if practice:
        return "practice"
    if catch:
        return "catch"
    return left_out_reason or "result"


def left_out_reasons(s: Session, study_id: int) -> dict[int, str]:
    """Why each left-out person's answers are not results: "preview", "simulated" or "excluded"."""
    study = s.get(Study, study_id)
    if study is None:
        return {}
    reasons = {uid: "excluded" for uid in excluded_participants(s, study_id)}
    if not is_dry_run(study):
        people = select(Assignment.participant_id).where(Assignment.study_id == study_id).distinct()
        reasons |= {uid: "simulated" for uid in s.exec(select(User.id).where(
            User.external_study_id == SIMULATED, User.id.in_(people))).all()}
    reasons |= {uid: "preview" for uid in s.exec(select(User.id).where(
        User.study_id == study_id, User.preview_by != None)).all()}  # noqa: E711
    return reasons
