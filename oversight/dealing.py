"""The balanced design of a study, as a pure function: which items a participant gets, under which condition,
and which of them are practice. No database here, so the balance can be proved by property tests.

The design is a Latin square over participants × source groups (items that share a source text are one group:
reading a story once changes every later judgment on it, so a group is always dealt whole-or-in-part under ONE
condition). Participants come in blocks of K (K = the number of conditions dealt to people):

- Every participant of a block gets the same items: a window of `items_per_participant` items, taken in the
  study's seeded group order, starting where the previous block's window ended (cyclically), so that over
  successive blocks every item gets used. Without a limit, the window is every item.
- within: the r-th distinct group of the window goes to condition (r + p) mod K for participant p, so each
  participant cycles through the conditions over their groups, and within a block the K participants put each
  group under each condition exactly once.
- between: participant p works under condition p mod K on every item; within a block each item is again under
  each condition exactly once.

What holds (the property tests check it): over every complete block of K participants, every item dealt in that
block appears exactly once under each condition, hence across any number of complete blocks each item appears
equally often in each condition; a participant never gets an item twice, never gets two items of one source
group under different conditions, gets exactly min(items_per_participant, pool) real items, and practice items
come first, are marked, and are never among the real items of anyone. Incomplete last blocks are balanced only
as far as they go.

Catch items (attention checks: split "catch", a known answer) are added on top: min(catch_items, pool) of them,
rotating through the pool over participants, inserted among the real items at evenly spread positions (never
before the first real item, and after the last one only when there are fewer real items than catch items). They
have no condition (direct QA alone) and never change which real items a participant gets or under which
condition, so the balance above holds for the real items whatever the catch settings.
"""

from __future__ import annotations

import random
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

DESIGNS = ("within", "between")


@dataclass(frozen=True)
class Deal:
    item: Hashable
    condition: Hashable
    practice: bool = False
    catch: bool = False  # an attention check: no condition, never a result


def group_items(items: Sequence[tuple[Hashable, str | None]]) -> list[list[Hashable]]:
    """Items as (id, source key) in a stable order -> groups: items sharing a source key are one group (in order
    of first appearance); items without a source are groups of one."""
    groups: dict[object, list[Hashable]] = {}
    for item, key in items:
        groups.setdefault(("source", key) if key else ("item", item), []).append(item)
    return list(groups.values())


def study_order(groups: Sequence[Sequence[Hashable]], conditions: Sequence[Hashable],
                seed: int) -> tuple[list[list[Hashable]], list[Hashable]]:
    """The study's seeded permutation of groups and of conditions (so the first condition is not favoured)."""
    rng = random.Random(f"design:{seed}")
    groups = [list(g) for g in groups]
    conditions = list(conditions)
    rng.shuffle(groups)
    rng.shuffle(conditions)
    return groups, conditions


def split_practice(groups: list[list[Hashable]], practice_items: int,
                   practice_pool: Sequence[Hashable] = ()) -> tuple[list[Hashable], list[list[Hashable]]]:
    """(practice items, groups left for real items). With a practice pool (items whose split is "practice"), the
    practice comes from it and those items are never real; otherwise the first groups of the study's order are
    reserved whole for practice (a source read in practice is never dealt for real)."""
    if practice_pool:
        pool = set(practice_pool)
        real = [[i for i in g if i not in pool] for g in groups]
        return list(practice_pool)[:practice_items], [g for g in real if g]
    practice: list[Hashable] = []
    rest = list(groups)
    while len(practice) < practice_items and rest:
        practice += rest.pop(0)
    return practice[:practice_items], rest


def with_catch(real: list[Deal], participant_index: int, catch_items: int,
               catch_pool: Sequence[Hashable]) -> list[Deal]:
    """`real` with the participant's catch items inserted: the j-th of c after max(1, (j+1)·n // (c+1)) of the n
    real items, so they are spread out, never first, and not bunched at the end."""
    c = min(catch_items, len(catch_pool))
    if c <= 0 or not real:
        return list(real)
    n = len(real)
    start = (participant_index * c) % len(catch_pool)
    chosen = [catch_pool[(start + j) % len(catch_pool)] for j in range(c)]
    after = [max(1, (j + 1) * n // (c + 1)) for j in range(c)]
    out: list[Deal] = []
    for i, d in enumerate(real):
        out.append(d)
        out += [Deal(item, None, catch=True) for item, k in zip(chosen, after) if k == i + 1]
    return out


def deal(*, participant_index: int, groups: Sequence[Sequence[Hashable]], conditions: Sequence[Hashable],
         design: str = "within", items_per_participant: int | None = None, practice_items: int = 0,
         practice_pool: Sequence[Hashable] = (), catch_items: int = 0, catch_pool: Sequence[Hashable] = (),
         seed: int = 0) -> list[Deal]:
    """The participant's items in order: practice first (under their first real item's condition), then real,
    with catch items among them.

    `groups`: the study's items grouped by source, in a stable order (see `group_items`); `conditions`: the
    conditions dealt to people, in a stable order; `practice_pool`: items set aside for practice (split
    "practice"), which must not be in `groups`' real use; `catch_pool`: the attention-check items (split
    "catch"), never in `groups`. `seed` makes the study's permutation reproducible."""
    if design not in DESIGNS:
        raise ValueError(f"design must be one of {', '.join(DESIGNS)}")
    if not conditions:
        raise ValueError("a design needs at least one condition")
    if participant_index < 0:
        raise ValueError("participant index must be 0 or more")
    ordered, conds = study_order(groups, conditions, seed)
    practice, real_groups = split_practice(ordered, practice_items, practice_pool)
    k = len(conds)
    p = participant_index
    flat = [(gi, item) for gi, g in enumerate(real_groups) for item in g]
    n_total = len(flat)
    n = n_total if not items_per_participant else min(items_per_participant, n_total)
    start = ((p // k) * n) % n_total if n_total and n < n_total else 0
    window = [flat[(start + j) % n_total] for j in range(n)]
    # Rank of each group within the window (a window wrapping round may split a group: one rank for both parts).
    rank: dict[int, int] = {}
    for gi, _ in window:
        rank.setdefault(gi, len(rank))
    if design == "within":
        real = [Deal(item, conds[(rank[gi] + p) % k]) for gi, item in window]
    else:
        real = [Deal(item, conds[p % k]) for _, item in window]
    first = real[0].condition if real else conds[p % k]
    return [Deal(item, first, True) for item in practice] + with_catch(real, p, catch_items, catch_pool)
