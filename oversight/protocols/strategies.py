"""Strategies: protocols as immutable, versioned data.

A strategy row is never updated. A change makes a child version that records its parent and why it was
made, so every transcript and judgment stays attributable to exactly the rules it ran under.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

from oversight.audit import log_event
from oversight.db import session_scope
from oversight.study.archive import refuse_if_archived
from oversight.protocols.prompts import PromptError, complete_prompts
from oversight.protocols.base import RulesError
from oversight.protocols.registry import get_protocol
from storage.models import Strategy, Study


class StrategyError(Exception):
    """A strategy that cannot be saved; the message is safe to show."""


def _validate(protocol: str, rules: dict[str, Any], prompts: dict[str, dict[str, str]],
              model_roles: dict[str, str]) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
    """Check everything and return the complete rules and prompts (defaults filled in), so the stored version
    says it all."""
    try:
        p = get_protocol(protocol)
        parsed = p.parse_rules(rules)
        full_prompts = complete_prompts(p.model_roles, prompts)
    except (RulesError, PromptError) as exc:
        raise StrategyError(str(exc)) from None
    unknown = set(model_roles) - set(p.model_roles)
    if unknown:
        raise StrategyError(f"model role(s) {', '.join(sorted(unknown))} do not take part in {p.label}; "
                            f"its roles are {', '.join(p.model_roles)}")
    return parsed.to_dict(), full_prompts


def create_strategy(*, study_id: int, name: str, protocol: str, rules: dict[str, Any] | None = None,
                    prompts: dict[str, str] | None = None, model_roles: dict[str, str] | None = None,
                    user_id: int | None = None, reason: str = "") -> Strategy:
    """Save version 1 of a new strategy in a study."""
    model_roles = model_roles or {}
    rules, prompts = _validate(protocol, rules or {}, prompts or {}, model_roles)
    name = name.strip()
    if not name:
        raise StrategyError("a strategy needs a name")
    with session_scope() as s:
        if s.get(Study, study_id) is None:
            raise StrategyError(f"no study with id {study_id}")
        refuse_if_archived(s, study_id)
        if s.exec(select(Strategy).where(Strategy.study_id == study_id, Strategy.name == name)).first():
            raise StrategyError(f"strategy {name!r} exists in this study; make a new version of it instead")
        row = Strategy(study_id=study_id, name=name, version=1, protocol=protocol, rules=rules,
                       prompts=prompts, model_roles=model_roles, created_by=user_id,
                       reason=reason or "first version")
        s.add(row)
        s.flush()
        log_event(s, "strategy.create", user_id=user_id, study_id=study_id, strategy=row.id)
        return row


def new_version(*, parent_id: int, reason: str, user_id: int | None = None, **changes: Any) -> Strategy:
    """A child version of `parent_id` with `changes` (rules, prompts, model_roles, protocol) applied."""
    with session_scope() as s:
        return add_version(s, parent_id=parent_id, reason=reason, user_id=user_id, **changes)


def add_version(s: Session, *, parent_id: int, reason: str, user_id: int | None = None, same_allowed: bool = False,
                **changes: Any) -> Strategy:
    """`new_version` inside the caller's transaction, so that making a version and recording why (e.g. accepting a
    proposal) land together or not at all. `same_allowed`: a child equal to its parent is kept (a proposal whose
    change the admin still has to write)."""
    if not reason.strip():
        raise StrategyError("say why this version is made (the reason is part of the record)")
    allowed = {"rules", "prompts", "model_roles", "protocol"}
    if set(changes) - allowed:
        raise StrategyError(f"only {sorted(allowed)} can change between versions")
    parent = s.get(Strategy, parent_id)
    if parent is None:
        raise StrategyError(f"no strategy with id {parent_id}")
    refuse_if_archived(s, parent.study_id)
    latest = s.exec(select(func.max(Strategy.version)).where(
        Strategy.study_id == parent.study_id, Strategy.name == parent.name)).one()
    fields = {k: changes.get(k, getattr(parent, k)) for k in allowed}
    if fields["protocol"] != parent.protocol:  # the parent's rules and prompts belong to another protocol
        fields["rules"], fields["prompts"] = changes.get("rules", {}), changes.get("prompts", {})
    fields["rules"], fields["prompts"] = _validate(fields["protocol"], fields["rules"], fields["prompts"],
                                                   fields["model_roles"])
    if not same_allowed and all(fields[k] == getattr(parent, k) for k in allowed):
        raise StrategyError("nothing changed: a new version must differ from its parent")
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


@dataclass(frozen=True)
class Change:
    field: str  # e.g. "rules.rounds", "prompts.debater.system", "model_roles.judge", "protocol"
    old: Any
    new: Any


def diff(parent: Strategy | None, child: Strategy) -> list[Change]:
    """What a version changed from its parent, field by field (rules, prompts, model roles)."""
    if parent is None:
        return []
    changes = [Change("protocol", parent.protocol, child.protocol)] if parent.protocol != child.protocol else []

    def walk(prefix: str, old: dict, new: dict) -> None:
        for key in sorted(set(old) | set(new), key=str):
            a, b = old.get(key), new.get(key)
            if isinstance(a, dict) or isinstance(b, dict):
                walk(f"{prefix}.{key}", a if isinstance(a, dict) else {}, b if isinstance(b, dict) else {})
            elif a != b:
                changes.append(Change(f"{prefix}.{key}", a, b))

    for name in ("rules", "prompts", "model_roles"):
        walk(name, getattr(parent, name) or {}, getattr(child, name) or {})
    return changes
