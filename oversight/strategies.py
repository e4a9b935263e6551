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
from storage.models import Strategy, Study

PROTOCOLS = ("debate", "consultancy", "direct-qa", "model-alone", "assisted-qa")
ROLES = ("debater", "consultant", "assistant", "judge", "feedback")


class StrategyError(Exception):
    """A strategy that cannot be saved; the message is safe to show."""


def _validate(protocol: str, model_roles: dict[str, str]) -> None:
    if protocol not in PROTOCOLS:
        raise StrategyError(f"protocol must be one of {', '.join(PROTOCOLS)}, not {protocol!r}")
    unknown = set(model_roles) - set(ROLES)
    if unknown:
        raise StrategyError(f"unknown model role(s) {sorted(unknown)}; roles are {', '.join(ROLES)}")


def create_strategy(*, study_id: int, name: str, protocol: str, rules: dict[str, Any] | None = None,
                    prompts: dict[str, str] | None = None, model_roles: dict[str, str] | None = None,
                    user_id: int | None = None, reason: str = "") -> Strategy:
    """Save version 1 of a new strategy in a study."""
    model_roles = model_roles or {}
    _validate(protocol, model_roles)
    name = name.strip()
    if not name:
        raise StrategyError("a strategy needs a name")
    with session_scope() as s:
        if s.get(Study, study_id) is None:
            raise StrategyError(f"no study with id {study_id}")
        if s.exec(select(Strategy).where(Strategy.study_id == study_id, Strategy.name == name)).first():
            raise StrategyError(f"strategy {name!r} exists in this study; make a new version of it instead")
        row = Strategy(study_id=study_id, name=name, version=1, protocol=protocol, rules=rules or {},
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
        _validate(fields["protocol"], fields["model_roles"])
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
