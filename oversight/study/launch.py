"""Launching a study: the check that runs before a draft opens, opening it, and staff previews.

A study starts as a draft: nobody is dealt anything and nothing is stored for participants or enrolment links
until it opens. Opening runs `check_study` first and refuses while a condition dealt to people (or the design as
a whole) can deal no item, so nobody consents to a study that then shows "There are no tasks for you yet".

Preview: a staff member (admin or expert) takes any study, draft included, as a participant of their own
(`User.preview_by`). Their answers are stored like anyone's, so the pages behave as for a participant, but they are
no result (oversight.results.results_filter) and are never paid (oversight.study.payments).
"""

from __future__ import annotations

import secrets
from collections import Counter
from dataclasses import asdict, dataclass, field

from sqlmodel import Session, select

from oversight.audit import log_event
from oversight.access.auth import hash_token, new_token, participant_link
from oversight.sandwiching.conditions import DEALT_KINDS, KIND_LABELS
from oversight.db import session_scope
from oversight.study.eligibility import PRACTICE, condition_protocol, design_pool
from oversight.study.studies import StudyError
from oversight.study.archive import refuse_if_archived
from storage.models import Condition, Item, Rubric, Study, User

STAFF = ("admin", "expert")


@dataclass(frozen=True)
class ConditionCheck:
    id: int | None  # None: no condition (plain direct QA)
    name: str
    kind: str  # alone | assisted | expert | model
    protocol: str
    dealt_to: str  # participants | experts | nobody (model alone: an AI run over the participants' items)
    items: int  # real items it can run on by itself
    refused: dict[str, int] = field(default_factory=dict)  # reason -> number of items it cannot run on


@dataclass(frozen=True)
class LaunchCheck:
    study_id: int
    status: str
    items: int  # all the study's items, whatever their split
    conditions: list[ConditionCheck]
    design_items: int  # real items dealt to participants: every participant condition can run on them
    expert_items: int  # real items dealt to experts
    items_per_participant: int | None  # None: every item
    practice_requested: int
    practice_available: int  # items whose split is "practice" that every condition can run on (0: first sources)
    catch_requested: int
    catch_available: int  # catch items with a gold answer
    catch_without_gold: int  # catch items without one: never dealt
    rubric: str  # what experts rate
    pay: str
    problems: list[str] = field(default_factory=list)  # each one refuses opening
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return asdict(self) | {"ok": self.ok}


class LaunchRefused(StudyError):
    """Opening was refused; `check` says why."""

    def __init__(self, check: LaunchCheck):
        super().__init__("the study cannot open: " + "; ".join(check.problems))
        self.check = check


def _condition_check(s: Session, study_id: int, c: Condition | None, dealt_to: str,
                     practice_ids: set[int]) -> ConditionCheck:
    """How many real items one condition can run on by itself, and why it cannot run on the others."""
    protocol, _ = condition_protocol(s, c)
    pool = design_pool(s, study_id, [c])
    key = c.id if c else None
    reasons = Counter(why[key] for item_id, why in pool.refused.items() if item_id not in practice_ids)
    kind = c.kind if c else ("expert" if dealt_to == "experts" else "alone")
    name = c.name if c else f"{KIND_LABELS[kind]}: direct QA (no condition)"
    return ConditionCheck(key, name, kind, protocol.label, dealt_to, len(pool.real), dict(reasons))


def _rubric(s: Session, study_id: int) -> str:
    row = s.exec(select(Rubric).where(Rubric.study_id == study_id).order_by(Rubric.version.desc())).first()
    if row is None:
        return "default rubric (version 1 is created at the first review)"
    return f"rubric version {row.version}: {len(row.fields)} field(s)"


def _check(s: Session, study: Study) -> LaunchCheck:
    from oversight.study.payments import describe_pay

    sid = study.id
    conds = list(s.exec(select(Condition).where(Condition.study_id == sid)
                        .order_by(Condition.position, Condition.id)).all())
    items = list(s.exec(select(Item.id, Item.split).where(Item.of_study(sid))).all())
    practice_ids = {i for i, split in items if split == PRACTICE}
    people = [c for c in conds if c.kind in DEALT_KINDS] or [None]
    experts = [c for c in conds if c.kind == "expert"] or [None]
    rows = [_condition_check(s, sid, c, "participants", practice_ids) for c in people]
    rows += [_condition_check(s, sid, c, "experts", practice_ids) for c in experts]
    pool = design_pool(s, sid, people)
    expert_pool = design_pool(s, sid, experts)
    design = {i.id for i in pool.real}
    for c in (c for c in conds if c.kind == "model"):
        # The model-alone run answers the items people are dealt (oversight.sandwiching.conditions.model_alone_plan).
        model = design_pool(s, sid, [c])
        runs = [i.id for i in model.real if i.id in design]
        reasons = Counter(model.refused[i][c.id] for i in design if i in model.refused)
        rows.append(ConditionCheck(c.id, c.name, c.kind, condition_protocol(s, c)[0].label, "nobody", len(runs),
                                   dict(reasons)))
    catch_all = sum(1 for _, split in items if split == "catch")
    check = LaunchCheck(
        study_id=sid, status=study.status, items=len(items), conditions=rows, design_items=len(pool.real),
        expert_items=len(expert_pool.real), items_per_participant=study.items_per_participant,
        practice_requested=study.practice_items, practice_available=len(pool.practice),
        catch_requested=study.catch_items, catch_available=len(pool.catch),
        catch_without_gold=catch_all - len(pool.catch), rubric=_rubric(s, sid), pay=describe_pay(study))
    _judge(check)
    return check


def _why(refused: dict[str, int]) -> str:
    return "; ".join(f"{n} item(s): {reason}" for reason, n in sorted(refused.items(), key=lambda kv: -kv[1]))


def _judge(check: LaunchCheck) -> None:
    """Fill in what refuses opening (problems) and what the researcher should know (warnings)."""
    problems, warnings = check.problems, check.warnings
    if not check.items:
        problems.append("the study has no items: import some on the Items page")
    for c in check.conditions:
        label = f"{KIND_LABELS.get(c.kind, c.kind)} condition {c.name!r} ({c.protocol})"
        if c.dealt_to != "nobody" and check.items and not c.items:
            problems.append(f"{label} can deal no item" + (f" ({_why(c.refused)})" if c.refused else ""))
        elif c.dealt_to == "nobody" and check.design_items and not c.items:
            warnings.append(f"{label}: the model-alone run has no item to answer ({_why(c.refused)})")
    dealt = [c for c in check.conditions if c.dealt_to == "participants"]
    if check.items and all(c.items for c in dealt) and not check.design_items:
        problems.append("no item can run under every participant condition at once, so the design deals nothing: "
                        + "; ".join(f"{c.name}: {_why(c.refused)}" for c in dealt if c.refused))
    if check.design_items and any(c.refused for c in dealt):
        refused = sum(sum(c.refused.values()) for c in dealt)
        warnings.append(f"only {check.design_items} real item(s) are dealt: items some participant condition cannot "
                        f"run on are left out of the design ({refused} refusal(s) listed per condition)")
    n = check.items_per_participant
    if n is not None and check.design_items and n > check.design_items:
        warnings.append(f"{n} items per participant are asked for, but the design has {check.design_items}: each "
                        f"participant gets {check.design_items}")
    if check.practice_requested and check.practice_available and check.practice_available < check.practice_requested:
        warnings.append(f"{check.practice_requested} practice items are asked for but only "
                        f"{check.practice_available} practice item(s) are there")
    if check.catch_requested and not check.catch_available:
        warnings.append("catch items are asked for, but the study has no catch item with a gold answer: no "
                        "attention check is dealt")
    if check.catch_without_gold:
        warnings.append(f"{check.catch_without_gold} catch item(s) have no gold answer and are never dealt")


def check_study(*, study_id: int) -> LaunchCheck:
    """The launch check (a read): per condition, how many items it can deal and why the others are refused;
    items per participant against what is available; practice and catch items; rubric; pay."""
    with session_scope(write=False) as s:
        study = s.get(Study, study_id)
        if study is None:
            raise StudyError(f"no study with id {study_id}")
        return _check(s, study)


def open_study(*, study_id: int, user_id: int | None) -> LaunchCheck:
    """Open a draft (or reopen a closed) study after the launch check; raises LaunchRefused with the check when it
    finds a problem (nothing changes then)."""
    with session_scope() as s:
        study = s.get(Study, study_id)
        if study is None:
            raise StudyError(f"no study with id {study_id}")
        refuse_if_archived(s, study_id)
        check = _check(s, study)
        if not check.ok:
            raise LaunchRefused(check)
        if study.status != "open":
            log_event(s, "study.status", user_id=user_id, study_id=study_id, status="open", old=study.status)
            study.status = "open"
        return check


def set_study_status(*, study_id: int, status: str, user_id: int | None) -> None:
    """Close a study, or open (reopen) it: opening runs the launch check and raises
    LaunchRefused when the design deals nothing."""
    if status not in ("open", "closed"):
        raise StudyError("status must be open or closed")
    if status == "open":
        open_study(study_id=study_id, user_id=user_id)
        return
    with session_scope() as s:
        study = s.get(Study, study_id)
        if study is None:
            raise StudyError(f"no study with id {study_id}")
        refuse_if_archived(s, study_id)
        study.status = status
        log_event(s, "study.status", user_id=user_id, study_id=study_id, status=status)


def describe(check: LaunchCheck) -> str:
    """The check as text (the CLI prints it; the pages show the same facts as tables)."""
    lines = [f"study {check.study_id} ({check.status}): {check.items} item(s); the participants' design deals "
             f"{check.design_items} real item(s), experts {check.expert_items}"]
    for c in check.conditions:
        lines.append(f"  {c.name} [{c.kind}, {c.protocol}, dealt to {c.dealt_to}]: {c.items} item(s)"
                     + (f"; refused {_why(c.refused)}" if c.refused else ""))
    per = "every item" if check.items_per_participant is None else str(check.items_per_participant)
    lines.append(f"items per participant: {per} (available: {check.design_items})")
    lines.append(f"practice items: {check.practice_requested} asked, {check.practice_available} set aside as "
                 "practice" + ("" if check.practice_available else " (else the first sources are used)"))
    lines.append(f"catch items: {check.catch_requested} asked, {check.catch_available} with a gold answer"
                 + (f", {check.catch_without_gold} without (never dealt)" if check.catch_without_gold else ""))
    lines.append(f"rubric: {check.rubric}")
    lines.append(f"pay: {check.pay}")
    lines += [f"PROBLEM: {p}" for p in check.problems] + [f"warning: {w}" for w in check.warnings]
    lines.append("ready to open" if check.ok else "cannot open until the problems are fixed")
    return "\n".join(lines)


@dataclass(frozen=True)
class Preview:
    user_id: int
    name: str
    link: str  # shown once, like an invite's


def create_preview(*, study_id: int, staff_id: int) -> Preview:
    """A preview participant of `staff_id` in the study (draft included), with a personal link like an invite's
    (oversight.access.auth): open it in a new tab to take the study as a participant. Never a result, never paid."""
    token = new_token()
    with session_scope() as s:
        staff = s.get(User, staff_id)
        if staff is None or staff.role not in STAFF:
            raise StudyError("only admins and experts can preview a study")
        if s.get(Study, study_id) is None:
            raise StudyError(f"no study with id {study_id}")
        user = User(role="participant", name=f"Preview-{staff.name}-{secrets.token_hex(2)}", study_id=study_id,
                    token_hash=hash_token(token), preview_by=staff_id)
        s.add(user)
        s.flush()
        log_event(s, "preview.create", user_id=staff_id, study_id=study_id, participant=user.id)
        return Preview(user.id, user.name, participant_link(token))
