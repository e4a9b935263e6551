"""What a participant does: consent, take the next task, submit an answer. Experts take the same path in a study
they choose (an expert condition, without the gold).

Everything here is participant-facing, so it never returns gold answers (it only asks whether an item has
one, to know whether a consultancy can run on it) nor source text the protocol hides from the judge. A submitted answer is committed before this module returns.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from oversight.audit import log_event
from oversight.db import session_scope
from oversight.protocols import live
from oversight.protocols.base import ItemFacts
from oversight.protocols.direct_qa import PROTOCOL as DIRECT_QA
from oversight.protocols.registry import get_protocol
from storage.models import Assignment, Item, ItemGold, Judgment, Strategy, Study, User, utcnow


class ParticipationError(Exception):
    """Something a participant tried that cannot happen; the message is safe to show."""


@dataclass(frozen=True)
class Task:
    assignment_id: int
    position: int
    total: int
    question: str
    options: list[str]
    started_at_iso: str
    # Set when the task runs under a strategy: the judge page drives the live transcript.
    transcript_id: int | None = None


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    completion_code: str | None  # shown only once every task is done


def _participant(s, user_id: int) -> User:
    user = s.get(User, user_id)
    if user is None or user.role != "participant" or user.token_revoked:
        raise ParticipationError("this participation link is no longer valid")
    return user


def _judge(s, user_id: int, study_id: int | None) -> tuple[User, int]:
    """Who answers, and in which study: a participant in their own study; an expert in the study they chose.
    Experts answer the same tasks without the gold answer, so expert accuracy is measured, not assumed (their
    judgments are told apart by their role)."""
    user = s.get(User, user_id)
    if user is not None and user.role == "expert":
        if study_id is None or s.get(Study, study_id) is None:
            raise ParticipationError("choose a study to answer its items")
        return user, study_id
    user = _participant(s, user_id)
    return user, user.study_id


def record_consent(*, user_id: int) -> None:
    with session_scope() as s:
        user = _participant(s, user_id)
        if user.consented_at is None:
            user.consented_at = utcnow()
            log_event(s, "participant.consent", user_id=user.id, study_id=user.study_id)


def _arm_for(item: Item, has_gold: bool, arms: list[Strategy], start: int) -> Strategy | None:
    """The first arm, in rotation from `start`, whose protocol can run on this item."""
    facts = ItemFacts(len(item.options), bool(item.source_text), has_gold)
    for k in range(len(arms)):
        arm = arms[(start + k) % len(arms)]
        protocol = get_protocol(arm.protocol)
        if protocol.cannot_run(facts, protocol.parse_rules(arm.rules)) is None:
            return arm
    return None


def _ensure_assignments(s, user: User, study_id: int) -> None:
    """Deal this participant's items once, in an order of their own (seeded by their id), rotating through the
    study's arms so that every arm sees every item across participants."""
    if s.exec(select(Assignment.id).where(Assignment.participant_id == user.id,
                                          Assignment.study_id == study_id)).first() is not None:
        return
    study = s.get(Study, study_id)
    items = list(s.exec(select(Item).where(Item.study_id == study_id).order_by(Item.id)).all())
    gold = set(s.exec(select(ItemGold.item_id).where(ItemGold.item_id.in_([i.id for i in items]))).all())
    arms = [a for a in (s.get(Strategy, sid) for sid in study.arms) if a is not None]
    random.Random(user.id).shuffle(items)
    if study.items_per_participant:
        items = items[: study.items_per_participant]
    for position, item in enumerate(items):
        arm = _arm_for(item, item.id in gold, arms, user.id + position) if arms else None
        s.add(Assignment(study_id=study_id, participant_id=user.id, item_id=item.id,
                         strategy_id=arm.id if arm else None, arm=arm.protocol if arm else DIRECT_QA.name,
                         position=position))


def next_task(*, user_id: int, study_id: int | None = None) -> Task | None:
    """The task to show now (the same one again after a refresh), or None when all are done. `study_id`: the
    study an expert answers in (a participant's is their own)."""
    with session_scope() as s:
        user, study_id = _judge(s, user_id, study_id)
        _ensure_assignments(s, user, study_id)
        mine = (Assignment.participant_id == user.id, Assignment.study_id == study_id)
        total = s.exec(select(func.count()).select_from(Assignment).where(*mine)).one()
        current = s.exec(select(Assignment).where(*mine, Assignment.state.in_(("pending", "active")))
                         .order_by(Assignment.position)).first()
        if current is None:
            return None
        if current.state == "pending":
            current.state, current.started_at = "active", utcnow()
        item = s.get(Item, current.item_id)
        task = Task(current.id, current.position + 1, total, item.question, list(item.options),
                    current.started_at.isoformat())
    if current.strategy_id is not None:
        # Idempotent per assignment: a refresh or a second tab finds the same transcript.
        tid = live.start_transcript(item_id=current.item_id, strategy_id=current.strategy_id,
                                    assignment_id=current.id, seed=current.id)
        task = replace(task, transcript_id=tid)
    return task


def submit_answer(*, user_id: int, assignment_id: int, probabilities: list[float], rationale: str = "") -> None:
    """Store the participant's final answer and close the task, in one transaction."""
    with session_scope() as s:
        a = s.get(Assignment, assignment_id)
        if a is None or a.participant_id != user_id:
            raise ParticipationError("this task is not yours")
        user, _ = _judge(s, user_id, a.study_id)
        if a.state == "done":
            raise ParticipationError("This task was already submitted (in another tab?).")
        item = s.get(Item, a.item_id)
        if len(probabilities) != len(item.options) or any(p < 0 for p in probabilities) or sum(probabilities) <= 0:
            raise ParticipationError("give a probability for every answer")
        total = sum(probabilities)
        probs = [p / total for p in probabilities]
        now = utcnow()
        seconds = (now - a.started_at).total_seconds() if a.started_at else None
        s.add(Judgment(item_id=item.id, assignment_id=a.id, judge_id=user.id, judge_kind="human",
                       judge_name=user.name, probabilities=probs, answer_index=max(range(len(probs)), key=probs.__getitem__),
                       rationale=rationale.strip(), seconds=seconds, is_final=True))
        a.state, a.completed_at = "done", now
        user.last_seen_at = now
        log_event(s, "judgment.submit", user_id=user.id, study_id=a.study_id, assignment=a.id)
        try:
            s.flush()
        except IntegrityError:  # one final judgment per assignment (a unique index): another tab was first
            raise ParticipationError("This task was already submitted (in another tab?).") from None


def progress(*, user_id: int, study_id: int | None = None) -> Progress:
    with session_scope(write=False) as s:
        user, study_id = _judge(s, user_id, study_id)
        rows = s.exec(select(Assignment.state).where(Assignment.participant_id == user.id,
                                                     Assignment.study_id == study_id)).all()
        done = sum(1 for r in rows if r == "done")
        code = None
        if rows and done == len(rows) and user.role == "participant":
            code = s.get(Study, study_id).completion_code
        return Progress(done, len(rows), code)
