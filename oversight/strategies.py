"""Strategies: protocols as immutable, versioned data.

A strategy row is never updated. A change makes a child version that records its parent and why it was
made, so every transcript and judgment stays attributable to exactly the rules it ran under.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlmodel import select

from oversight.audit import log_event
from oversight.db import session_scope
from oversight.protocols.rules import Rules, RulesError
from storage.models import Strategy, Study

ROLES = ("debater", "consultant", "assistant", "judge", "feedback")
HUMAN_PROTOCOLS = ("debate", "consultancy", "direct-qa")  # what a participant can be dealt


class StrategyError(Exception):
    """A strategy that cannot be saved; the message is safe to show."""


def _validate(protocol: str, rules: dict[str, Any], model_roles: dict[str, str]) -> dict[str, Any]:
    """Check everything and return the complete rules (defaults filled in), so the stored version says it all."""
    try:
        parsed = Rules.from_dict(protocol, rules)
    except RulesError as exc:
        raise StrategyError(str(exc)) from None
    unknown = set(model_roles) - set(ROLES)
    if unknown:
        raise StrategyError(f"unknown model role(s) {sorted(unknown)}; roles are {', '.join(ROLES)}")
    return parsed.to_dict()


def create_strategy(*, study_id: int, name: str, protocol: str, rules: dict[str, Any] | None = None,
                    prompts: dict[str, str] | None = None, model_roles: dict[str, str] | None = None,
                    user_id: int | None = None, reason: str = "") -> Strategy:
    """Save version 1 of a new strategy in a study."""
    model_roles = model_roles or {}
    rules = _validate(protocol, rules or {}, model_roles)
    name = name.strip()
    if not name:
        raise StrategyError("a strategy needs a name")
    with session_scope() as s:
        if s.get(Study, study_id) is None:
            raise StrategyError(f"no study with id {study_id}")
        if s.exec(select(Strategy).where(Strategy.study_id == study_id, Strategy.name == name)).first():
            raise StrategyError(f"strategy {name!r} exists in this study; make a new version of it instead")
        row = Strategy(study_id=study_id, name=name, version=1, protocol=protocol, rules=rules,
                       prompts=prompts or {}, model_roles=model_roles, created_by=user_id,
                       reason=reason or "first version")
        s.add(row)
        s.flush()
        log_event(s, "strategy.create", user_id=user_id, study_id=study_id, strategy=row.id)
        return row


def new_version(*, parent_id: int, reason: str, user_id: int | None = None, **changes: Any) -> Strategy:
    """A child version of `parent_id` with `changes` (rules, prompts, model_roles, protocol) applied."""
    if not reason.strip():
        raise StrategyError("say why this version is made (the reason is part of the record)")
    allowed = {"rules", "prompts", "model_roles", "protocol"}
    if set(changes) - allowed:
        raise StrategyError(f"only {sorted(allowed)} can change between versions")
    with session_scope() as s:
        parent = s.get(Strategy, parent_id)
        if parent is None:
            raise StrategyError(f"no strategy with id {parent_id}")
        latest = s.exec(select(func.max(Strategy.version)).where(
            Strategy.study_id == parent.study_id, Strategy.name == parent.name)).one()
        fields = {k: changes.get(k, getattr(parent, k)) for k in allowed}
        fields["rules"] = _validate(fields["protocol"], fields["rules"], fields["model_roles"])
        row = Strategy(study_id=parent.study_id, name=parent.name, version=latest + 1, parent_id=parent.id,
                       reason=reason.strip(), created_by=user_id, **fields)
        s.add(row)
        s.flush()
        log_event(s, "strategy.version", user_id=user_id, study_id=parent.study_id, strategy=row.id,
                  parent=parent.id)
        return row


def list_strategies(*, study_id: int) -> list[Strategy]:
    with session_scope(write=False) as s:
        return list(s.exec(select(Strategy).where(Strategy.study_id == study_id)
                           .order_by(Strategy.name, Strategy.version)).all())


def get_strategy(strategy_id: int) -> Strategy | None:
    with session_scope(write=False) as s:
        return s.get(Strategy, strategy_id)


def set_arms(*, study_id: int, strategy_ids: list[int], user_id: int | None = None) -> None:
    """Choose the strategy versions participants are dealt (in rotation). Empty: plain direct QA."""
    with session_scope() as s:
        study = s.get(Study, study_id)
        if study is None:
            raise StrategyError(f"no study with id {study_id}")
        for sid in strategy_ids:
            row = s.get(Strategy, sid)
            if row is None or row.study_id != study_id:
                raise StrategyError(f"strategy {sid} is not in this study")
            if row.protocol not in HUMAN_PROTOCOLS:
                raise StrategyError(f"{row.name} v{row.version} ({row.protocol}) has no human judge")
        study.arms = list(strategy_ids)
        log_event(s, "study.arms", user_id=user_id, study_id=study_id, arms=list(strategy_ids))
