"""The balanced design (oversight.sandwiching.dealing) as properties over random studies: balance over complete blocks,
Williams squares (carry-over balance), item order randomised per person without touching the condition sequence,
slots a new arrival takes, never the same item twice, one condition per source, practice first and never real,
the right counts; catch items (attention checks) spread among the real items without displacing any of them."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oversight.sandwiching.dealing import Deal, block_size, choose_slot, deal, group_items, shuffle_within_conditions, williams


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
    catch = draw(st.integers(0, 3))
    catch_pool = [f"catch{i}" for i in range(draw(st.integers(0, 4)))]
    person = draw(st.one_of(st.none(), st.integers(0, 10_000)))
    return dict(groups=groups, conditions=conditions, design=design, items_per_participant=limit,
                practice_items=practice, catch_items=catch, catch_pool=catch_pool, seed=seed), blocks, person


def real(dealt):
    """The real items of a deal: neither practice nor catch."""
    return [d for d in dealt if not d.practice and not d.catch]


def deals(params, people, person=None):
    """Slots 0..people-1, each taken by a different person (id `person` + slot) when `person` is given."""
    return [deal(participant_index=p, person=None if person is None else person + p, **params)
            for p in range(people)]


@settings(max_examples=150, deadline=None)
@given(studies())
def test_every_complete_block_puts_each_item_equally_often_under_each_condition(case):
    params, blocks, person = case
    k = len(params["conditions"])
    size = block_size(k, params["design"])
    everyone = deals(params, blocks * size, person)
    for b in range(blocks):
        block = [d for someone in everyone[b * size:(b + 1) * size] for d in real(someone)]
        per_item = Counter((d.item, d.condition) for d in block)
        items = {d.item for d in block}
        assert all(per_item[(i, c)] == size // k for i in items for c in params["conditions"])
    # hence across complete blocks every item is equally often in each condition
    total = Counter((d.item, d.condition) for person in everyone for d in real(person))
    for item in {i for i, _ in total}:
        assert len({total[(item, c)] for c in params["conditions"]}) == 1


@settings(max_examples=150, deadline=None)
@given(studies(), st.integers(0, 30))
def test_a_participant_never_gets_an_item_twice_nor_one_source_under_two_conditions(case, p):
    params, _, person = case
    mine = deal(participant_index=p, person=person, **params)
    assert len({d.item for d in mine}) == len(mine)
    group_of = {item: gi for gi, g in enumerate(params["groups"]) for item in g}
    conditions_per_group: dict[int, set] = {}
    for d in real(mine):
        conditions_per_group.setdefault(group_of[d.item], set()).add(d.condition)
    assert all(len(c) == 1 for c in conditions_per_group.values())


@settings(max_examples=150, deadline=None)
@given(studies(), st.integers(0, 30))
def test_practice_comes_first_is_never_real_and_counts_are_as_set(case, p):
    params, _, _ = case
    mine = deal(participant_index=p, **params)
    flags = [d.practice for d in mine]
    assert flags == sorted(flags, reverse=True)  # practice first
    practice = [d.item for d in mine if d.practice]
    real_items = [d.item for d in real(mine)]
    # practice groups are reserved whole: no one is dealt a practice item, or its source, for real
    group_of = {item: gi for gi, g in enumerate(params["groups"]) for item in g}
    practice_groups = {group_of[i] for i in practice}
    for q in range(6):
        other = deal(participant_index=q, **params)
        assert not practice_groups & {group_of[d.item] for d in real(other)}
    n_items = sum(len(g) for g in params["groups"])
    assert len(practice) == min(params["practice_items"], n_items)
    pool = n_items - sum(len(params["groups"][g]) for g in practice_groups)
    limit = params["items_per_participant"]
    assert len(real_items) == (pool if not limit else min(limit, pool))


@settings(max_examples=100, deadline=None)
@given(studies())
def test_within_subject_each_participant_meets_every_condition_when_they_have_enough_groups(case):
    params, _, _ = case
    params = dict(params, design="within", practice_items=0, items_per_participant=None)
    k = len(params["conditions"])
    for p in range(2 * k):
        mine = deal(participant_index=p, **params)
        if len(params["groups"]) >= k:
            assert {d.condition for d in real(mine)} == set(params["conditions"])


@settings(max_examples=100, deadline=None)
@given(studies())
def test_between_subject_one_condition_each(case):
    params, _, _ = case
    params = dict(params, design="between")
    k = len(params["conditions"])
    conditions = [{d.condition for d in deal(participant_index=p, **params) if not d.catch} for p in range(k)]
    assert all(len(c) == 1 for c in conditions) and set().union(*conditions) == set(params["conditions"])


@settings(max_examples=100, deadline=None)
@given(studies())
def test_with_a_limit_successive_blocks_use_every_item(case):
    params, _, _ = case
    params = dict(params, practice_items=0)
    k, n_items = block_size(len(params["conditions"]), params["design"]), sum(len(g) for g in params["groups"])
    limit = params["items_per_participant"] or n_items
    blocks_needed = -(-n_items // limit)
    used = {d.item for p in range(0, blocks_needed * k, k) for d in real(deal(participant_index=p, **params))}
    assert used == {i for g in params["groups"] for i in g}


@settings(max_examples=150, deadline=None)
@given(studies(), st.integers(0, 30))
def test_catch_items_never_displace_the_real_items(case, p):
    """The same real items under the same conditions in the same order (practice too) with or without catch items,
    so the balance above is untouched."""
    params, _, person = case
    mine = deal(participant_index=p, person=person, **params)
    without = deal(participant_index=p, person=person, **dict(params, catch_items=0, catch_pool=[]))
    assert [d for d in mine if not d.catch] == without


@settings(max_examples=150, deadline=None)
@given(studies(), st.integers(0, 30))
def test_catch_items_are_marked_spread_among_the_real_items_and_never_first(case, p):
    params, _, person = case
    mine = deal(participant_index=p, person=person, **params)
    after_practice = [d for d in mine if not d.practice]
    catch = [d for d in after_practice if d.catch]
    n_real = len(real(mine))
    expected = min(params["catch_items"], len(params["catch_pool"])) if n_real else 0
    assert len(catch) == expected == len({d.item for d in catch})
    assert all(d.item in params["catch_pool"] and d.condition is None and not d.practice for d in catch)
    assert not any(d.catch for d in mine if d.practice) and all(d.item not in params["catch_pool"] for d in real(mine))
    if catch:
        assert not after_practice[0].catch  # never the first task
        if n_real > len(catch):
            assert not after_practice[-1].catch  # not bunched at the end
        # spread: no two catch items next to each other while there are real items enough to part them
        if n_real > len(catch):
            flags = [d.catch for d in after_practice]
            assert not any(a and b for a, b in zip(flags, flags[1:]))


def test_catch_items_rotate_through_the_pool_over_participants():
    groups = [[i] for i in range(6)]
    seen = [[d.item for d in deal(participant_index=p, groups=groups, conditions=["a"], catch_items=1,
                                  catch_pool=["x", "y", "z"]) if d.catch] for p in range(3)]
    assert seen == [["x"], ["y"], ["z"]]
    mine = deal(participant_index=0, groups=groups, conditions=["a"], catch_items=2, catch_pool=["x", "y", "z"])
    assert [d.catch for d in mine] == [False, False, True, False, False, True, False, False]


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


@given(st.integers(1, 12))
def test_williams_square_every_condition_once_per_row_and_equally_often_per_column(k):
    rows = williams(k)
    assert len(rows) == (2 * k if k % 2 and k > 2 else k)
    assert all(sorted(row) == list(range(k)) for row in rows)
    for column in zip(*rows):
        assert Counter(column) == {c: len(rows) // k for c in range(k)}


@given(st.integers(2, 12))
def test_williams_square_each_ordered_pair_is_adjacent_once_or_twice_for_odd_k(k):
    pairs = Counter((a, b) for row in williams(k) for a, b in zip(row, row[1:]))
    expected = 2 if k % 2 and k > 2 else 1
    assert pairs == {(a, b): expected for a in range(k) for b in range(k) if a != b}


def test_two_conditions_stay_ab_ba():
    assert williams(2) == [[0, 1], [1, 0]]


def condition_runs(dealt):
    """The sequence of conditions over a person's real items, one entry per run of equal conditions."""
    seq = [d.condition for d in real(dealt)]
    return [c for i, c in enumerate(seq) if i == 0 or seq[i - 1] != c]


@settings(max_examples=100, deadline=None)
@given(st.integers(3, 6), st.integers(0, 1000))
def test_within_complete_blocks_carry_over_is_balanced_over_the_dealt_sequences(k, seed):
    """One group per condition (K groups, no limit): each person's condition sequence is their Williams row, so
    over a complete block each ordered pair of distinct conditions follows one another equally often."""
    params = dict(groups=[[i] for i in range(k)], conditions=[f"c{i}" for i in range(k)], seed=seed)
    pairs = Counter()
    for p in range(block_size(k)):
        runs = condition_runs(deal(participant_index=p, person=p, **params))
        assert sorted(runs) == sorted(params["conditions"])  # every condition once
        pairs.update(zip(runs, runs[1:]))
    assert len(pairs) == k * (k - 1) and len(set(pairs.values())) == 1


@settings(max_examples=150, deadline=None)
@given(studies(), st.integers(0, 30), st.integers(0, 10_000), st.integers(0, 10_000))
def test_item_order_is_randomised_per_person_but_the_condition_sequence_and_items_are_the_slots(case, p, a, b):
    params, _, _ = case
    block_order = deal(participant_index=p, **params)
    mine, theirs = (deal(participant_index=p, person=who, **params) for who in (a, b))
    for dealt in (mine, theirs):
        assert [d.condition for d in dealt] == [d.condition for d in block_order]  # the row's sequence
        assert sorted(map(repr, dealt)) == sorted(map(repr, block_order))  # same items, same conditions
        assert [d for d in dealt if d.practice or d.catch] == [d for d in block_order if d.practice or d.catch]
    assert deal(participant_index=p, person=a, **params) == mine  # reproducible


def test_two_people_in_one_slot_usually_see_different_orders():
    params = dict(groups=[[i] for i in range(12)], conditions=["a", "b"], seed=3)
    orders = {tuple(d.item for d in deal(participant_index=0, person=who, **params)) for who in range(20)}
    assert len(orders) > 10


@given(st.lists(st.tuples(st.integers(0, 5), st.booleans()), max_size=20))
def test_choose_slot_takes_the_lowest_slot_whose_newest_taker_left_else_the_next(takers):
    newest = dict(takers)
    slot = choose_slot(takers)
    top = max(newest, default=-1)
    free = [s for s in range(top + 1) if newest.get(s, True)]
    assert slot == (free[0] if free else top + 1)
    assert slot not in newest or newest[slot]  # never a slot whose newest taker still holds it


def test_choose_slot_in_words():
    assert choose_slot([]) == 0
    assert choose_slot([(0, False), (1, False)]) == 2
    assert choose_slot([(0, False), (1, True), (2, True)]) == 1  # the lowest vacated
    assert choose_slot([(0, False), (1, True), (1, False)]) == 2  # slot 1 was taken over: not free
    assert choose_slot([(0, False), (2, False)]) == 1  # a gap (a place never taken) is free


def test_shuffle_within_conditions_keeps_positions_of_each_condition():
    dealt = [Deal(i, "ab"[i % 2]) for i in range(6)]
    shuffled = shuffle_within_conditions(dealt, "x")
    assert [d.condition for d in shuffled] == [d.condition for d in dealt]
    assert {d.item for d in shuffled if d.condition == "a"} == {0, 2, 4}
