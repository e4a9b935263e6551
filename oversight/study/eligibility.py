"""Which of a study's items its design can deal, and why the others are refused: one place for the participant
dealing (oversight.study.participation), the launch check and the model-alone run, so the three agree on "the items
people are dealt".

An item is in the design when every condition dealt to the group (participants: alone and assisted; experts: the
expert condition) can run on it (a debate needs two options, a consultancy a gold answer, ...); practice items
(split "practice") and catch items (split "catch", which also need a gold answer) are set aside, never real.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field

from sqlmodel import Session, select

from oversight.study.attention import CATCH
from oversight.results.results_filter import PRACTICE
from oversight.protocols.base import ItemFacts, Protocol
from oversight.protocols.direct_qa import PROTOCOL as DIRECT_QA
from oversight.protocols.registry import get_protocol
from storage.models import Condition, Item, ItemGold, Strategy



def condition_protocol(s: Session, condition: Condition | None) -> tuple[Protocol, object]:
    """A condition's protocol and parsed rules (no condition, or no strategy: plain direct QA)."""
    strategy = s.get(Strategy, condition.strategy_id) if condition and condition.strategy_id else None
    protocol = get_protocol(strategy.protocol) if strategy else DIRECT_QA
    return protocol, protocol.parse_rules(strategy.rules if strategy else {})


def refusals(item: Item, has_gold: bool, protocols: Mapping[Hashable, tuple[Protocol, object]]) -> dict[Hashable, str]:
    """Per key of `protocols` (a condition) that cannot run on the item: why."""
    facts = ItemFacts(len(item.options), bool(item.source_text), has_gold)
    out = {}
    for key, (protocol, rules) in protocols.items():
        reason = protocol.cannot_run(facts, rules)
        if reason is not None:
            out[key] = reason
    return out


@dataclass(frozen=True)
class DesignPool:
    real: list[Item]  # items dealt for real, in id order
    practice: list[int]  # items set aside for practice (split "practice") that every condition can run
    catch: list[int]  # attention-check items with a gold answer
    refused: dict[int, dict[Hashable, str]] = field(default_factory=dict)  # item id -> condition key -> reason
    practice_declared: int = 0  # items whose split is "practice", dealable or not

    @property
    def practice_items_cap(self) -> int | None:
        """How many practice items may be dealt at most: when the study declares practice items (split
        "practice"), only those, so a declared practice item a condition cannot run never turns a real item into
        practice; None when it declares none (whole sources are set aside instead)."""
        return len(self.practice) if self.practice_declared else None


def design_pool(s: Session, study_id: int, conditions: list[Condition | None],
                protocols: Mapping[Hashable, tuple[Protocol, object]] | None = None) -> DesignPool:
    """The study's items split into real, practice and catch for a group dealt `conditions`, with the refusals.
    `protocols`: each condition's `condition_protocol` by its id, when the caller has them already."""
    items = list(s.exec(select(Item).where(Item.of_study(study_id)).order_by(Item.id)).all())
    gold = set(s.exec(select(ItemGold.item_id).join(Item, Item.id == ItemGold.item_id)
                      .where(Item.of_study(study_id))).all())
    if protocols is None:
        protocols = {c.id if c else None: condition_protocol(s, c) for c in conditions}
    catch = [i.id for i in items if i.split == CATCH and i.id in gold]
    refused: dict[int, dict[Hashable, str]] = {}
    real, practice = [], []
    for item in items:
        if item.split == CATCH:
            continue
        why = refusals(item, item.id in gold, protocols)
        if why:
            refused[item.id] = why
        elif item.split == PRACTICE:
            practice.append(item.id)
        else:
            real.append(item)
    declared = sum(1 for i in items if i.split == PRACTICE)
    return DesignPool(real, practice, catch, refused, declared)


def practice_to_deal(wanted: int, pool: DesignPool, *, expert: bool = False) -> int:
    """Practice items to deal a person: experts only get declared practice items (never a real item set aside);
    a study that declares practice items deals no more than those its conditions can run."""
    if expert and not pool.practice:
        return 0
    cap = pool.practice_items_cap
    return wanted if cap is None else min(wanted, cap)
