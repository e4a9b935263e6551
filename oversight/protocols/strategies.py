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


# --- rules as people read them ----------------------------------------------------------------------------------------
# One table of rule metadata: each Rules field's `metadata` (oversight.protocols.base.rule) gives its label and unit;
# these functions only read it, so the Strategies form, the version view and the diff say the same words.
UNITS = {"s": "seconds"}


@dataclass(frozen=True)
class RuleRow:
    name: str  # the stored key, e.g. "turn_time_limit_s"
    label: str  # what the form calls it, with its unit, e.g. "Guide time per judgment (seconds)"
    value: str  # formatted: Yes/No, "none", "300 seconds (5 min)", the whole text


def rule_label(meta: dict[str, Any], name: str) -> str:
    """A rule's label with its unit, e.g. "Total time (seconds)"."""
    unit = meta.get("unit")
    label = meta.get("label", name.replace("_", " "))
    return f"{label} ({UNITS.get(unit, unit)})" if unit else label


def format_rule(meta: dict[str, Any], value: Any) -> str:
    """A rule's value as people read it: Yes/No, "none" for an unset optional limit, seconds with minutes, numbers
    without trailing zeros, text whole ("(empty)" when blank)."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, (int, float)):
        shown = f"{value:g}" if isinstance(value, float) else str(value)
        if meta.get("unit") == "s":
            minutes = f" ({value / 60:g} min)" if value >= 60 and value % 60 == 0 else ""
            return f"{shown} seconds{minutes}"
        return f"{shown} {meta['unit']}" if meta.get("unit") else shown
    text = str(value)
    return text if text.strip() else "(empty)"


def _metas(protocol: str) -> dict[str, dict[str, Any]]:
    from dataclasses import fields

    return {f.name: dict(f.metadata) for f in fields(get_protocol(protocol).rules_class)}


def field_meta(protocol: str, name: str) -> dict[str, Any]:
    """One rule's metadata in a protocol (empty for a name it does not know)."""
    return _metas(protocol).get(name, {})


def rule_rows(protocol: str, rules: dict[str, Any]) -> list[RuleRow]:
    """A version's rules in its protocol's order, labelled and formatted (a stored key the protocol no longer
    knows is shown by its name, never dropped)."""
    metas = _metas(protocol)
    ordered = [k for k in metas if k in rules] + [k for k in rules if k not in metas]
    return [RuleRow(k, rule_label(metas.get(k, {}), k), format_rule(metas.get(k, {}), rules[k])) for k in ordered]


@dataclass(frozen=True)
class ShownChange:
    what: str  # "Rule: Total time (seconds)", "Prompt for the assistant: system prompt", "Model for the judge"
    before: str  # whole, never cut
    after: str


_PROMPT_PARTS = {"system": "system prompt", "template": "user message template"}


def shown_changes(parent: Strategy | None, child: Strategy) -> list[ShownChange]:
    """`diff` in words: each changed field named by its label and both values whole and formatted."""
    metas = _metas(child.protocol)
    out = []
    for c in diff(parent, child):
        head, _, rest = c.field.partition(".")
        if head == "rules":
            meta = metas.get(rest, {})
            out.append(ShownChange(f"Rule: {rule_label(meta, rest)}", format_rule(meta, c.old),
                                   format_rule(meta, c.new)))
        elif head == "prompts":
            role, _, part = rest.partition(".")
            out.append(ShownChange(f"Prompt for the {role}: {_PROMPT_PARTS.get(part, part)}",
                                   "" if c.old is None else str(c.old), "" if c.new is None else str(c.new)))
        elif head == "model_roles":
            out.append(ShownChange(f"Model for the {rest}", c.old or "the default", c.new or "the default"))
        else:
            out.append(ShownChange(c.field.capitalize(), str(c.old), str(c.new)))
    return out
