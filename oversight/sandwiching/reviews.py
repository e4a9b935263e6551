"""Expert review, the outer loop's input: rubric reviews of finished assignments, the review queue (a share of
assignments gets a second review), adjudication of disagreements, and each label's settled value.

One review idea in one place: a review of a transcript (views/transcripts.py) is a rubric review of its assignment;
imported transcripts, which have no assignment, are reviewed by transcript. The database enforces one live review per
expert and assignment and one adjudication per assignment (partial unique indexes on ExpertReview).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from oversight.results.results_filter import left_out_reasons, people_left_out, result_assignment
from oversight.audit import log_event
from oversight.db import session_scope
from oversight.vocab import REVIEW_WITHOUT_ANSWERING, SIMULATED
from oversight.sandwiching.rubrics import ReviewError, check_labels, current_rubric
from oversight.protocols.transcripts import TranscriptDetail, blinded, strategy_label, transcript_detail
from storage.models import (Assignment, Condition, Event, ExpertReview, Item, ItemGold, Judgment, Strategy,
                            Study, Transcript, User)

__all__ = ["ReviewError", "submit_review", "review_transcript", "review_queue", "review_context", "adjudicate",
           "adjudication_queue", "final_labels", "reviews_for", "review_filters", "second_review_chosen",
           "set_review_settings", "empty_queue_reason"]

ALREADY_REVIEWED = "You already reviewed this (in another tab?)"
ALREADY_ADJUDICATED = "This was already adjudicated (in another tab?)"


@dataclass(frozen=True)
class Review:
    id: int
    expert: str
    kind: str  # review | adjudication | superseded
    labels: dict[str, Any]
    rubric_version: int | None
    notes: str
    created_at: datetime




@dataclass(frozen=True)
class GoldGate:
    """Why an expert may not see a study's gold yet; `can_choose`: they may choose to review without answering."""
    message: str
    can_choose: bool


def gold_gate(*, study_id: int, user_id: int) -> GoldGate | None:
    """Whether this person may see the study's gold answers (None: they may). In a study with an expert condition,
    experts' own answers measure expert accuracy, so an expert sees no gold (reviews, transcripts) while they have
    items to answer, nor before they have either answered, reviewed, or chosen to review without answering (then
    they are not dealt the study's items: `choose_review_without_answering`). One statement (the Review page's
    statements are budgeted)."""
    mine = and_(Assignment.study_id == study_id, Assignment.participant_id == user_id)
    with session_scope(write=False) as s:
        user = s.get(User, user_id)
        if user is None or user.role != "expert":
            return None
        row = s.exec(select(
            select(func.count()).select_from(Assignment)
            .where(mine, Assignment.state.in_(("pending", "active"))).scalar_subquery(),
            exists().where(mine),
            exists().where(Condition.study_id == study_id, Condition.kind == "expert"),
            exists().where(ExpertReview.study_id == study_id, ExpertReview.expert_id == user_id),
            exists().where(Event.study_id == study_id, Event.user_id == user_id,
                           Event.kind == REVIEW_WITHOUT_ANSWERING),
        )).one()
    left, dealt, expert_condition, reviewed, chose = row
    if left:
        return GoldGate(f"You still have {left} of this study's items to answer (Answer items). Reviews and "
                        "transcripts show the gold answers, so they open here once your own answers are in.", False)
    if expert_condition and not (dealt or reviewed or chose):
        return GoldGate("This study measures experts' own answers (its expert condition), and reviews and "
                        "transcripts show the gold answers. Answer its items first on Answer items, or review "
                        "without answering: then you are not dealt its items.", True)
    return None


def gold_withheld(*, study_id: int, user_id: int) -> str | None:
    """Why this person may not see the study's gold answers yet (None: they may); see `gold_gate`."""
    gate = gold_gate(study_id=study_id, user_id=user_id)
    return None if gate is None else gate.message


def choose_review_without_answering(*, study_id: int, user_id: int) -> None:
    """An expert chooses to review a study without answering its items: audited, and from then on they see its
    gold and are never dealt its items (oversight/study/participation.py)."""
    gate = gold_gate(study_id=study_id, user_id=user_id)
    if gate is None:
        return
    if not gate.can_choose:
        raise ReviewError(gate.message)
    with session_scope() as s:
        log_event(s, REVIEW_WITHOUT_ANSWERING, user_id=user_id, study_id=study_id)


def _reviewer(s, expert_id: int) -> User:
    user = s.get(User, expert_id)
    if user is None or user.role not in ("expert", "admin"):
        raise ReviewError("only experts and admins review")
    return user


def _reviewable(s, assignment_id: int, user: User) -> Assignment:
    a = s.get(Assignment, assignment_id)
    if a is None:
        raise ReviewError(f"no assignment with id {assignment_id}")
    if a.state != "done":
        raise ReviewError("this assignment is not finished yet: only finished answers are reviewed")
    if a.practice or a.catch:
        raise ReviewError("practice items and attention checks are not reviewed (they are excluded from every "
                          "result)")
    if a.participant_id == user.id:
        raise ReviewError("you answered this item yourself: another expert reviews it")
    return a


def second_review_chosen(assignment_id: int, share: float) -> bool:
    """Whether the study's share of second reviews includes this assignment: a stable hash of its id, so the same
    assignments are chosen on every server, run and rerun."""
    digest = hashlib.sha256(f"second-review:{assignment_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def model_took_part(assignment_id: int) -> bool:
    """Whether a model wrote turns in this assignment's task (assisted QA, debate, consultancy): only then does the
    rubric ask about the model."""
    from oversight.sandwiching.conditions import has_model_turns
    from oversight.protocols.registry import get_protocol

    with session_scope(write=False) as s:
        a = s.get(Assignment, assignment_id)
        strategy = s.get(Strategy, a.strategy_id) if a is not None and a.strategy_id else None
    return strategy is not None and has_model_turns(get_protocol(strategy.protocol))


def submit_review(*, assignment_id: int, expert_id: int, labels: dict[str, Any], notes: str = "") -> int:
    """Store an expert's rubric review of a finished assignment (against the study's current rubric)."""
    with session_scope(write=False) as s:
        a = s.get(Assignment, assignment_id)
    if a is None:
        raise ReviewError(f"no assignment with id {assignment_id}")
    rubric = current_rubric(a.study_id)
    labels = check_labels(rubric, labels, with_model=model_took_part(assignment_id))
    with session_scope() as s:
        user = _reviewer(s, expert_id)
        a = _reviewable(s, assignment_id, user)
        transcript_id = s.exec(select(Transcript.id).where(Transcript.assignment_id == a.id)).first()
        row = ExpertReview(study_id=a.study_id, expert_id=user.id, assignment_id=a.id, transcript_id=transcript_id,
                           rubric_id=rubric.id, labels=labels, notes=(notes or "").strip(), kind="review")
        s.add(row)
        try:
            s.flush()
        except IntegrityError:  # the unique index: one live review per expert and assignment
            raise ReviewError(ALREADY_REVIEWED) from None
        log_event(s, "review.add", user_id=user.id, study_id=a.study_id, assignment=a.id, review=row.id,
                  rubric=rubric.version)
        return row.id


def review_transcript(*, transcript_id: int, expert_id: int, labels: dict[str, Any], notes: str = "") -> int:
    """A rubric review from the transcript viewer: of the transcript's assignment when it has one (the same rules
    as the queue), else of the (imported) transcript itself."""
    with session_scope(write=False) as s:
        t = s.get(Transcript, transcript_id)
    if t is None:
        raise ReviewError(f"no transcript with id {transcript_id}")
    if t.assignment_id is not None:
        return submit_review(assignment_id=t.assignment_id, expert_id=expert_id, labels=labels, notes=notes)
    rubric = current_rubric(t.study_id)
    labels = check_labels(rubric, labels)
    with session_scope() as s:
        user = _reviewer(s, expert_id)
        # No unique index covers reviews without an assignment: the transcript's row lock (PostgreSQL; SQLite writers
        # already queue at BEGIN IMMEDIATE) makes the check and the insert one step.
        s.exec(select(Transcript.id).where(Transcript.id == t.id).with_for_update()).one()
        done = s.exec(select(ExpertReview.id).where(ExpertReview.transcript_id == t.id,
                                                    ExpertReview.expert_id == user.id,
                                                    ExpertReview.kind == "review")).first()
        if done is not None:
            raise ReviewError(ALREADY_REVIEWED)
        row = ExpertReview(study_id=t.study_id, expert_id=user.id, transcript_id=t.id, rubric_id=rubric.id,
                           labels=labels, notes=(notes or "").strip())
        s.add(row)
        s.flush()
        log_event(s, "review.add", user_id=user.id, study_id=t.study_id, transcript=t.id, review=row.id,
                  rubric=rubric.version)
        return row.id


def reviews_for(*, transcript_id: int) -> list[Review]:
    """Every review of a transcript (or of its assignment), oldest first."""
    with session_scope(write=False) as s:
        t = s.get(Transcript, transcript_id)
        if t is None:
            return []
        where = (ExpertReview.transcript_id == t.id) if t.assignment_id is None else (
            (ExpertReview.assignment_id == t.assignment_id) | (ExpertReview.transcript_id == t.id))
        return _reviews(s, where)


def _reviews(s, where) -> list[Review]:
    from storage.models import Rubric

    rows = s.exec(select(ExpertReview, User.name, Rubric.version).join(User, User.id == ExpertReview.expert_id)
                  .outerjoin(Rubric, Rubric.id == ExpertReview.rubric_id).where(where)
                  .order_by(ExpertReview.created_at, ExpertReview.id)).all()
    return [Review(r.id, name, r.kind, dict(r.labels or {}), version, r.notes, r.created_at)
            for r, name, version in rows]


def set_review_settings(*, study_id: int, user_id: int | None, review_share: float | None = None,
                        blind_review: bool | None = None) -> list[str]:
    """The study's review settings (audited): the share of assignments a second expert reviews, and whether experts
    are spared the strategy version and the participant's identity. Returns the names of those that changed."""
    from oversight.study.studies import StudyError, update_study  # one place checks and audits study settings

    changes = {k: v for k, v in (("review_share", review_share), ("blind_review", blind_review)) if v is not None}
    try:
        return update_study(study_id=study_id, user_id=user_id, **changes)
    except StudyError as exc:
        raise ReviewError(str(exc)) from None


# ---------------------------------------------------------------------------------------------- the queue


@dataclass(frozen=True)
class QueueEntry:
    assignment_id: int
    question: str
    condition: str | None  # a neutral name ("Condition B") when the study is blind (for experts)
    strategy: str | None  # None when the study is blind (for experts)
    reviews: int  # plain reviews by others so far
    second: bool  # queued for a second review
    completed_at: datetime | None


def _sees_design(user: User, study: Study) -> bool:
    return user.role == "admin" or not study.blind_review


def blind_condition_names(s, study_id: int) -> dict[int, str]:
    """Neutral names for a blind study's conditions ("Condition A", "Condition B", ...), what experts see instead of
    the real ones: a condition's name often says its strategy ("Non-expert + model: Consultancy v1"). The letters
    follow a hash of the study and condition ids, not the order the conditions were made or are listed in elsewhere
    (the Results page), so a letter does not hint at a condition; they stay the same while the study's conditions do
    (a condition in use cannot be removed)."""
    ids = s.exec(select(Condition.id).where(Condition.study_id == study_id)).all()
    order = sorted(ids, key=lambda cid: hashlib.sha256(f"blind:{study_id}:{cid}".encode()).hexdigest())
    return {cid: f"Condition {_letters(k)}" for k, cid in enumerate(order)}


def _letters(k: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA (spreadsheet column names)."""
    out = ""
    k += 1
    while k:
        k, r = divmod(k - 1, 26)
        out = chr(65 + r) + out
    return out


def _condition_names(s, user: User, study: Study) -> dict[int, str] | None:
    """The condition names this user sees: None for the real ones, neutral ones for experts in a blind study."""
    return None if _sees_design(user, study) else blind_condition_names(s, study.id)


def review_queue(*, study_id: int, expert_id: int, condition_id: int | None = None,
                 strategy_id: int | None = None) -> list[QueueEntry]:
    """What this expert may review next, in order: finished assignments that are results (not practice, not
    catch items, not by participants the attention checks exclude) nobody has reviewed yet
    (oldest first), then those the study's `review_share` picks for a second review that one other expert has
    reviewed. Never their own answers, never one they reviewed, never a third plain review."""
    with session_scope(write=False) as s:
        user = _reviewer(s, expert_id)
        study = s.get(Study, study_id)
        if study is None:
            raise ReviewError(f"no study with id {study_id}")
        if strategy_id is not None and not _sees_design(user, study):
            raise ReviewError("this study's review is blind: experts do not filter by strategy version")
        q = (select(Assignment, Item.question, Condition.name, Strategy)
             .join(Item, Item.id == Assignment.item_id)
             .outerjoin(Condition, Condition.id == Assignment.condition_id)
             .outerjoin(Strategy, Strategy.id == Assignment.strategy_id)
             .where(Assignment.study_id == study_id, Assignment.state == "done",
                    result_assignment(people_left_out(s, study_id)), Assignment.participant_id != user.id))
        if condition_id is not None:
            q = q.where(Assignment.condition_id == condition_id)
        if strategy_id is not None:
            q = q.where(Assignment.strategy_id == strategy_id)
        rows = s.exec(q.order_by(Assignment.completed_at, Assignment.id)).all()
        reviewers: dict[int, set[int]] = {}
        for aid, eid in s.exec(select(ExpertReview.assignment_id, ExpertReview.expert_id)
                               .where(ExpertReview.study_id == study_id, ExpertReview.kind == "review",
                                      ExpertReview.assignment_id.is_not(None))).all():
            reviewers.setdefault(aid, set()).add(eid)
        sees = _sees_design(user, study)
        neutral = _condition_names(s, user, study)
        first, second = [], []
        for a, question, condition, strategy in rows:
            if neutral is not None and a.condition_id is not None:
                condition = neutral[a.condition_id]
            done_by = reviewers.get(a.id, set())
            if user.id in done_by or len(done_by) >= 2:
                continue
            if done_by and not second_review_chosen(a.id, study.review_share):
                continue
            entry = QueueEntry(a.id, question, condition, strategy_label(strategy) if sees else None,
                               len(done_by), bool(done_by), a.completed_at)
            (second if done_by else first).append(entry)
        return first + second


@dataclass(frozen=True)
class ReviewContext:
    assignment_id: int
    study_id: int
    condition: str | None  # a neutral name ("Condition B") when blind
    condition_kind: str | None
    question: str
    options: list[str]  # item order
    gold_index: int | None
    explanation: str | None
    source_title: str | None
    source_text: str | None
    transcript: TranscriptDetail | None  # the full transcript or chat, when the condition had one
    answer_index: int | None
    probabilities: list[float]  # item order
    confidence: float | None  # the probability the participant put on their answer
    rationale: str
    blind: bool
    strategy: str | None  # None when blind
    participant: str | None  # None when blind
    simulated: bool  # the participant is a simulated person
    with_model: bool = True  # a model took part: the rubric's fields about the model are asked


def review_context(*, assignment_id: int, expert_id: int) -> ReviewContext:
    """What an expert needs to review one assignment. Blind studies spare experts the strategy version, who
    answered and the condition's real name (admins see all three)."""
    with session_scope(write=False) as s:
        user = _reviewer(s, expert_id)
        a = s.get(Assignment, assignment_id)
        if a is None:
            raise ReviewError(f"no assignment with id {assignment_id}")
        if a.participant_id == user.id:
            raise ReviewError("you answered this item yourself: another expert reviews it")
        if (why := gold_withheld(study_id=a.study_id, user_id=user.id)) is not None:
            raise ReviewError(why)
        study = s.get(Study, a.study_id)
        item = s.get(Item, a.item_id)
        gold = s.get(ItemGold, a.item_id)
        condition = s.get(Condition, a.condition_id) if a.condition_id else None
        strategy = s.get(Strategy, a.strategy_id) if a.strategy_id else None
        participant = s.get(User, a.participant_id)
        judgment = s.exec(select(Judgment).where(Judgment.assignment_id == a.id, Judgment.is_final.is_(True),
                                                 Judgment.judge_kind == "human")).first()
        transcript_id = s.exec(select(Transcript.id).where(Transcript.assignment_id == a.id)).first()
        sees = _sees_design(user, study)
        neutral = _condition_names(s, user, study)
    condition_name = None if condition is None else neutral[condition.id] if neutral is not None else condition.name
    detail = transcript_detail(transcript_id=transcript_id) if transcript_id is not None else None
    if detail is not None and not sees:
        detail = blinded(detail)
    probs = [float(p) for p in (judgment.probabilities if judgment else [])]
    answer = judgment.answer_index if judgment else None
    return ReviewContext(
        assignment_id=a.id, study_id=a.study_id, condition=condition_name,
        condition_kind=condition.kind if condition else None, question=item.question, options=list(item.options),
        gold_index=gold.gold_index if gold else None, explanation=gold.explanation if gold else None,
        source_title=item.source_title, source_text=item.source_text, transcript=detail, answer_index=answer,
        probabilities=probs, confidence=probs[answer] if answer is not None and answer < len(probs) else None,
        rationale=judgment.rationale if judgment else "", blind=not sees,
        strategy=strategy_label(strategy) if sees else None,
        participant=(participant.external_id or participant.name) if sees and participant else None,
        simulated=bool(participant and participant.external_study_id == SIMULATED),
        with_model=model_took_part(a.id))


# ---------------------------------------------------------------------------------------------- adjudication


@dataclass(frozen=True)
class AdjudicationEntry:
    assignment_id: int
    question: str
    disputed: list[str]  # the fields the reviews disagree on
    reviews: list[Review]


def _disputed(reviews: list[ExpertReview]) -> list[str]:
    fields = sorted({f for r in reviews for f in r.labels})
    return [f for f in fields if len({repr(r.labels.get(f)) for r in reviews}) > 1]


def _live_reviews(s, study_id: int) -> dict[int, list[ExpertReview]]:
    """The study's reviews and adjudications of assignments (not superseded ones), by assignment, oldest first."""
    rows = s.exec(select(ExpertReview).where(ExpertReview.study_id == study_id,
                                             ExpertReview.assignment_id.is_not(None),
                                             ExpertReview.kind.in_(("review", "adjudication")))
                  .order_by(ExpertReview.id)).all()
    by_assignment: dict[int, list[ExpertReview]] = {}
    for r in rows:
        by_assignment.setdefault(r.assignment_id, []).append(r)
    return by_assignment


def adjudication_queue(*, study_id: int, expert_id: int) -> list[AdjudicationEntry]:
    """Double-reviewed assignments whose reviews disagree on any field and that nobody has adjudicated; an expert
    never adjudicates a disagreement they are part of (admins may always)."""
    with session_scope(write=False) as s:
        user = _reviewer(s, expert_id)
        by_assignment = _live_reviews(s, study_id)
        out = []
        for aid, reviews in by_assignment.items():
            plain = [r for r in reviews if r.kind == "review"]
            if len(plain) < 2 or any(r.kind == "adjudication" for r in reviews):
                continue
            if user.role != "admin" and user.id in {r.expert_id for r in plain}:
                continue
            disputed = _disputed(plain)
            if not disputed:
                continue
            a = s.get(Assignment, aid)
            if a.participant_id == user.id:
                continue
            question = s.get(Item, a.item_id).question
            out.append(AdjudicationEntry(aid, question, disputed,
                                         _reviews(s, (ExpertReview.assignment_id == aid)
                                                  & (ExpertReview.kind == "review"))))
        return out


def adjudicate(*, assignment_id: int, expert_id: int, labels: dict[str, Any], notes: str = "") -> int:
    """Settle the disputed fields of a double-reviewed assignment: `labels` gives a value for each field the reviews
    disagree on (and no other). One adjudication per assignment, enforced by the database."""
    with session_scope(write=False) as s:
        user = _reviewer(s, expert_id)
        a = s.get(Assignment, assignment_id)
        if a is None:
            raise ReviewError(f"no assignment with id {assignment_id}")
        plain = s.exec(select(ExpertReview).where(ExpertReview.assignment_id == a.id,
                                                  ExpertReview.kind == "review")).all()
        study_id = a.study_id
    if len(plain) < 2:
        raise ReviewError("only an assignment that two experts reviewed can be adjudicated")
    if user.role != "admin" and user.id in {r.expert_id for r in plain}:
        raise ReviewError("you reviewed this assignment: another expert (or an admin) adjudicates it")
    disputed = _disputed(plain)
    if not disputed:
        raise ReviewError("the reviews agree on every field: there is nothing to adjudicate")
    extra = set(labels or {}) - set(disputed)
    if extra:
        raise ReviewError(f"the reviewers agree on {', '.join(sorted(extra))}; adjudicate only "
                          f"{', '.join(disputed)}")
    unsettled = [f for f in disputed if (labels or {}).get(f) is None]
    if unsettled:  # explicitly, flags too: a flag left out must not settle as "no"
        raise ReviewError(f"settle every field the reviews disagree on: {', '.join(unsettled)}")
    rubric = current_rubric(study_id)
    missing = set(disputed) - {f["name"] for f in rubric.fields}
    if missing:  # a field of an older rubric version: check it against the reviews' own values
        raise ReviewError(f"field(s) {', '.join(sorted(missing))} are no longer in the rubric; "
                          "they cannot be adjudicated")
    labels = check_labels(rubric, {k: v for k, v in (labels or {}).items()}, only=set(disputed))
    with session_scope() as s:
        user = _reviewer(s, expert_id)
        a = _reviewable(s, assignment_id, user)
        row = ExpertReview(study_id=a.study_id, expert_id=user.id, assignment_id=a.id, rubric_id=rubric.id,
                           labels=labels, notes=(notes or "").strip(), kind="adjudication")
        s.add(row)
        try:
            s.flush()
        except IntegrityError:  # the unique index: one adjudication per assignment
            raise ReviewError(ALREADY_ADJUDICATED) from None
        log_event(s, "review.adjudicate", user_id=user.id, study_id=a.study_id, assignment=a.id, review=row.id,
                  fields=disputed)
        return row.id


@dataclass(frozen=True)
class FinalLabel:
    value: object  # None while the reviewers disagree and no one has adjudicated
    status: str  # single | unanimous | adjudicated | open


def final_labels(*, study_id: int) -> dict[int, dict[str, FinalLabel]]:
    """Per reviewed assignment of the study, each rubric field's settled label: an adjudication wins; otherwise
    one review stands alone, agreeing reviews are unanimous, and disagreeing ones stay open."""
    with session_scope(write=False) as s:
        by_assignment = _live_reviews(s, study_id)
    settled: dict[int, dict[str, FinalLabel]] = {}
    for aid, reviews in by_assignment.items():
        adjudication = next((r for r in reviews if r.kind == "adjudication"), None)
        plain = [r for r in reviews if r.kind == "review"]
        fields = {f for r in reviews for f in r.labels}
        out: dict[str, FinalLabel] = {}
        for f in sorted(fields):
            values = [r.labels[f] for r in plain if f in r.labels]
            if adjudication is not None and f in adjudication.labels:
                out[f] = FinalLabel(adjudication.labels[f], "adjudicated")
            elif len(values) == 1:
                out[f] = FinalLabel(values[0], "single")
            elif values and all(v == values[0] for v in values):
                out[f] = FinalLabel(values[0], "unanimous")
            else:
                out[f] = FinalLabel(None, "open")
        settled[aid] = out
    return settled


@dataclass(frozen=True)
class ReviewFilters:
    finished: int  # finished assignments of the study whose answers are results (oversight.study.attention)
    conditions: list[tuple[int, str]]  # neutral names when the study is blind for this user
    strategies: list[tuple[int, str]]  # empty when the study is blind for this user


def review_filters(*, study_id: int, expert_id: int) -> ReviewFilters:
    """What the queue can be filtered by, for this user (no strategy versions in a blind study for experts)."""
    with session_scope(write=False) as s:
        user = _reviewer(s, expert_id)
        study = s.get(Study, study_id)
        if study is None:
            raise ReviewError(f"no study with id {study_id}")
        finished = s.exec(select(Assignment.id).where(
            Assignment.study_id == study_id, Assignment.state == "done",
            result_assignment(people_left_out(s, study_id)))).all()
        conditions = [tuple(c) for c in s.exec(select(Condition.id, Condition.name)
                                               .where(Condition.study_id == study_id)
                                               .order_by(Condition.position, Condition.id)).all()]
        if (neutral := _condition_names(s, user, study)) is not None:
            conditions = sorted(((cid, neutral[cid]) for cid, _ in conditions), key=lambda c: c[1])
        strategies = []
        if _sees_design(user, study):
            used = select(Assignment.strategy_id).where(Assignment.study_id == study_id).distinct()
            strategies = [(x.id, strategy_label(x)) for x in s.exec(
                select(Strategy).where(Strategy.id.in_(used)).order_by(Strategy.name, Strategy.version)).all()]
        return ReviewFilters(len(finished), conditions, strategies)


@dataclass(frozen=True)
class EmptyQueue:
    """Why an expert's review queue is empty, for the page to say (never "nothing left" without a reason)."""

    reason: str  # answering_first | nothing_finished | no_match | all_left_out | done_for_you
    message: str


_LEFT_OUT_WORDS = {"excluded": "excluded by the attention checks or an admin", "preview": "staff previews",
                   "simulated": "simulated"}


def empty_queue_reason(*, study_id: int, expert_id: int, condition_id: int | None = None,
                       strategy_id: int | None = None, answering_checked: bool = False) -> EmptyQueue:
    """Why `review_queue` has nothing for this expert with these filters: they are answering the study's items
    first; nobody has finished an item; nothing finished matches the filters; every finished answer is by someone
    left out of results (excluded, previews, simulated); or what is left they reviewed, answered themselves, or
    others have reviewed. Counts say how many of each. `answering_checked`: the caller has already found the expert
    is not answering first (`gold_withheld`), as the Review page does before anything else (a run's statements
    are budgeted: tests/test_statement_budget.py)."""
    if not answering_checked and (withheld := gold_withheld(study_id=study_id, user_id=expert_id)) is not None:
        return EmptyQueue("answering_first", withheld)
    with session_scope(write=False) as s:
        user = _reviewer(s, expert_id)
        if s.get(Study, study_id) is None:
            raise ReviewError(f"no study with id {study_id}")
        # One read of the study's real tasks, finished or not; the filters are applied here (practice and attention
        # checks are never reviewed).
        tasks = s.exec(select(Assignment.id, Assignment.participant_id, Assignment.condition_id,
                              Assignment.strategy_id, Assignment.state)
                       .where(Assignment.study_id == study_id, Assignment.state.in_(("done", "pending", "active")),
                              result_assignment(set()))).all()
        everything = [t for t in tasks if t.state == "done"]
        rows = [(aid, pid) for aid, pid, cid, sid, _ in everything
                if condition_id in (None, cid) and strategy_id in (None, sid)]
        if not everything:
            working = len(tasks)
            return EmptyQueue("nothing_finished", "Nothing to review yet: no finished assignments in this study"
                              + (f" ({working} dealt and not finished yet)." if working else "."))
        if not rows:
            return EmptyQueue("no_match", f"None of the {len(everything)} finished assignments matches these "
                                          "filters: choose “All” to see the rest.")
        reasons = left_out_reasons(s, study_id)
        left = [pid for _, pid in rows if pid in reasons]
        kept = [aid for aid, pid in rows if pid not in reasons]
        if not kept:
            by: dict[str, set[int]] = {}
            for pid in left:
                by.setdefault(reasons[pid], set()).add(pid)
            who = ", ".join(f"{len(people)} {'person' if len(people) == 1 else 'people'} "
                            f"{_LEFT_OUT_WORDS.get(why, why)}" for why, people in sorted(by.items()))
            return EmptyQueue("all_left_out", f"Nothing to review: all {len(rows)} finished assignments are by "
                                              f"people whose answers are not results ({who}). Monitor shows who was "
                                              "excluded and why; Participants can include someone anyway.")
        own = {aid for aid, pid in rows if pid == user.id}
        reviewers: dict[int, set[int]] = {}
        for aid, eid in s.exec(select(ExpertReview.assignment_id, ExpertReview.expert_id)
                               .where(ExpertReview.study_id == study_id, ExpertReview.kind == "review",
                                      ExpertReview.assignment_id.in_(kept))).all():
            reviewers.setdefault(aid, set()).add(eid)
    mine = [aid for aid in kept if user.id in reviewers.get(aid, set())]
    others = [aid for aid in kept if aid not in own and user.id not in reviewers.get(aid, set())]
    parts = [f"you reviewed {len(mine)}"] if mine else []
    if own:
        parts.append(f"{len(own)} are your own answers (another expert reviews them)")
    if others:
        parts.append(f"{len(others)} have their reviews from other experts (a second review only where the "
                     "study's share of second reviews picks one)")
    note = f" {len(left)} more by people left out of results are not reviewed." if left else ""
    return EmptyQueue("done_for_you", f"Nothing left for you to review here: of the {len(kept)} finished "
                                      f"assignments, {'; '.join(parts)}.{note}")
