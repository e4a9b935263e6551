"""The conditions of a sandwiching study: non-expert alone, model alone, non-expert + model under a strategy
version, and experts. Which strategy a kind accepts is decided by protocol properties from the registry (who
can be dealt it, whether a model writes turns), never by protocol names. Every change is in the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, case, func
from sqlmodel import select

from oversight.audit import log_event
from oversight.db import session_scope
from oversight.sandwiching.dealing import block_size
from oversight.study.places import places
from oversight.study.archive import refuse_if_archived
from oversight.results.results_filter import SUPERSEDED, people_left_out, result_assignment
from oversight.vocab import SIMULATED
from oversight.protocols.base import Protocol
from oversight.protocols.registry import get_protocol
from storage.models import Assignment, Condition, ItemGold, Strategy, Study, Transcript
from storage.vocabulary import CONDITION_KINDS as KINDS

# Conditions dealt to non-expert participants by the balanced design (oversight.sandwiching.dealing).
DEALT_KINDS = ("alone", "assisted")
KIND_LABELS = {"alone": "Non-expert alone", "model": "Model alone", "assisted": "Non-expert + model",
               "expert": "Experts"}
# The kind inside a sentence ("cannot be an expert condition"): the labels are plural or capitalised for tables.
KIND_IN_TEXT = {"alone": "a non-expert alone", "model": "a model-alone", "assisted": "a non-expert + model",
                "expert": "an expert"}


class ConditionError(Exception):
    """A condition that cannot be saved or removed; the message is safe to show."""


def has_model_turns(protocol: Protocol) -> bool:
    """A model speaks to the judge (debaters, a consultant, an assistant): any model role besides the judge."""
    return any(role != "judge" for role in protocol.model_roles)


def _check_strategy(kind: str, strategy: Strategy | None) -> None:
    if strategy is None:
        if kind == "assisted":
            raise ConditionError("a non-expert + model condition needs a strategy version (assisted QA, debate or "
                                 "consultancy)")
        if kind == "model":
            raise ConditionError("a model-alone condition needs a model-alone strategy version")
        return
    p = get_protocol(strategy.protocol)
    name = f"{strategy.name} v{strategy.version} ({p.label})"
    if kind == "assisted" and not (p.human and has_model_turns(p)):
        raise ConditionError(f"{name} cannot be a non-expert + model condition: it needs a protocol with a "
                             "human judge and model turns (assisted QA, debate, consultancy)")
    if kind == "model" and p.human:
        raise ConditionError(f"{name} cannot be a model-alone condition: people are dealt it; choose a "
                             "model-alone strategy")
    # People answering on their own: direct QA, or another protocol without model turns (preference labels).
    if kind in ("alone", "expert") and not (p.human and not has_model_turns(p)):
        raise ConditionError(f"{name} cannot be {KIND_IN_TEXT[kind]} condition: people answer on their "
                             "own there (direct QA; no model turns)")


def strategy_fits(kind: str, strategy: Strategy | None) -> bool:
    """Whether a condition of `kind` may point at `strategy` (None: direct QA), by the same rule `add_condition`
    enforces, so a form can offer only the versions it would accept."""
    try:
        _check_strategy(kind, strategy)
    except ConditionError:
        return False
    return True


def _strategy(s, study_id: int, strategy_id: int | None) -> Strategy | None:
    if strategy_id is None:
        return None
    row = s.get(Strategy, strategy_id)
    if row is None or row.study_id != study_id:
        raise ConditionError(f"strategy {strategy_id} is not in this study")
    return row


def add_condition(*, study_id: int, kind: str, name: str = "", strategy_id: int | None = None,
                  user_id: int | None = None) -> Condition:
    if kind not in KINDS:
        raise ConditionError(f"kind must be one of {', '.join(KINDS)}")
    with session_scope() as s:
        if s.get(Study, study_id) is None:
            raise ConditionError(f"no study with id {study_id}")
        refuse_if_archived(s, study_id)
        strategy = _strategy(s, study_id, strategy_id)
        _check_strategy(kind, strategy)
        if kind == "expert" and s.exec(select(Condition.id).where(Condition.study_id == study_id,
                                                                  Condition.kind == "expert")).first():
            raise ConditionError("this study has an expert condition already")
        name = (name or "").strip() or (f"{KIND_LABELS[kind]}: {strategy.name} v{strategy.version}"
                                        if strategy is not None and kind == "assisted" else KIND_LABELS[kind])
        if s.exec(select(Condition.id).where(Condition.study_id == study_id, Condition.name == name)).first():
            raise ConditionError(f"a condition named {name!r} exists in this study")
        position = s.exec(select(func.coalesce(func.max(Condition.position), -1))
                          .where(Condition.study_id == study_id)).one() + 1
        row = Condition(study_id=study_id, name=name, kind=kind, strategy_id=strategy_id, position=position)
        s.add(row)
        s.flush()
        log_event(s, "condition.add", user_id=user_id, study_id=study_id, condition=row.id, condition_kind=kind,
                  name=name, strategy=strategy_id)
        return row


def list_conditions(*, study_id: int) -> list[Condition]:
    with session_scope(write=False) as s:
        return list(s.exec(select(Condition).where(Condition.study_id == study_id)
                           .order_by(Condition.position, Condition.id)).all())


def _own(s, condition_id: int) -> Condition:
    """The condition, for a change: an archived study's conditions are read-only."""
    row = s.get(Condition, condition_id)
    if row is None:
        raise ConditionError(f"no condition with id {condition_id}")
    refuse_if_archived(s, row.study_id)
    return row


def rename_condition(*, condition_id: int, name: str, user_id: int | None = None) -> None:
    name = (name or "").strip()
    if not name:
        raise ConditionError("a condition needs a name")
    with session_scope() as s:
        row = _own(s, condition_id)
        if s.exec(select(Condition.id).where(Condition.study_id == row.study_id, Condition.name == name,
                                             Condition.id != row.id)).first():
            raise ConditionError(f"a condition named {name!r} exists in this study")
        log_event(s, "condition.rename", user_id=user_id, study_id=row.study_id, condition=row.id,
                  old=row.name, new=name)
        row.name = name


def repoint_condition(*, condition_id: int, strategy_id: int | None, user_id: int | None = None) -> None:
    """Point a condition at another strategy version (e.g. the promoted one); dealt assignments keep theirs."""
    with session_scope() as s:
        row = _own(s, condition_id)
        _check_strategy(row.kind, _strategy(s, row.study_id, strategy_id))
        log_event(s, "condition.repoint", user_id=user_id, study_id=row.study_id, condition=row.id,
                  old=row.strategy_id, new=strategy_id)
        row.strategy_id = strategy_id


def remove_condition(*, condition_id: int, user_id: int | None = None) -> None:
    """Remove a condition while no assignment uses it (results must stay attributable)."""
    with session_scope() as s:
        row = _own(s, condition_id)
        used = s.exec(select(func.count()).select_from(Assignment)
                      .where(Assignment.condition_id == row.id)).one()
        if used:
            raise ConditionError(f"{row.name!r} has {used} assignment(s); a condition in use cannot be removed")
        log_event(s, "condition.remove", user_id=user_id, study_id=row.study_id, condition=row.id, name=row.name)
        s.delete(row)


@dataclass(frozen=True)
class ConditionCount:
    id: int
    name: str
    kind: str
    strategy_id: int | None
    assignments: int  # real tasks dealt under it (practice and catch excluded), to anyone
    done: int  # of them, answered
    items: int  # distinct items dealt under it (practice excluded)
    practice: int
    results: int = 0  # answered real tasks that are results (not by someone left out: excluded, preview, simulated)


def design_summary(*, study_id: int) -> list[ConditionCount]:
    """The design at a glance: each condition with how many tasks and items it has so far, and how many of its
    answers are results (oversight.results.results_filter)."""
    with session_scope(write=False) as s:
        conds = s.exec(select(Condition).where(Condition.study_id == study_id)
                       .order_by(Condition.position, Condition.id)).all()
        left_out = people_left_out(s, study_id)
        answered = Assignment.state == "done"
        rows = s.exec(select(Assignment.condition_id, Assignment.practice, func.count(),
                             func.sum(case((answered, 1), else_=0)),
                             func.count(func.distinct(Assignment.item_id)),
                             func.sum(case((and_(answered, result_assignment(left_out)), 1), else_=0)))
                      .where(Assignment.study_id == study_id, Assignment.catch.is_(False))
                      .group_by(Assignment.condition_id, Assignment.practice)).all()
        model_runs = _model_alone_counts(s, study_id, [c for c in conds if c.kind == "model"])
    real = {cid: (n, int(done or 0), items) for cid, practice, n, done, items, _ in rows if not practice}
    results = {cid: int(r or 0) for cid, practice, _, _, _, r in rows if not practice}
    # A model-alone condition deals no assignment: its counters are its AI run's transcripts (every finished one
    # is a result, as in oversight.sandwiching.analysis).
    for cid, (n, done, items) in model_runs.items():
        real[cid], results[cid] = (n, done, items), done
    practice = {cid: n for cid, is_practice, n, _, _, _ in rows if is_practice}
    return [ConditionCount(c.id, c.name, c.kind, c.strategy_id, *real.get(c.id, (0, 0, 0)), practice.get(c.id, 0),
                           results.get(c.id, 0))
            for c in conds]


def _model_alone_counts(s, study_id: int, conds: list[Condition]) -> dict[int, tuple[int, int, int]]:
    """Per model-alone condition: (transcripts of its strategy's current AI runs, of them finished, distinct
    items). Superseded runs (a re-run replaced them) do not count. A transcript of the study with a strategy and
    no assignment is an AI run (oversight.protocols.batch; imported ones have no strategy)."""
    by_strategy = {c.strategy_id for c in conds if c.strategy_id is not None}
    if not by_strategy:
        return {}
    rows = s.exec(select(Transcript.strategy_id, Transcript.item_id, Transcript.status)
                  .where(Transcript.of_study(study_id), Transcript.strategy_id.in_(by_strategy),
                         Transcript.assignment_id.is_(None), Transcript.status != SUPERSEDED)).all()
    out = {}
    for c in conds:
        mine = [(item, status) for sid, item, status in rows if sid == c.strategy_id]
        out[c.id] = (len(mine), sum(status == "complete" for _, status in mine), len({i for i, _ in mine}))
    return out


def _answered_results(s, study_id: int):
    """Answered real tasks under the conditions dealt to people, whose answers are results."""
    return (Assignment.study_id == study_id, Assignment.state == "done",
            result_assignment(people_left_out(s, study_id)), Condition.kind.in_(DEALT_KINDS))


def balance(*, study_id: int) -> dict[int, dict[int, int]]:
    """ANSWERED real assignments per item and condition dealt to people, counting only answers that are results
    (oversight.results.results_filter: not practice, catch, excluded, preview, or simulated outside a dry run):
    {item_id: {condition_id: n}}. Balanced when each item's counts are equal across those conditions, which the
    design guarantees for the people who complete a block (see `balance_check`)."""
    with session_scope(write=False) as s:
        rows = s.exec(select(Assignment.item_id, Assignment.condition_id, func.count())
                      .join(Condition, Condition.id == Assignment.condition_id)
                      .where(*_answered_results(s, study_id))
                      .group_by(Assignment.item_id, Assignment.condition_id)).all()
    out: dict[int, dict[int, int]] = {}
    for item_id, cid, n in rows:
        out.setdefault(item_id, {})[cid] = n
    return out


def model_condition_strategy(*, condition_id: int) -> tuple[int, int]:
    """(study id, strategy version id) of a model-alone condition, for its batch run."""
    with session_scope(write=False) as s:
        row = _own(s, condition_id)
        if row.kind != "model" or row.strategy_id is None:
            raise ConditionError(f"{row.name!r} is not a model-alone condition with a strategy")
        return row.study_id, row.strategy_id


# Model roles that do not help the judge: the judge itself, and the AI participant's question writer.
_NOT_ASSISTING = ("judge", "questioner")


def _role_model(strategy: Strategy, role: str) -> str:
    """The model a strategy names for a role, else the configured default for it (the model registry's name;
    nothing is loaded)."""
    from oversight.models.registry import get_config

    return strategy.model_roles.get(role) or get_config().for_role(role).name


@dataclass(frozen=True)
class ModelAlonePlan:
    """What a model-alone run answers and with which inputs: exactly the real items people are dealt (no practice,
    no catch, nothing the design cannot deal), with the source only where the assisting model reads it."""
    study_id: int
    strategy_id: int
    items: list[int]
    sees_source: bool
    model: str  # the model-alone judge
    assisting: list[str]  # the assisting models of the non-expert + model conditions
    warnings: list[str]


def _assistant_sees_source(rules) -> bool:
    """Whether the model that helps the judge reads the source: debaters and consultants always do; under assisted
    QA the rules say (`assistant_sees_source`)."""
    return bool(getattr(rules, "assistant_sees_source", True))


def model_alone_plan(*, condition_id: int) -> ModelAlonePlan:
    """The model-alone run of a condition: on the participants' design pool (oversight.study.eligibility), with the
    assisted conditions' inputs, by the model its strategy names; warnings when that is not the assisting model."""
    from oversight.study.eligibility import condition_protocol, design_pool

    study_id, strategy_id = model_condition_strategy(condition_id=condition_id)
    with session_scope(write=False) as s:
        conds = list(s.exec(select(Condition).where(Condition.study_id == study_id)
                            .order_by(Condition.position, Condition.id)).all())
        people = [c for c in conds if c.kind in DEALT_KINDS] or [None]
        model_condition = next(c for c in conds if c.id == condition_id)
        dealt = {i.id for i in design_pool(s, study_id, people).real}
        own = design_pool(s, study_id, [model_condition])
        # Scored against gold: a dealt item without one gives people's answers no score either.
        gold = set(s.exec(select(ItemGold.item_id).where(ItemGold.item_id.in_(dealt))).all()) if dealt else set()
        items = [i.id for i in own.real if i.id in dealt and i.id in gold]
        strategy = s.get(Strategy, strategy_id)
        model = _role_model(strategy, "judge")
        assisted = [c for c in conds if c.kind == "assisted" and c.strategy_id is not None]
        sees_source, assisting, warnings = True, [], []
        for c in assisted:
            protocol, rules = condition_protocol(s, c)
            helper = s.get(Strategy, c.strategy_id)
            assisting += [_role_model(helper, r) for r in protocol.model_roles if r not in _NOT_ASSISTING]
            sees_source = sees_source and _assistant_sees_source(rules)
    assisting = list(dict.fromkeys(assisting))
    if not assisted:
        warnings.append("the study has no non-expert + model condition to compare this model with")
    elif model not in assisting:
        warnings.append(f"the model alone is {model!r}, not the assisting model of the non-expert + model "
                        f"condition(s) ({', '.join(assisting)}): the sandwich compares different models")
    if not sees_source:
        warnings.append("the assistant does not read the source, so the model alone answers without it too")
    if not items:
        warnings.append("there is no item to run: the model alone answers the real items people are dealt")
    return ModelAlonePlan(study_id, strategy_id, items, sees_source, model, assisting, warnings)


def run_model_condition(*, condition_id: int, user_id: int | None = None, limit: int | None = None) -> int:
    """Enqueue the AI-only batch run of a model-alone condition's strategy over the items people are dealt (see
    `model_alone_plan`, computed again when the job runs); returns the job id (poll it with
    oversight.jobs.get_job). A re-run replaces the earlier run's results item by item (one result per item and
    version). The AI judgments (judge_kind "ai") are attributed to the condition's strategy version."""
    from oversight.jobs import enqueue

    plan = model_alone_plan(condition_id=condition_id)
    if not plan.items:
        raise ConditionError("there is no item to run: the model alone answers the real items people are dealt "
                             "(see the launch check on Study settings)")
    with session_scope() as s:
        log_event(s, "condition.run", user_id=user_id, study_id=plan.study_id, condition=condition_id,
                  strategy=plan.strategy_id, items=len(plan.items), sees_source=plan.sees_source, model=plan.model)
    return enqueue(kind="batch", study_id=plan.study_id, user_id=user_id,
                   params={"strategy_id": plan.strategy_id, "limit": limit or 0, "condition_id": condition_id})


@dataclass(frozen=True)
class BalanceCheck:
    items: int  # items answered (for real, as results) under the conditions dealt to people
    balanced: int  # of them, those answered equally often under every such condition
    simulated: int  # simulated people whose answers count (only in a dry run: elsewhere they are left out)
    blocks: int = 0  # complete blocks: every place of the block held by someone who answered all their real tasks
    block_size: int = 1  # places per block (the Williams rows, or one per condition in a between design)
    answered: int = 0  # answered real tasks counted
    block_items: int = 0  # items answered within the complete blocks (by the people completing their places)
    block_balanced: int = 0  # of them, answered equally often under every condition (the design's promise)


def _place_completers(s, study_id: int) -> dict[int, int]:
    """Each place's first holder whose answers are results and who answered every real task they were dealt
    (oversight.study.places); places nobody completed are absent."""
    left_out = people_left_out(s, study_id)
    held = places(s, study_id, "participant")
    if not held:
        return {}
    rows = s.exec(select(Assignment.participant_id, func.count(),
                         func.sum(case((Assignment.state == "done", 1), else_=0)))
                  .where(Assignment.study_id == study_id, Assignment.participant_id.in_([p.user_id for p in held]),
                         result_assignment(left_out))
                  .group_by(Assignment.participant_id)).all()
    done = {uid for uid, n, answered in rows if n and int(answered or 0) == n}
    out: dict[int, int] = {}
    for p in held:
        if p.user_id in done:
            out.setdefault(p.slot, p.user_id)
    return out


def complete_blocks(s, study_id: int, size: int) -> dict[int, list[int]]:
    """The complete blocks of `size` places: block number -> the people completing its places (each place's
    first holder whose answers are results and who answered every real task)."""
    completers = _place_completers(s, study_id)
    top = max(completers, default=-1)
    return {b: [completers[b * size + j] for j in range(size)] for b in range(top // size + 1)
            if all(b * size + j in completers for j in range(size))}


def _even(counts: dict[int, dict[int, int]], dealt: list[int]) -> int:
    return sum(1 for per in counts.values() if len({per.get(c, 0) for c in dealt}) == 1)


def balance_check(*, study_id: int) -> BalanceCheck:
    """How far the answered tasks are balanced, counting answers that are results: over all of them, and within
    the complete blocks, where the design puts every item equally often under each condition. Answers of people
    who left partway (they still count) and of a block still filling leave some items uneven overall."""
    from storage.models import User

    dealt = [c.id for c in list_conditions(study_id=study_id) if c.kind in DEALT_KINDS]
    counts = balance(study_id=study_id)
    with session_scope(write=False) as s:
        study = s.get(Study, study_id)
        size = block_size(max(len(dealt), 1), study.design if study else "within")
        blocks = complete_blocks(s, study_id, size)
        in_blocks: dict[int, dict[int, int]] = {}
        people = [u for members in blocks.values() for u in members]
        if people:
            for item_id, cid, n in s.exec(
                    select(Assignment.item_id, Assignment.condition_id, func.count())
                    .join(Condition, Condition.id == Assignment.condition_id)
                    .where(*_answered_results(s, study_id), Assignment.participant_id.in_(people))
                    .group_by(Assignment.item_id, Assignment.condition_id)).all():
                in_blocks.setdefault(item_id, {})[cid] = n
        counted = select(Assignment.participant_id).join(Condition, Condition.id == Assignment.condition_id) \
            .where(*_answered_results(s, study_id)).distinct()
        simulated = s.exec(select(func.count()).select_from(User).where(
            User.external_study_id == SIMULATED, User.id.in_(counted))).one()
    return BalanceCheck(len(counts), _even(counts, dealt), simulated, len(blocks), size,
                        sum(sum(per.values()) for per in counts.values()), len(in_blocks), _even(in_blocks, dealt))
