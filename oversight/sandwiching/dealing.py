"""The balanced design of a study, as pure functions: which items a person gets, under which condition, in which
order, which of them are practice, and which place (slot) in the design a new arrival takes. No database here, so
the balance can be proved by property tests.

Places. A person's place in the design is a slot, given on their first deal in arrival order, per study (people
and experts have separate sequences; oversight.study.participation stores it in `DesignPlace`). Invitees who never
start never get one. A slot is vacated when its holder withdrew, was excluded by the attention checks, or left
(dealt, not finished, not seen for `design_slot_timeout_minutes`); a new arrival takes the lowest vacated slot,
else the next new one (`choose_slot`), and is dealt exactly what the slot is dealt. So no-shows and drop-outs
leave no holes: complete blocks fill up from whoever actually turns up.

Blocks and conditions. Items that share a source text are one group: reading a story once changes every later
judgment on it, so a group is always dealt whole-or-in-part under ONE condition. Slots come in blocks of B:

- Every slot of a block gets the same items: a window of `items_per_participant` items, taken in the study's
  seeded group order, starting where the previous block's window ended (cyclically), so that over successive
  blocks every item gets used. Without a limit, the window is every item.
- within: a Williams design over the K conditions dealt to people (`williams`). K = 2: AB / BA; K even: one K x K
  Williams square; K odd (>= 3): the square and its mirror, 2K rows. A block is the square's rows (B = K, or 2K
  for odd K >= 3). The slot's row gives the condition of the r-th distinct group of the window: row[r mod K].
  Every column of the square holds each condition equally often, so within a block each group (hence each item)
  is under each condition equally often (once, or twice for odd K); and each ordered pair of distinct
  conditions follows one another equally often over the rows (once; twice over the 2K rows for odd K): first-order
  carry-over balance, so "condition A right after B" is not confounded with A.
- between: slot p works under condition p mod K on every item (B = K); within a block each item is under each
  condition once.

Order within a block. Everyone in a block shares the items and the row, but not the order: each person's real
items are permuted among the positions that have the same condition (seeded by the study and the person). The
sequence of conditions over positions is the row's, so the carry-over balance holds; which item is under which
condition is the slot's, so the item x condition balance holds; only the order of the items, hence their
position effects, is randomised per person.

What holds (the property tests check it): over every complete block, every item dealt in that block appears
equally often under each condition, hence across any number of complete blocks each item appears equally often in
each condition; a person never gets an item twice, never gets two items of one source group under different
conditions, gets exactly min(items_per_participant, pool) real items, and practice items come first, are marked,
and are never among the real items of anyone. Incomplete last blocks are balanced only as far as they go.

Catch items (attention checks: split "catch", a known answer) are added on top: min(catch_items, pool) of them,
rotating through the pool over slots, inserted among the real items at evenly spread positions (never before the
first real item, and after the last one only when there are fewer real items than catch items). They have no
condition (direct QA alone) and never change which real items a person gets or under which condition, so the
balance above holds for the real items whatever the catch settings.
"""

from __future__ import annotations

import random
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from storage.vocabulary import DESIGNS


def williams(k: int) -> list[list[int]]:
    """The rows of a Williams design for k conditions (as indices 0..k-1): first row 0, 1, k-1, 2, k-2, ..., each
    next row the one before plus 1 (mod k); for odd k >= 3 the k rows and their mirrors (2k rows). Every row and
    every column holds each condition once (twice per column for odd k); each ordered pair of distinct conditions
    is adjacent in exactly one row (in two of the 2k rows for odd k)."""
    if k < 1:
        raise ValueError("a design needs at least one condition")
    first, lo, hi = [0], 1, k - 1
    while len(first) < k:
        first.append(lo)
        lo += 1
        if len(first) < k:
            first.append(hi)
            hi -= 1
    rows = [[(c + r) % k for c in first] for r in range(k)]
    return rows + [row[::-1] for row in rows] if k % 2 and k > 2 else rows


def block_size(k: int, design: str = "within") -> int:
    """How many slots make a complete block: the Williams rows (within) or one slot per condition (between)."""
    return len(williams(k)) if design == "within" else k


def choose_slot(takers: Sequence[tuple[int, bool]]) -> int:
    """The slot a new arrival takes. `takers`: (slot, vacated) for everyone who has taken a slot of this sequence,
    oldest first. A slot is free when its newest taker vacated it (someone who left after another took the slot
    over frees nothing), or when nobody ever took it (a gap); the lowest free slot, else the next new one."""
    newest: dict[int, bool] = {}
    for slot, vacated in takers:
        newest[slot] = vacated
    top = max(newest, default=-1)
    free = [slot for slot in range(top + 1) if newest.get(slot, True)]
    return free[0] if free else top + 1


def shuffle_within_conditions(real: list[Deal], key: str) -> list[Deal]:
    """`real` with its items permuted among the positions that share a condition (seeded by `key`): the sequence
    of conditions, and which item is under which condition, stay as dealt; only the item order changes."""
    rng = random.Random(key)
    out = list(real)
    positions: dict[Hashable, list[int]] = {}
    for i, d in enumerate(real):
        positions.setdefault(d.condition, []).append(i)
    for where in positions.values():
        moved = [real[i] for i in where]
        rng.shuffle(moved)
        for i, d in zip(where, moved):
            out[i] = d
    return out


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
         seed: int = 0, person: Hashable | None = None) -> list[Deal]:
    """The items of the person in slot `participant_index`, in order: practice first (under their first real item's
    condition), then real, with catch items among them.

    `groups`: the study's items grouped by source, in a stable order (see `group_items`); `conditions`: the
    conditions dealt to people, in a stable order; `practice_pool`: items set aside for practice (split
    "practice"), which must not be in `groups`' real use; `catch_pool`: the attention-check items (split
    "catch"), never in `groups`. `seed` makes the study's permutation reproducible; `person` (their id) seeds the
    order of their real items within the slot's condition sequence (None: the block's order)."""
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
    b = block_size(k, design)
    flat = [(gi, item) for gi, g in enumerate(real_groups) for item in g]
    n_total = len(flat)
    n = n_total if not items_per_participant else min(items_per_participant, n_total)
    start = ((p // b) * n) % n_total if n_total and n < n_total else 0
    window = [flat[(start + j) % n_total] for j in range(n)]
    # Rank of each group within the window (a window wrapping round may split a group: one rank for both parts).
    rank: dict[int, int] = {}
    for gi, _ in window:
        rank.setdefault(gi, len(rank))
    # The condition of the r-th group: the slot's Williams row (within) or the slot's one condition (between).
    row = williams(k)[p % b] if design == "within" else [p % k]
    real = [Deal(item, conds[row[rank[gi] % len(row)]]) for gi, item in window]
    if person is not None:
        real = shuffle_within_conditions(real, f"order:{seed}:{person}")
    first = real[0].condition if real else conds[row[0]]
    return [Deal(item, first, True) for item in practice] + with_catch(real, p, catch_items, catch_pool)
