"""One place that builds the studies tests need: items with gold, strategies, conditions, people, answered
assignments with a final judgment at a given confidence, expert reviews, and the 4-option study with alone /
assisted / expert conditions that the simulation, power, dry-run and plan tests start from.

Rows are planted directly where a test checks what reads them (loops, analysis, reviews, exports); tests of dealing
and answering use the app's own functions instead. Each row builder takes an open session `s` to batch many rows in
one transaction (hundreds of planted answers), or opens its own."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from sqlmodel import Session

from oversight.access import auth
from oversight.sandwiching import conditions
from oversight.protocols import strategies
from oversight.db import session_scope
from oversight.study.studies import create_study, update_study
from storage.models import Assignment, Condition, ExpertReview, Item, ItemGold, Judgment, Strategy, User

FOUR_OPTIONS = ["north", "south", "east", "west"]


@contextmanager
def _session(s: Session | None) -> Iterator[Session]:
    if s is not None:
        yield s
        s.flush()
    else:
        with session_scope() as own:
            yield own


def items(study_id: int, n: int, *, gold: int | Callable[[int], int] = 0, options: list[str] | None = None,
          split: str | None = None, prefix: str = "q", start: int = 0, explanation: str | None = None,
          source_text: str | None = None, s: Session | None = None, **fields) -> list[int]:
    """n items q{start}..; gold is an option index, or a function of k; every item gets its gold row."""
    with _session(s) as s:
        rows = [Item(study_id=study_id, external_id=f"{prefix}{k}", question=f"Question {k}?",
                     options=list(options or ["yes", "no"]), source_text=source_text or f"Text {k}.", split=split,
                     **fields) for k in range(start, start + n)]
        s.add_all(rows)
        s.flush()
        s.add_all([ItemGold(item_id=r.id, gold_index=gold(k) if callable(gold) else gold, explanation=explanation)
                   for k, r in zip(range(start, start + n), rows)])
        return [r.id for r in rows]


def assisted_strategy(study_id: int, name: str = "assist", **kwargs) -> int:
    return strategies.create_strategy(study_id=study_id, name=name, protocol="assisted-qa", **kwargs).id


def condition(study_id: int, name: str, kind: str, strategy_id: int | None = None, position: int = 0,
              s: Session | None = None) -> int:
    with _session(s) as s:
        row = Condition(study_id=study_id, name=name, kind=kind, strategy_id=strategy_id, position=position)
        s.add(row)
        s.flush()
        return row.id


def participants(study_id: int, n: int, simulated: bool = False) -> list[int]:
    """n people invited to the study (the app's invites: a user per link)."""
    ids = [i.user_id for i in auth.create_invites(study_id=study_id, count=n)]
    if simulated:
        with session_scope() as s:
            for uid in ids:
                s.get(User, uid).external_study_id = "simulated"
    return ids


def expert(name: str = "eve") -> int:
    return auth.create_user(role="expert", name=name, password="long enough").id


def answered(study_id: int, user_id: int, item_id: int, *, condition_id: int | None, strategy_id: int | None = None,
             answer: int | None, p: float = 0.8, practice: bool = False, catch: bool = False, state: str = "done",
             final: bool = True, n_options: int = 2, rationale: str = "", position: int = 0,
             s: Session | None = None) -> int:
    """An assignment (done by default) with the person's judgment putting `p` on `answer` and the rest spread
    evenly over the other options (answer None: no judgment, e.g. a timed-out task)."""
    with _session(s) as s:
        a = Assignment(study_id=study_id, participant_id=user_id, item_id=item_id, strategy_id=strategy_id,
                       condition_id=condition_id, practice=practice, catch=catch, state=state, position=position)
        s.add(a)
        s.flush()
        if answer is not None:
            rest = (1 - p) / (n_options - 1)
            probs = [p if k == answer else rest for k in range(n_options)]
            s.add(Judgment(item_id=item_id, assignment_id=a.id, judge_id=user_id, judge_kind="human",
                           probabilities=probs, answer_index=answer, is_final=final, rationale=rationale))
        return a.id


def review(study_id: int, expert_id: int, assignment_id: int, kind: str = "review", **labels) -> int:
    with session_scope() as s:
        row = ExpertReview(study_id=study_id, expert_id=expert_id, assignment_id=assignment_id, labels=labels,
                           kind=kind)
        s.add(row)
        s.flush()
        return row.id


def four_option_study(n_items: int = 12, *, name: str = "Four options", practice: int = 1, catch: int = 1,
                      kinds: tuple[str, ...] = ("alone", "assisted", "expert"), assisted_name: str = "Assisted",
                      rules: dict | None = None, status: str = "draft", **design) -> int:
    """n_items 4-option items (gold k % 4) plus `practice` practice and `catch` catch items after them, the
    conditions in `kinds` (assisted: the strategy "Assistant" with `rules`), and the design settings given
    (update_study's arguments, e.g. items_per_participant). Returns the study id."""
    sid = create_study(name=name, user_id=None, status=status).id
    with session_scope() as s:
        items(sid, n_items, gold=lambda k: k % 4, options=FOUR_OPTIONS, source_title="Story", s=s)
        items(sid, practice, gold=lambda k: k % 4, options=FOUR_OPTIONS, split="practice", start=n_items,
              source_title="Story", s=s)
        items(sid, catch, gold=lambda k: k % 4, options=FOUR_OPTIONS, split="catch", start=n_items + practice,
              source_title="Story", s=s)
    names = {"alone": "Alone", "assisted": assisted_name, "expert": "Experts"}
    for kind in kinds:
        strategy_id = assisted_strategy(sid, "Assistant", rules=rules or {}) if kind == "assisted" else None
        conditions.add_condition(study_id=sid, kind=kind, name=names[kind], strategy_id=strategy_id)
    if practice:
        design.setdefault("practice_items", practice)
    if catch:
        design.setdefault("catch_items", catch)
    if design:
        update_study(study_id=sid, user_id=None, **design)
    return sid


GOOD = {"outcome": "correct", "help_quality": 4}  # a complete review under the default rubric


@pytest.fixture
def world(study):
    """The review tests' study: two conditions, three participants' finished answers, a pending one, a practice
    one, and three experts (one of whom also answered an item) and an admin."""
    sid = study.id
    with session_scope() as s:
        strategy = Strategy(study_id=sid, name="Helper", version=2, protocol="assisted-qa")
        s.add(strategy)
        s.flush()
        ids = dict(strategy=strategy.id, study=sid, alone=condition(sid, "Alone", "alone", s=s),
                   assisted=condition(sid, "With helper", "assisted", strategy.id, s=s))
        item_ids = items(sid, 6, explanation="blue", source_text="The sky is blue.", s=s)
    people = participants(sid, 3)
    experts = [expert(f"expert{k}") for k in range(3)]
    admin = auth.create_user(role="admin", name="boss", password="long enough").id
    plan = [(people[0], 0, "alone", "done", False), (people[1], 1, "assisted", "done", False),
            (people[2], 2, "assisted", "done", False), (experts[2], 3, "alone", "done", False),
            (people[0], 4, "alone", "active", False), (people[1], 5, "alone", "done", True)]
    with session_scope() as s:
        rows = [answered(sid, who, item_ids[item], condition_id=ids[cond], state=state, practice=practice,
                         strategy_id=ids["strategy"] if cond == "assisted" else None,
                         answer=0 if state == "done" else None, rationale="the text says blue", position=n, s=s)
                for n, (who, item, cond, state, practice) in enumerate(plan)]
    return dict(ids, people=people, experts=experts, admin=admin, a=rows)
