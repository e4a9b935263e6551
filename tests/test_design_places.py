"""Places in the design through the real participation functions on SQLite: a place is given on a person's first
task in arrival order (invitees who never start take none), per study and role; withdrawals, exclusions and
people who leave unfinished free their place for the next arrival; previews are dealt as the next arrival would
be but hold no place; balance is counted on answered results, with complete blocks. Random no-show and drop-out
patterns keep complete blocks balanced."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlmodel import select

from oversight.access import auth
from oversight.sandwiching import conditions
from oversight.protocols import strategies
from oversight.study.attention import set_override
from oversight.db import session_scope
from oversight.study.participation import next_task, submit_answer
from oversight.study.studies import update_study
from storage.models import Assignment, DesignPlace, Item, ItemGold, User, utcnow


def add_items(study_id: int, n: int, *, sources: int | None = None, split: str | None = None) -> list[int]:
    """n two-option items with gold; `sources`: how many distinct source texts they share (None: one each)."""
    ids = []
    with session_scope() as s:
        for i in range(n):
            item = Item(study_id=study_id, external_id=f"{split or 'q'}{i}", question=f"Q{i}?", options=["a", "b"],
                        source_text=f"passage {i % sources if sources else i} {split or ''}", split=split)
            s.add(item)
            s.flush()
            s.add(ItemGold(item_id=item.id, gold_index=0))
            ids.append(item.id)
    return ids


def people_conditions(study_id: int, k: int) -> list[int]:
    """k conditions dealt to people: alone, then k - 1 assisted-QA versions."""
    out = [conditions.add_condition(study_id=study_id, kind="alone").id]
    for v in range(k - 1):
        strategy = strategies.create_strategy(study_id=study_id, name=f"help{v}", protocol="assisted-qa")
        out.append(conditions.add_condition(study_id=study_id, kind="assisted", strategy_id=strategy.id).id)
    return out


def invite(study_id: int, n: int = 1) -> list[int]:
    return [i.user_id for i in auth.create_invites(study_id=study_id, count=n)]


def tasks(user_id: int, study_id: int | None = None) -> list[Assignment]:
    with session_scope(write=False) as s:
        where = [Assignment.participant_id == user_id]
        if study_id is not None:
            where.append(Assignment.study_id == study_id)
        return list(s.exec(select(Assignment).where(*where).order_by(Assignment.position)).all())


def answer(user_id: int, how_many: int | None = None, study_id: int | None = None) -> None:
    """Answer the person's next tasks the way the page does (next_task, then submit): all, or `how_many`."""
    done = 0
    while how_many is None or done < how_many:
        task = next_task(user_id=user_id, study_id=study_id)
        if task is None:
            return
        submit_answer(user_id=user_id, assignment_id=task.assignment_id, probabilities=[1, 0])
        done += 1


def leave(user_id: int, hours: float = 2) -> None:
    """The person was last seen (page visit and tasks) `hours` ago."""
    then = utcnow() - timedelta(hours=hours)
    with session_scope() as s:
        s.exec(update(User).where(User.id == user_id).values(last_seen_at=then))
        s.exec(update(Assignment).where(Assignment.participant_id == user_id)
               .values(created_at=then, started_at=then, completed_at=None))
        for a in s.exec(select(Assignment).where(Assignment.participant_id == user_id,
                                                 Assignment.state == "done")).all():
            a.completed_at = then


def slot(user_id: int, study_id: int) -> int | None:
    with session_scope(write=False) as s:
        row = s.exec(select(DesignPlace).where(DesignPlace.user_id == user_id,
                                               DesignPlace.study_id == study_id)).first()
        return None if row is None else row.slot


def test_four_invited_two_start_a_complete_block_and_every_item_balanced(any_db):
    """The issue's case: 4 invites, 2 start, 8 items, 2 conditions. The two who start take places 0 and 1 (the
    invitees who never start take none): one complete block, every item once under each condition."""
    from oversight.study.studies import create_study

    study = create_study(name="issue", user_id=None, status="open")
    add_items(study.id, 8)
    alone, assisted = people_conditions(study.id, 2)
    people = invite(study.id, 4)
    starters = [people[3], people[1]]  # arrival order is not id order
    for user_id in starters:
        answer(user_id)
    assert [slot(u, study.id) for u in people] == [None, 1, None, 0]
    items = sorted(conditions.balance(study_id=study.id))
    assert len(items) == 8
    assert conditions.balance(study_id=study.id) == {i: {alone: 1, assisted: 1} for i in items}
    check = conditions.balance_check(study_id=study.id)
    assert (check.items, check.balanced, check.blocks, check.block_size, check.answered) == (8, 8, 1, 2, 16)
    assert check.block_items == check.block_balanced == 8


def test_a_slot_left_by_a_withdrawal_an_exclusion_or_a_drop_out_goes_to_the_next_arrival(study):
    add_items(study.id, 4)
    people_conditions(study.id, 2)
    a, b, c, d = invite(study.id, 4)
    for user_id in (a, b, c):
        next_task(user_id=user_id)
    assert [slot(u, study.id) for u in (a, b, c)] == [0, 1, 2]
    answer(a, 1)
    leave(a, hours=0.5)  # not long enough (default 60 minutes): still holds place 0
    auth.revoke_participant(user_id=b)
    answer(d)
    assert slot(d, study.id) == 1  # the withdrawal's place, not place 3
    dealt_b = [(t.item_id, t.condition_id) for t in tasks(b)]
    assert sorted(dealt_b) == sorted((t.item_id, t.condition_id) for t in tasks(d))  # the place's deal
    leave(a, hours=2)
    [e] = invite(study.id)
    next_task(user_id=e)
    assert slot(e, study.id) == 0  # a left partway and has not been seen for two hours
    answer(c)
    set_override(study_id=study.id, participant_id=c, decision="exclude")
    [f] = invite(study.id)
    next_task(user_id=f)
    assert slot(f, study.id) == 2  # an excluded person's place, although they finished
    [g] = invite(study.id)
    next_task(user_id=g)
    assert slot(g, study.id) == 3  # nobody else left: a new place


def test_a_taken_over_slot_is_not_freed_again_by_its_earlier_holder_and_finishers_keep_theirs(study):
    add_items(study.id, 2)
    people_conditions(study.id, 2)
    a, b = invite(study.id, 2)
    answer(a, 1)
    leave(a)
    answer(b)
    assert slot(b, study.id) == 0  # took over a's place
    leave(b)  # finished: never vacated by time
    [c] = invite(study.id)
    next_task(user_id=c)
    assert slot(c, study.id) == 1  # a is still away, but place 0's newest taker finished


def test_the_timeout_is_a_setting(study, monkeypatch):
    from oversight import settings

    monkeypatch.setenv("OVERSIGHT_DESIGN_SLOT_TIMEOUT_MINUTES", "180")
    settings.reset_settings()
    assert settings.get_settings().design_slot_timeout_minutes == 180
    add_items(study.id, 2)
    a, b = invite(study.id, 2)
    answer(a, 1)
    leave(a, hours=2)
    next_task(user_id=b)
    assert slot(b, study.id) == 1  # two hours away is not yet three


def test_a_preview_is_dealt_as_the_next_arrival_would_be_but_holds_no_place(study):
    add_items(study.id, 6)
    people_conditions(study.id, 2)
    staff = auth.create_user(role="admin", name="ada", password="long enough password")
    first, preview, second = invite(study.id, 3)
    answer(first)
    with session_scope() as s:
        s.get(User, preview).preview_by = staff.id
    next_task(user_id=preview)
    next_task(user_id=second)
    assert slot(preview, study.id) is None and slot(second, study.id) == 1
    as_place = lambda u: sorted((t.item_id, t.condition_id) for t in tasks(u))  # noqa: E731
    assert as_place(preview) == as_place(second)  # what place 1 deals


def test_experts_have_places_of_their_own_per_study(db):
    """Places are per study and per role: an expert's first study gives them place 0 there, and so does the next
    study; participants' places do not count against experts' (nor the other way round)."""
    from oversight.study.studies import create_study

    one, two = (create_study(name=n, user_id=None, status="open") for n in ("one", "two"))
    for s_ in (one, two):
        add_items(s_.id, 3)
        conditions.add_condition(study_id=s_.id, kind="expert")
    answer(invite(one.id)[0])
    early, late = (auth.create_user(role="expert", name=n, password="long enough password").id
                   for n in ("eve", "erin"))
    answer(late, study_id=one.id)
    answer(early, study_id=two.id)
    answer(late, study_id=two.id)
    assert (slot(late, one.id), slot(early, two.id), slot(late, two.id)) == (0, 0, 1)
    with session_scope(write=False) as s:
        roles = {(p.user_id, p.study_id): p.role for p in s.exec(select(DesignPlace)).all()}
    assert roles[(late, one.id)] == "expert" and list(roles.values()).count("participant") == 1


def test_experts_get_practice_items_as_practice_never_as_real(study):
    """Experts get the study's practice items (split "practice") as practice, with their answer after, like
    participants; a study without practice items deals experts none (no real item is set aside for them)."""
    from oversight.study.participation import practice_feedback

    add_items(study.id, 3)
    conditions.add_condition(study_id=study.id, kind="expert")
    update_study(study_id=study.id, user_id=None, practice_items=1)
    expert = auth.create_user(role="expert", name="eve", password="long enough password").id
    next_task(user_id=expert, study_id=study.id)
    assert [t.practice for t in tasks(expert)] == [False] * 3  # no practice pool: none, and every real item
    [practice] = add_items(study.id, 1, split="practice")
    other = auth.create_user(role="expert", name="erin", password="long enough password").id
    first = next_task(user_id=other, study_id=study.id)
    dealt = tasks(other)
    assert (dealt[0].item_id, dealt[0].practice, first.practice) == (practice, True, True)
    assert len(dealt) == 4 and all(not t.practice and t.item_id != practice for t in dealt[1:])
    submit_answer(user_id=other, assignment_id=first.assignment_id, probabilities=[1, 0])
    assert practice_feedback(user_id=other, assignment_id=first.assignment_id).answer == "a"


def test_balance_counts_answered_results_only(study):
    add_items(study.id, 4)
    alone, assisted = people_conditions(study.id, 2)
    a, b, c = invite(study.id, 3)
    for u in (a, b):
        next_task(user_id=u)
    assert conditions.balance(study_id=study.id) == {}  # dealt, nothing answered
    answer(a)
    answer(b)
    answer(c)
    set_override(study_id=study.id, participant_id=c, decision="exclude")
    assert all(sum(per.values()) == 2 for per in conditions.balance(study_id=study.id).values())
    summary = {r.id: r for r in conditions.design_summary(study_id=study.id)}
    assert summary[alone].done + summary[assisted].done == 12
    assert summary[alone].results + summary[assisted].results == 8  # c's answers are not results


def _finishers_by_place(study_id: int) -> dict[int, int]:
    """Each place's first holder whose answers are results and who answered every real task."""
    from oversight.results.results_filter import people_left_out

    with session_scope(write=False) as s:
        left_out = people_left_out(s, study_id)
        held = s.exec(select(DesignPlace).where(DesignPlace.study_id == study_id).order_by(DesignPlace.id)).all()
    out: dict[int, int] = {}
    for p in held:
        real = [t for t in tasks(p.user_id, study_id) if not t.practice and not t.catch]
        if p.slot not in out and p.user_id not in left_out and real and all(t.state == "done" for t in real):
            out[p.slot] = p.user_id
    return out


@pytest.mark.parametrize("seed", range(6))
def test_random_no_shows_and_drop_outs_leave_complete_blocks_balanced(study, seed):
    """People arrive in random order, some never start, some withdraw or are excluded, some answer a few items
    and leave (vacated by the timeout); the rest finish, and arrivals continue until the blocks fill. Within every
    complete block, the answers of the people completing its places put each item equally often under each
    condition (answer counts per item x condition differ by at most one: here, by none); the page's count of
    complete blocks agrees."""
    rng = random.Random(seed)
    k = rng.choice([2, 3])
    n_items = rng.randint(3, 8)
    add_items(study.id, n_items, sources=rng.choice([None, max(1, n_items // 2)]))
    dealt = people_conditions(study.id, k)
    limit = rng.choice([None, max(1, n_items - 2)])
    update_study(study_id=study.id, user_id=None, items_per_participant=limit)
    size = k if k == 2 else 2 * k
    target = rng.randint(1, 2) * size  # finishers wanted
    active: list[tuple[int, str, int]] = []  # (user, fate, answers before the fate) of people partway
    finishers = 0
    for _ in range(12 * size):
        if finishers >= target and not active:
            break
        if active and (finishers >= target or rng.random() < 0.4):
            user, fate, budget = active.pop(rng.randrange(len(active)))
            answer(user, None if fate == "finish" else budget)
            if fate == "finish":
                finishers += 1
            elif fate == "leave":
                leave(user)
            elif fate == "withdraw":
                auth.revoke_participant(user_id=user)
            else:
                set_override(study_id=study.id, participant_id=user, decision="exclude")
            continue
        [user] = invite(study.id)
        fate = rng.choices(["never", "finish", "leave", "withdraw", "exclude"], [2, 5, 2, 1, 1])[0]
        if fate == "never":
            continue
        next_task(user_id=user)
        active.append((user, fate, rng.randint(0, n_items)))
    places = _finishers_by_place(study.id)
    blocks = [b for b in range(max(places, default=-1) // size + 1)
              if all(b * size + j in places for j in range(size))]
    check = conditions.balance_check(study_id=study.id)
    assert check.blocks == len(blocks) and check.block_size == size
    assert check.block_items and check.block_balanced == check.block_items
    assert blocks, "the arrivals should have completed at least one block"
    for b in blocks:
        counts = Counter((t.item_id, t.condition_id) for j in range(size)
                         for t in tasks(places[b * size + j], study.id) if not t.practice and not t.catch)
        for item in {i for i, _ in counts}:
            per = [counts[(item, c)] for c in dealt]
            assert max(per) - min(per) <= 1 and len(set(per)) == 1
    with session_scope(write=False) as s:
        held = s.exec(select(DesignPlace.slot)).all()
    assert sorted(set(held)) == list(range(len(set(held))))  # no holes in the places


def test_arrivals_at_once_take_different_places(any_db):
    """Six people (and a second tab of one of them) dealing at the same moment: six places 0..5, one each; the
    dealing transaction orders them (SQLite: one writer; PostgreSQL: the study row lock)."""
    import threading

    from oversight.study.studies import create_study

    study = create_study(name="rush", user_id=None, status="open")
    add_items(study.id, 4)
    people_conditions(study.id, 2)
    people = invite(study.id, 6)
    errors: list[Exception] = []

    def arrive(user_id: int) -> None:
        try:
            next_task(user_id=user_id)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=arrive, args=(u,)) for u in [*people, people[0]]]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    assert sorted(slot(u, study.id) for u in people) == list(range(6))
    assert all(len(tasks(u)) == 4 for u in people)


def test_people_dealt_before_places_were_stored_keep_their_place_and_gaps_are_filled(study):
    """A study running across the upgrade: people dealt by the old rule (their rank among the study's invitees)
    are given that rank as their place when the next person arrives; the rank of an invitee who never started is
    a free place, filled first."""
    from sqlalchemy import delete

    add_items(study.id, 4)
    people_conditions(study.id, 2)
    a, never, c, d = invite(study.id, 4)
    for user_id in (a, c):
        next_task(user_id=user_id)
    with session_scope() as s:  # as if dealt before places were stored
        s.exec(delete(DesignPlace))
    next_task(user_id=d)
    assert (slot(a, study.id), slot(c, study.id), slot(d, study.id)) == (0, 2, 1)
    assert slot(never, study.id) is None
