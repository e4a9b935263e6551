"""The balanced design (oversight.dealing) as properties over random studies: balance over complete blocks,
never the same item twice, one condition per source, practice first and never real, the right counts."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oversight.dealing import deal, group_items


@st.composite
def studies(draw):
    n_groups = draw(st.integers(1, 8))
    sizes = [draw(st.integers(1, 3)) for _ in range(n_groups)]
    groups, next_id = [], 0
    for size in sizes:
        groups.append(list(range(next_id, next_id + size)))
        next_id += size
    k = draw(st.integers(1, 4))
    conditions = [f"c{i}" for i in range(k)]
    practice = draw(st.integers(0, 2))
    pool_size = next_id - min(practice, n_groups - 1 if n_groups > 1 else 0) * 3
    limit = draw(st.one_of(st.none(), st.integers(1, max(1, pool_size))))
    blocks = draw(st.integers(1, 4))
    design = draw(st.sampled_from(["within", "between"]))
    seed = draw(st.integers(0, 1000))
    return dict(groups=groups, conditions=conditions, design=design, items_per_participant=limit,
                practice_items=practice, seed=seed), blocks


def deals(params, people):
    return [deal(participant_index=p, **params) for p in range(people)]


@settings(max_examples=150, deadline=None)
@given(studies())
def test_every_complete_block_puts_each_item_once_under_each_condition(case):
    params, blocks = case
    k = len(params["conditions"])
    everyone = deals(params, blocks * k)
    for b in range(blocks):
        block = [d for person in everyone[b * k:(b + 1) * k] for d in person if not d.practice]
        per_item = Counter((d.item, d.condition) for d in block)
        items = {d.item for d in block}
        assert all(per_item[(i, c)] == 1 for i in items for c in params["conditions"])
    # hence across complete blocks every item is equally often in each condition
    total = Counter((d.item, d.condition) for person in everyone for d in person if not d.practice)
    for item in {i for i, _ in total}:
        assert len({total[(item, c)] for c in params["conditions"]}) == 1


@settings(max_examples=150, deadline=None)
@given(studies(), st.integers(0, 30))
def test_a_participant_never_gets_an_item_twice_nor_one_source_under_two_conditions(case, p):
    params, _ = case
    mine = deal(participant_index=p, **params)
    assert len({d.item for d in mine}) == len(mine)
    group_of = {item: gi for gi, g in enumerate(params["groups"]) for item in g}
    conditions_per_group: dict[int, set] = {}
    for d in mine:
        if not d.practice:
            conditions_per_group.setdefault(group_of[d.item], set()).add(d.condition)
    assert all(len(c) == 1 for c in conditions_per_group.values())


@settings(max_examples=150, deadline=None)
@given(studies(), st.integers(0, 30))
def test_practice_comes_first_is_never_real_and_counts_are_as_set(case, p):
    params, _ = case
    mine = deal(participant_index=p, **params)
    flags = [d.practice for d in mine]
    assert flags == sorted(flags, reverse=True)  # practice first
    practice = [d.item for d in mine if d.practice]
    real = [d.item for d in mine if not d.practice]
    # practice groups are reserved whole: no one is dealt a practice item, or its source, for real
    group_of = {item: gi for gi, g in enumerate(params["groups"]) for item in g}
    practice_groups = {group_of[i] for i in practice}
    for q in range(6):
        other = deal(participant_index=q, **params)
        assert not practice_groups & {group_of[d.item] for d in other if not d.practice}
    n_items = sum(len(g) for g in params["groups"])
    assert len(practice) == min(params["practice_items"], n_items)
    pool = n_items - sum(len(params["groups"][g]) for g in practice_groups)
    limit = params["items_per_participant"]
    assert len(real) == (pool if not limit else min(limit, pool))


@settings(max_examples=100, deadline=None)
@given(studies())
def test_within_subject_each_participant_meets_every_condition_when_they_have_enough_groups(case):
    params, _ = case
    params = dict(params, design="within", practice_items=0, items_per_participant=None)
    k = len(params["conditions"])
    for p in range(2 * k):
        mine = deal(participant_index=p, **params)
        if len(params["groups"]) >= k:
            assert {d.condition for d in mine} == set(params["conditions"])


@settings(max_examples=100, deadline=None)
@given(studies())
def test_between_subject_one_condition_each(case):
    params, _ = case
    params = dict(params, design="between")
    k = len(params["conditions"])
    conditions = [{d.condition for d in deal(participant_index=p, **params)} for p in range(k)]
    assert all(len(c) == 1 for c in conditions) and set().union(*conditions) == set(params["conditions"])


@settings(max_examples=100, deadline=None)
@given(studies())
def test_with_a_limit_successive_blocks_use_every_item(case):
    params, _ = case
    params = dict(params, practice_items=0)
    k, n_items = len(params["conditions"]), sum(len(g) for g in params["groups"])
    limit = params["items_per_participant"] or n_items
    blocks_needed = -(-n_items // limit)
    used = {d.item for p in range(0, blocks_needed * k, k) for d in deal(participant_index=p, **params)}
    assert used == {i for g in params["groups"] for i in g}


def test_practice_pool_is_used_when_the_study_has_one():
    groups = [[1], [2], [3], [4]]
    mine = deal(participant_index=0, groups=groups, conditions=["a", "b"], practice_items=1, practice_pool=[4])
    assert mine[0].item == 4 and mine[0].practice and {d.item for d in mine[1:]} == {1, 2, 3}


def test_the_issue_example_is_balanced():
    """4 participants × 4 items × 2 conditions: each item twice under each condition (not 3 and 1)."""
    groups = [[1], [2], [3], [4]]
    counts = Counter((d.item, d.condition) for p in range(4)
                     for d in deal(participant_index=p, groups=groups, conditions=["debate", "consultancy"]))
    assert set(counts.values()) == {2} and len(counts) == 8


def test_group_items_by_source():
    assert group_items([(1, "story"), (2, None), (3, "story"), (4, None)]) == [[1, 3], [2], [4]]


def test_bad_design_is_refused():
    with pytest.raises(ValueError, match="design"):
        deal(participant_index=0, groups=[[1]], conditions=["a"], design="diagonal")
