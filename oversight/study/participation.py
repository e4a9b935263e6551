"""What a participant does: consent, take the next task, submit an answer. Experts take the same path in a study
they choose (an expert condition, without the gold).

Everything here is participant-facing, so it never returns gold answers (it only asks whether an item has
one, to know whether a consultancy can run on it) nor source text the protocol hides from the judge; the one
exception is `practice_feedback`, the answer to a practice item after it is submitted. A submitted answer is
committed before this module returns. Who gets which item under which condition: oversight.sandwiching.dealing, from the
person's place in the design (oversight.study.places).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import bindparam, exists, insert, or_, update
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from oversight.sandwiching.allocation import choose_version
from oversight.audit import log_event
from oversight.study.attention import excluded_participants
from oversight.study.feedback import DIRECT_RULE, AnswerFeedback, answer_feedback
from oversight.study.payments import completion_code, completion_link, ending
from oversight.sandwiching.conditions import DEALT_KINDS
from oversight import read_cache
from oversight.db import carry, memo, session_scope
from storage.db import column_values
from oversight.sandwiching.dealing import deal, group_items
from oversight.study.eligibility import condition_protocol, design_pool, practice_to_deal
from oversight.study.places import take_place
from oversight.protocols import live
from oversight.protocols.base import RuleViolation
from oversight.protocols.direct_qa import PROTOCOL as DIRECT_QA
from oversight.protocols.registry import get_protocol
from oversight.vocab import REVIEW_WITHOUT_ANSWERING, chosen_option, refuse_person_answer
from storage.models import (Assignment, Condition, Event, ExpertReview, Item, ItemGold, Judgment, Strategy, Study,
                            Transcript, User, utcnow)


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
    practice: bool = False  # a practice item: its answer is shown once it is submitted


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    completion_code: str | None  # shown only once every task is done (the code of the way it ended)
    completion_link: str | None = None  # the recruiting platform's completion URL with the code, once done
    outcome: str | None = None  # how participation ended: storage.vocabulary.COMPLETION_OUTCOMES; None: not yet


def _participant(s, user_id: int) -> User:
    user = s.get(User, user_id)
    if user is None or user.role != "participant" or user.token_revoked:
        raise ParticipationError("this participation link is no longer valid")
    return user


NOT_OPEN = "This study is not open yet. Please come back when the researchers open it."
CLOSED = "This study is closed. Thank you for your interest."
ARCHIVED = "This study has been archived: its links no longer work. Thank you for your interest."


def _not_draft(user: User, study: Study | None) -> None:
    """Only an open study deals and takes consent: a draft, except for a staff member's preview participant and in
    a dry-run copy (oversight.sandwiching.simulate), whose simulated people try the design before it opens; a closed study
    never (people already dealt finish their tasks)."""
    if study is not None and study.status == "archived":  # nobody answers in an archived study, previews included
        raise ParticipationError(ARCHIVED)
    if study is None or user.preview_by is not None or study.dry_run_of is not None:
        return
    if study.status == "draft":
        raise ParticipationError(NOT_OPEN)
    if study.status == "closed":
        raise ParticipationError(CLOSED)


def _judge(s, user_id: int, study_id: int | None) -> tuple[User, int]:
    """Who answers, and in which study: a participant in their own study; an expert in the study they chose.
    Experts answer the same tasks without the gold answer, so expert accuracy is measured, not assumed (their
    judgments are told apart by their role)."""
    user = s.get(User, user_id)
    if user is not None and user.role == "expert":
        if study_id is None or read_cache.row(s, Study, study_id) is None:
            raise ParticipationError("choose a study to answer its items")
        return user, study_id
    user = _participant(s, user_id)
    return user, user.study_id


def record_consent(*, user_id: int) -> None:
    with session_scope(write=False) as s:  # in a page run: the user and study it has read already
        user = _participant(s, user_id)
        study = read_cache.row(s, Study, user.study_id) if user.study_id is not None else None
        _not_draft(user, study)
        if user.declined_at is not None:  # they were sent back with the no-consent code: that ended it
            raise ParticipationError("You chose not to take part in this study.")
        study_id = user.study_id
    with session_scope() as s:
        # The first consent stands (another tab's included): only a person without one, who has not declined
        # meanwhile, gets it.
        if s.connection().execute(_CONSENT, {"uid": user_id, "now": utcnow()}).rowcount == 1:
            log_event(s, "participant.consent", user_id=user_id, study_id=study_id)


_CONSENT = update(User.__table__).where(
    User.__table__.c.id == bindparam("uid"), User.__table__.c.consented_at.is_(None),
    User.__table__.c.declined_at.is_(None)).values(consented_at=bindparam("now"))


def decline_consent(*, user_id: int) -> Progress:
    """"I do not agree": participation ends here, nothing is dealt, and the participant is sent back with the
    no-consent code. Refused once they have consented (their answers are in: they finish or return)."""
    with session_scope() as s:
        user = _participant(s, user_id)
        if user.consented_at is not None:
            raise ParticipationError("You have already agreed to take part.")
        if user.declined_at is None:
            user.declined_at = utcnow()
            log_event(s, "participant.decline", user_id=user.id, study_id=user.study_id)
        study = read_cache.row(s, Study, user.study_id)
        return _ended(study, user, "no_consent", 0, 0)


def _ended(study: Study, user: User, outcome: str, done: int, total: int) -> Progress:
    return Progress(done, total, completion_code(study, outcome),
                    completion_link(study, outcome, from_prolific=bool(user.external_id)), outcome)


def _dealt_conditions(s, study_id: int, role: str) -> list[Condition | None]:
    """Participants: the study's alone and assisted conditions (none: plain direct QA without a condition).
    Experts: the study's expert condition only (none: plain direct QA)."""
    kinds = ("expert",) if role == "expert" else DEALT_KINDS
    rows = list(s.exec(select(Condition).where(Condition.study_id == study_id, Condition.kind.in_(kinds))
                       .order_by(Condition.position, Condition.id)).all())
    return rows or [None]


class _Design(NamedTuple):
    """What dealing a person needs of the study's design besides their place: read before the writer's turn."""
    conditions: list
    protocols: dict
    pool: object  # eligibility.DesignPool


def _design(s, study_id: int, role: str) -> _Design:
    conditions = _dealt_conditions(s, study_id, role)
    protocols = {c.id if c else None: condition_protocol(s, c) for c in conditions}
    return _Design(conditions, protocols, design_pool(s, study_id, conditions, protocols))


def _ensure_assignments(s, user: User, study: Study, design: _Design | None = None) -> list[TaskRow] | None:
    """Deal this person's items once by the study's balanced design (oversight.sandwiching.dealing), from their place in it
    (oversight.study.places: given now, on their first deal, in arrival order). Only items that every dealt condition's
    protocol can run on are in the design, so the balance holds exactly. Experts get the study's practice items
    (split "practice") as practice, with their answer shown after, like participants; never a real item set aside
    as practice, so they answer every real item. `study`: its row, locked by the caller. Returns the tasks dealt
    now (None: dealt already). `design`: the study's design as read before the write (None: read here)."""
    study_id = study.id
    if _read_assignments(s, user.id, study_id):
        return None
    conditions, protocols, pool = design or _design(s, study_id, user.role)
    expert = user.role == "expert"
    # Catch items run as direct QA alone, whatever the conditions; experts get none.
    catch_pool = pool.catch if not expert else []
    real = pool.real
    groups = group_items([(i.id, (i.source_title or "") + "\x00" + (i.source_text or "")
                           if (i.source_text or i.source_title) else None) for i in real])
    by_id = {c.id: c for c in conditions if c is not None}
    dealt = deal(participant_index=take_place(s, user, study_id), groups=groups,
                 conditions=[c.id if c else None for c in conditions],
                 design="within" if expert else study.design, items_per_participant=study.items_per_participant,
                 practice_items=practice_to_deal(study.practice_items, pool, expert=expert),
                 practice_pool=pool.practice, catch_items=study.catch_items, catch_pool=catch_pool, seed=study_id,
                 person=user.id)
    # A catch item looks like the study's own direct-QA tasks: under the alone condition's direct-QA strategy
    # when it has one (the same page and controls), else plain direct QA.
    catch_strategy = next((c.strategy_id for c in conditions if c is not None and c.kind == "alone"
                           and protocols[c.id][0].name == DIRECT_QA.name), None)
    versions: dict[int | None, tuple[int | None, float | None]] = {}  # condition -> (version, its chance)
    # Strategy version -> its protocol's name (a Thompson draw may deal a version no condition names).
    protocol_of = {None: DIRECT_QA.name} | {c.strategy_id: protocols[c.id][0].name for c in conditions
                                            if c is not None and c.strategy_id is not None}
    rows = []
    for position, d in enumerate(dealt):
        if d.catch:  # direct QA alone, no condition: never a result, and no model to tell it apart by
            rows.append(dict(study_id=study_id, participant_id=user.id, item_id=d.item, protocol=DIRECT_QA.name,
                             strategy_id=catch_strategy, condition_id=None, practice=False, catch=True,
                             position=position, allocation_probability=None))
            continue
        condition = by_id.get(d.condition)
        if d.condition not in versions:
            versions[d.condition] = (condition.strategy_id if condition else None), None
            if condition is not None and condition.kind == "assisted" and study.allocation == "thompson":
                rng = random.Random(f"thompson:{study_id}:{user.id}:{condition.id}")
                versions[d.condition] = choose_version(s, condition, user_id=user.id, rng=rng)
        sid, chance = versions[d.condition]
        if sid not in protocol_of:
            protocol_of[sid] = get_protocol(s.get(Strategy, sid).protocol).name
        rows.append(dict(study_id=study_id, participant_id=user.id, item_id=d.item, strategy_id=sid,
                         protocol=protocol_of[sid], condition_id=d.condition, practice=d.practice, catch=False,
                         position=position, allocation_probability=chance))
    if not rows:
        return []
    # One INSERT for the person's whole set (an executemany); the unique participant+item constraint still
    # refuses a second set from another tab.
    s.execute(insert(Assignment).execution_options(render_nulls=True), rows)
    return _read_assignments(s, user.id, study_id)


def _reviewed_already(s, user: User, study_id: int) -> bool:
    """Whether this expert has seen the study's gold: reviewed it, or chose to review without answering
    (oversight/sandwiching/reviews.py). One statement."""
    return s.exec(select(or_(
        exists().where(ExpertReview.study_id == study_id, ExpertReview.expert_id == user.id),
        exists().where(Event.study_id == study_id, Event.user_id == user.id, Event.kind == REVIEW_WITHOUT_ANSWERING),
    ))).one()


class TaskRow(NamedTuple):
    """One of a person's tasks as a page run needs it (not an ORM row: kept and carried across a run's writes)."""
    id: int
    state: str
    position: int
    item_id: int
    strategy_id: int | None
    practice: bool
    started_at: datetime | None
    transcript_id: int | None


_TASK_ROWS = (sa_select(Assignment.id, Assignment.state, Assignment.position, Assignment.item_id,
                        Assignment.strategy_id, Assignment.practice, Assignment.started_at,
                        Transcript.id.label("transcript_id"))
              .outerjoin(Transcript, Transcript.assignment_id == Assignment.id)
              .where(Assignment.participant_id == bindparam("uid"), Assignment.study_id == bindparam("sid"))
              .order_by(Assignment.position))
# The person's own rows locked (PostgreSQL; SQLite serialises writers). Both built once: every page run reads one.
_TASK_ROWS_LOCKED = _TASK_ROWS.with_for_update(of=Assignment)


def _read_assignments(s, user_id: int, study_id: int, *, lock: bool = False) -> list[TaskRow]:
    return [TaskRow(*r) for r in s.connection().execute(_TASK_ROWS_LOCKED if lock else _TASK_ROWS,
                                                        {"uid": user_id, "sid": study_id}).all()]


def _assignments_key(user_id: int, study_id: int) -> tuple:
    return "assignments", user_id, study_id


def _assignments(s, user_id: int, study_id: int) -> list[TaskRow]:
    """This person's tasks in the study in order: one read that the dealing check, the next task and the
    progress bar of a page run share (storage.db.memo)."""
    return memo(s, _assignments_key(user_id, study_id), lambda: _read_assignments(s, user_id, study_id))


def _dealt(s, user_id: int, study_id: int) -> bool:
    return bool(_assignments(s, user_id, study_id))


def _deal_once(user_id: int, study_id: int | None) -> int:
    """Deal in a transaction of its own; when another tab dealt first (the unique participant+item and
    study+person place constraints refuse the second set), its set stands. Every page run asks, so the usual
    answer (dealt already) is a read: on SQLite a write transaction would queue behind every participant's answer.
    The run's reads after dealing get the person and their tasks from the dealing transaction (db.carry)."""
    with session_scope(write=False) as s:
        user, study_id = _judge(s, user_id, study_id)
        if _dealt(s, user.id, study_id):
            return study_id
        version = read_cache.content_version(s)
        # The design is read here, not in the write: items and conditions do not change while people work, and
        # on SQLite the write holds the process's one writer (the write checks that no item changed meanwhile).
        design = _design(s, study_id, user.role)
    try:
        with session_scope() as s:
            user, study_id = _judge(s, user_id, study_id)
            # The study row lock orders arrivals on PostgreSQL (as enrolment caps do); SQLite serialises writers.
            study = s.exec(select(Study).where(Study.id == study_id).with_for_update()).one()
            # Only dealing needs the draft check: nothing can be answered in a study that dealt nothing, so page
            # runs of people already dealt read no study row for it.
            _not_draft(user, study)
            # In the dealing transaction (on SQLite, serialised with every review's write).
            if user.role == "expert" and _reviewed_already(s, user, study_id):
                raise ParticipationError(
                    "You have reviewed answers in this study, and reviews show the gold answers: your own answers "
                    "would no longer measure expert accuracy. Another expert answers its items.")
            now = s.connection().execute(read_cache.VERSION_SELECT).scalar_one()
            rows = _ensure_assignments(s, user, study, design if now == version[1] else None)
            version = (version[0], now)
            transcript = None
            if rows:  # the first task is shown in this run: its showing is stored with the deal, in one write
                read_cache.assume_version(s, version)
                first = rows[0]
                item = read_cache.row(s, Item, first.item_id)
                strategy = read_cache.row(s, Strategy, first.strategy_id) if first.strategy_id else None
                try:
                    rows, _, transcript = _store_showing(s, rows, first.id, item, strategy)
                except RuleViolation:
                    pass  # next_task's own write tries again and tells the person why
    except IntegrityError:
        return study_id
    if rows is not None:
        _carry_tasks(user, study_id, rows, version, transcript)
    return study_id


def next_task(*, user_id: int, study_id: int | None = None) -> Task | None:
    """The task to show now (the same one again after a refresh), or None when all are done. `study_id`: the
    study an expert answers in (a participant's is their own). A read, except the moment a task is first shown
    (its start time and, under a strategy, its live transcript are stored then, once)."""
    study_id = _deal_once(user_id, study_id)
    with session_scope(write=False) as s:
        user, study_id = _judge(s, user_id, study_id)
        rows = _assignments(s, user.id, study_id)
        current = next((r for r in rows if r.state in ("pending", "active")), None)
        if current is None:
            return None
        item = read_cache.row(s, Item, current.item_id)
        first_showing = current.state == "pending" or (current.strategy_id is not None
                                                       and current.transcript_id is None)
        if first_showing:
            strategy = read_cache.row(s, Strategy, current.strategy_id) if current.strategy_id else None
            # Read here, not in the write: a transcript is planned before the writer's turn (gold never changes
            # while people work, and it stays on the server).
            gold = s.get(ItemGold, item.id) if current.strategy_id and current.transcript_id is None else None
            version = read_cache.content_version(s)
    if first_showing:
        rows, current = _show(user, study_id, current, item, strategy, gold, version)
    return Task(current.id, current.position + 1, len(rows), item.question, list(item.options),
                current.started_at.isoformat(), current.transcript_id, practice=current.practice)


def _show(user: User, study_id: int, shown: TaskRow, item, strategy, gold: ItemGold | None,
          version) -> tuple[list[TaskRow], TaskRow]:
    """Store a task's first showing in one write transaction: its start time and, under a strategy, its live
    transcript; the run's next reads get what was stored without reading it back (oversight.db.carry). Two tabs
    at once: the person's task rows are locked (PostgreSQL; SQLite serialises writers), so the second tab finds
    the first one's start time and transcript; one transcript per assignment (a unique column) is the last guard,
    and a tab refused by it tries once more, finding the other's."""
    planned = None
    if shown.strategy_id is not None and shown.transcript_id is None:  # planned before the writer's turn
        planned = live.plan_transcript(item=item, strategy=strategy, gold=gold, assignment_id=shown.id,
                                       seed=shown.id)
    for attempt in (1, 2):
        try:
            with session_scope() as s:
                rows = _read_assignments(s, user.id, study_id, lock=True)
                rows, current, transcript = _store_showing(s, rows, shown.id, item, strategy, planned)
            break
        except IntegrityError:
            if attempt == 2:
                raise
    _carry_tasks(user, study_id, rows, version, transcript)
    return rows, current


def _store_showing(s, rows: list[TaskRow], shown_id: int, item, strategy, planned: dict | None = None
                   ) -> tuple[list[TaskRow], TaskRow, live.NewTranscript | None]:
    """In write session `s`, with `rows` the person's tasks as read in it: task `shown_id` is shown now. Stores its
    start time unless it has one and, under a strategy, its live transcript unless it has one (`planned` before
    the write by live.plan_transcript, or planned here); returns the rows as they now stand, the task, and the
    transcript made (None: none made)."""
    current = next(r for r in rows if r.id == shown_id)
    if current.state == "pending":  # another tab may have shown it first: its start time stands
        now = utcnow()
        s.connection().execute(_START_TASK, {"aid": current.id, "now": now})
        current = current._replace(state="active", started_at=now)
    transcript = None
    if current.strategy_id is not None and current.transcript_id is None:
        transcript = live.insert_transcript(s, planned) if planned is not None else live.create_transcript(
            s, item=item, strategy=strategy, assignment_id=current.id, seed=current.id)
        current = current._replace(transcript_id=transcript.id)
    return [current if r.id == current.id else r for r in rows], current, transcript


_START_TASK = update(Assignment.__table__).where(
    Assignment.__table__.c.id == bindparam("aid"), Assignment.__table__.c.state == "pending").values(
    state="active", started_at=bindparam("now"))


def _carry_tasks(user: User, study_id: int, rows: list[TaskRow], version,
                 transcript: live.NewTranscript | None) -> None:
    """After a write that dealt or showed tasks (and changed no study, item or strategy: the run's content version
    stands): the run's next reads start with the person, their tasks and a new transcript (db.carry)."""
    carried = {_assignments_key(user.id, study_id): rows, read_cache.VERSION_KEY: version}
    if transcript is not None:
        carried |= live.new_transcript_reads(transcript)
    carry(values=carried, rows=[user])


def submit_answer(*, user_id: int, assignment_id: int, probabilities: list[float], rationale: str = "",
                  answer_form: str | None = None) -> None:
    """Store the person's final answer and close the task, in one transaction. The answer must choose one option
    (no tie at the top: an untouched uniform form is refused, nothing stored). `answer_form`: the form it came
    from (vocab.ANSWER_FORMS; the participant page passes vocab.CHOICE_CONFIDENCE).
    Everything is checked from the page run's reads before the write; the write is four statements that need no
    read (on SQLite it holds the process's one writer): the task closes only if it is still open, and the
    unique final judgment per task refuses a second tab's answer, so a stale read can never store two."""
    with session_scope(write=False) as s:  # in a page run: the person, their tasks and the item are read already
        a = s.get(Assignment, assignment_id)
        if a is None or a.participant_id != user_id:
            raise ParticipationError("this task is not yours")
        user, _ = _judge(s, user_id, a.study_id)
        if a.state == "done":
            raise ParticipationError("This task was already submitted (in another tab?).")
        if read_cache.row(s, Study, a.study_id).status == "archived":
            raise ParticipationError(ARCHIVED)
        item = read_cache.row(s, Item, a.item_id)
        study_id, started_at, user_name = a.study_id, a.started_at, user.name
    if len(probabilities) != len(item.options) or any(p < 0 for p in probabilities) or sum(probabilities) <= 0:
        raise ParticipationError("give a probability for every answer")
    total = sum(probabilities)
    probs = [p / total for p in probabilities]
    if why := refuse_person_answer(probs, answer_form):
        raise ParticipationError(why)
    now = utcnow()
    judgment = column_values(
        Judgment, item_id=item.id, assignment_id=assignment_id, judge_id=user_id, judge_kind="human",
        judge_name=user_name, probabilities=probs, answer_index=chosen_option(probs), rationale=rationale.strip(),
        seconds=(now - started_at).total_seconds() if started_at else None, is_final=True, answer_form=answer_form,
        created_at=now)
    already = ParticipationError("This task was already submitted (in another tab?).")
    try:
        with session_scope() as s:
            if s.connection().execute(_FINISH_TASK, {"aid": assignment_id, "now": now}).rowcount != 1:
                raise already
            s.connection().execute(_INSERT_JUDGMENT, judgment)
            s.connection().execute(_SEEN, {"uid": user_id, "now": now})
            log_event(s, "judgment.submit", user_id=user_id, study_id=study_id, assignment=assignment_id)
    except IntegrityError:  # one final judgment per assignment (a unique index): another tab was first
        raise already from None


_FINISH_TASK = update(Assignment.__table__).where(
    Assignment.__table__.c.id == bindparam("aid"), Assignment.__table__.c.state != "done").values(
    state="done", completed_at=bindparam("now"))
_INSERT_JUDGMENT = insert(Judgment.__table__)
_SEEN = update(User.__table__).where(User.__table__.c.id == bindparam("uid")).values(last_seen_at=bindparam("now"))


def progress(*, user_id: int, study_id: int | None = None) -> Progress:
    with session_scope(write=False) as s:
        user, study_id = _judge(s, user_id, study_id)
        if user.role == "participant" and user.declined_at is not None:
            return _ended(read_cache.row(s, Study, study_id), user, "no_consent", 0, 0)
        rows = [r.state for r in _assignments(s, user.id, study_id)]
        done = sum(1 for r in rows if r == "done")
        # A task whose time ran out (skipped) is finished too: the participant did not fail to turn up.
        outcome = ending(rows) if user.role == "participant" else None
        if outcome is None:
            return Progress(done, len(rows), None)
        study = read_cache.row(s, Study, study_id)
        # Once, at the end: the attention checks read the whole study, so not on every page run.
        if user.id in excluded_participants(s, study_id):
            outcome = "screened_out"
        return _ended(study, user, outcome, done, len(rows))


@dataclass(frozen=True)
class PracticeFeedback:
    answer: str  # the right option's text (no letter: a live task may have shown the options in another order)
    explanation: str | None
    # Correct or not and how sure (and the score, if the study shows scores): oversight.study.feedback.
    verdict: AnswerFeedback | None = None


def practice_feedback(*, user_id: int, assignment_id: int) -> PracticeFeedback:
    """The gold answer of a practice item, for the person who was dealt it, once they have submitted it, with the
    feedback on their answer the study's `feedback` setting chooses. The one place a participant receives a gold
    answer: never for a real item, never before the answer is in."""
    with session_scope(write=False) as s:
        a = s.get(Assignment, assignment_id)
        if a is None or a.participant_id != user_id:
            raise ParticipationError("this task is not yours")
        if not a.practice:
            raise ParticipationError("answers are shown for practice items only")
        if a.state != "done":
            raise ParticipationError("submit your answer first")
        item, gold = s.get(Item, a.item_id), s.get(ItemGold, a.item_id)
        if gold is None:
            return PracticeFeedback("(this item has no recorded answer)", None)
        final = s.exec(select(Judgment.probabilities).where(Judgment.assignment_id == a.id,
                                                            Judgment.is_final == True)  # noqa: E712
                       .order_by(Judgment.id.desc())).first()
        mode = read_cache.row(s, Study, a.study_id).feedback
        rule = DIRECT_RULE
        if a.strategy_id is not None:  # a practice item under a strategy: scored by its rules, as its outcome is
            strategy = s.get(Strategy, a.strategy_id)
            rule = getattr(get_protocol(strategy.protocol).parse_rules(strategy.rules), "scoring", DIRECT_RULE)
        # Item order on both sides (stored judgments are in the item's order): no display order is needed.
        verdict = answer_feedback(mode=mode, probabilities=final, gold=gold.gold_index, rule=rule) if final else None
        return PracticeFeedback(item.options[gold.gold_index], gold.explanation, verdict)
