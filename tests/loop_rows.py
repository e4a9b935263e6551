"""Rows the loop tests plant directly: conditions, answered assignments, expert reviews (the functions that make
them in the app are written elsewhere; the loops only read the rows)."""

from __future__ import annotations

from oversight import auth
from oversight.db import session_scope
from oversight.strategies import create_strategy
from storage.models import Assignment, Condition, ExpertReview, Item, ItemGold, Judgment, User


def items(study_id: int, n: int, gold: int = 0) -> list[int]:
    with session_scope() as s:
        rows = [Item(study_id=study_id, external_id=f"q{k}", question=f"Question {k}?", options=["yes", "no"],
                     source_text=f"Text {k}.") for k in range(n)]
        s.add_all(rows)
        s.flush()
        s.add_all([ItemGold(item_id=r.id, gold_index=gold) for r in rows])
        return [r.id for r in rows]


def assisted_strategy(study_id: int, name: str = "assist") -> int:
    return create_strategy(study_id=study_id, name=name, protocol="assisted-qa").id


def condition(study_id: int, name: str, kind: str, strategy_id: int | None = None, position: int = 0) -> int:
    with session_scope() as s:
        row = Condition(study_id=study_id, name=name, kind=kind, strategy_id=strategy_id, position=position)
        s.add(row)
        s.flush()
        return row.id


def participants(study_id: int, n: int, simulated: bool = False) -> list[int]:
    ids = [i.user_id for i in auth.create_invites(study_id=study_id, count=n)]
    if simulated:
        with session_scope() as s:
            for uid in ids:
                s.get(User, uid).external_study_id = "simulated"
    return ids


def answered(study_id: int, user_id: int, item_id: int, *, condition_id: int | None, strategy_id: int | None,
             answer: int | None, p: float = 0.8, practice: bool = False, state: str = "done") -> int:
    """An assignment (done by default) with the participant's final judgment putting `p` on `answer`."""
    with session_scope() as s:
        a = Assignment(study_id=study_id, participant_id=user_id, item_id=item_id, strategy_id=strategy_id,
                       condition_id=condition_id, practice=practice, state=state)
        s.add(a)
        s.flush()
        if answer is not None:
            probs = [p, 1 - p] if answer == 0 else [1 - p, p]
            s.add(Judgment(item_id=item_id, assignment_id=a.id, judge_id=user_id, judge_kind="human",
                           probabilities=probs, answer_index=answer, is_final=True))
        return a.id


def expert(name: str = "eve") -> int:
    return auth.create_user(role="expert", name=name, password="long enough").id


def review(study_id: int, expert_id: int, assignment_id: int, kind: str = "review", **labels) -> int:
    with session_scope() as s:
        row = ExpertReview(study_id=study_id, expert_id=expert_id, assignment_id=assignment_id, labels=labels,
                           kind=kind)
        s.add(row)
        s.flush()
        return row.id
