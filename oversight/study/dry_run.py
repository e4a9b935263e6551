"""Dry-run copies: a simulation never writes into a real study.

`copy_for_dry_run` copies a study's design into a new study marked `Study.dry_run_of` = the original: its settings,
its items with their gold answers (practice and catch items included), its strategies with every version (and the
outer loop's decisions, so Thompson sampling sees the same candidate versions), its conditions pointing at the
copied versions, and its rubric versions. No people, answers, transcripts or reviews are copied: the copy starts
empty and its simulated people are its results (`oversight.results.results_filter` counts simulated people in a dry run
only). The copy is open, so simulated participants can be dealt at once, and has no enrolment link, so no real
participant can join it.
"""

from __future__ import annotations

import copy

from sqlalchemy import func
from sqlmodel import select

from oversight.audit import log_event
from oversight.db import session_scope
from oversight.study.studies import StudyError
from storage.models import Condition, Item, ItemGold, Rubric, Strategy, Study, VersionDecision

# Study columns that belong to the original only: who it is, its state and its way in for real people.
_NOT_COPIED = {"id", "name", "status", "dry_run_of", "enrol_token_hash", "created_at", "created_by", "exported_at"}


class DryRunError(StudyError):
    """A dry run that cannot be made; the message is safe to show."""


def root_of(study: Study) -> int:
    """The real study a dry run (or a dry run of a dry run) copies."""
    return study.dry_run_of if study.dry_run_of is not None else study.id


def copy_for_dry_run(*, study_id: int, user_id: int | None = None, purpose: str = "Dry run") -> int:
    """Copy the study's design into a new dry-run study (see the module docstring); returns its id. One
    transaction: the copy lands whole or not at all, and the original is only read. `purpose` names the copy
    ("Dry run of …", "Cross-play of …")."""
    with session_scope() as s:
        original = s.get(Study, study_id)
        if original is None:
            raise DryRunError(f"no study with id {study_id}")
        root = s.get(Study, root_of(original))
        n = s.exec(select(func.count()).select_from(Study).where(Study.dry_run_of == root.id)).one() + 1
        fields = {k: copy.deepcopy(v) for k, v in original.model_dump().items() if k not in _NOT_COPIED}
        dry = Study(**fields, name=f"{purpose} of {root.name} ({n})", status="open", dry_run_of=root.id,
                     created_by=user_id)
        s.add(dry)
        s.flush()

        n_items, n_strategies = copy_design(s, study_id, dry.id)
        log_event(s, "study.dry_run", user_id=user_id, study_id=dry.id, copy_of=study_id, items=n_items,
                  strategies=n_strategies)
        return dry.id


def copy_design(s, from_id: int, to_id: int) -> tuple[int, int]:
    """Copy a study's design into another (new, empty) study in the session's transaction: its items with their
    gold answers, its strategies with every version (parents first) and the outer loop's decisions, its conditions
    pointing at the copied versions, and its rubric versions. Nothing of people, answers or reviews. Used by dry
    runs and by duplicating a study (oversight/study/lifecycle.py). Returns (items, strategy versions) copied."""
    items = s.exec(select(Item).where(Item.of_study(from_id)).order_by(Item.id)).all()
    gold = {g.item_id: g for g in s.exec(select(ItemGold).join(Item, Item.id == ItemGold.item_id)
                                         .where(Item.of_study(from_id))).all()}
    new_items = [Item(study_id=to_id, external_id=i.external_id, question=i.question, options=list(i.options),
                      source_title=i.source_title, source_text=i.source_text, tags=list(i.tags), split=i.split,
                      meta=dict(i.meta)) for i in items]
    s.add_all(new_items)
    s.flush()
    s.add_all([ItemGold(item_id=new.id, gold_index=gold[old.id].gold_index, explanation=gold[old.id].explanation)
               for old, new in zip(items, new_items) if old.id in gold])

    # Versions in id order, so a parent is always copied before its children.
    strategy_ids: dict[int, int] = {}
    for st in s.exec(select(Strategy).where(Strategy.study_id == from_id).order_by(Strategy.id)).all():
        new = Strategy(study_id=to_id, name=st.name, version=st.version,
                       parent_id=strategy_ids.get(st.parent_id), reason=st.reason, protocol=st.protocol,
                       rules=dict(st.rules), prompts=dict(st.prompts), model_roles=dict(st.model_roles),
                       created_by=st.created_by)
        s.add(new)
        s.flush()
        strategy_ids[st.id] = new.id
    for d in s.exec(select(VersionDecision).where(VersionDecision.study_id == from_id)
                    .order_by(VersionDecision.id)).all():
        if d.strategy_id in strategy_ids:
            s.add(VersionDecision(study_id=to_id, strategy_id=strategy_ids[d.strategy_id], decision=d.decision,
                                  rationale=d.rationale, user_id=d.user_id))
    for c in s.exec(select(Condition).where(Condition.study_id == from_id).order_by(Condition.id)).all():
        s.add(Condition(study_id=to_id, name=c.name, kind=c.kind, position=c.position,
                        strategy_id=strategy_ids.get(c.strategy_id) if c.strategy_id is not None else None))
    for r in s.exec(select(Rubric).where(Rubric.study_id == from_id).order_by(Rubric.version)).all():
        s.add(Rubric(study_id=to_id, version=r.version, fields=[dict(f) for f in r.fields], reason=r.reason,
                     created_by=r.created_by))
    return len(items), len(strategy_ids)
