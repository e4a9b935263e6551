"""Paying participants: base pay for finishing, a bonus per answer, exported once.

Base pay is earned when a participant has finished every one of their tasks (practice and attention checks
included, since it is work). The bonus is earned per final answer on a real task (not practice, not a catch item),
by the study's rule:
- `per_correct`: `bonus_amount` for each answer whose probability on the gold answer is above one half;
- `score`: `bonus_amount` per point the answer scores above a uniform guess, by the scoring rule of the strategy
  it was given under (log: log2 p(gold); quadratic: 1 - Brier), never below zero; direct QA scores by log.
An export pays what is owed and not yet paid: each payment is a `Payout` row, base pay unique per participant and a
bonus unique per assignment, so two exports (two admins, two tabs) can never pay anything twice. Prolific's bulk
bonus takes lines "participant ID,amount"; participants who came by personal link (no Prolific ID) are listed apart
to be paid by hand. Who is paid follows the results filter (oversight.results.results_filter): simulated people (in a dry
run too) and staff members' preview participants are never paid; participants the attention checks exclude
(oversight/study/attention.py) earn no bonus, and their base pay is held, neither listed nor exported, until an admin
includes them. Bonuses are scored by the one scoring rule (`vocab.is_correct`) on results only: no bonus for
practice or catch items, nor for a timed-out task.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from oversight.audit import log_event
from oversight.db import session_scope
from oversight.protocols.registry import get_protocol
from oversight.protocols.scoring import judge_score
from oversight.results.results_filter import left_out_reasons
from oversight.text import spreadsheet_safe
from oversight.vocab import SIMULATED, is_correct
from storage.models import (
    Assignment, ItemGold, Judgment, PaymentExport, Payout, Strategy, Study, User,
)
from storage.vocabulary import BONUS_RULES



class PaymentError(Exception):
    """A payment setting or export that cannot be done; the message is safe to show."""


@dataclass
class Owed:
    user_id: int
    name: str
    external_id: str | None  # the Prolific participant ID, when they came through the enrolment link
    base: float = 0.0
    bonus: float = 0.0
    bonus_assignments: dict[int, float] = field(default_factory=dict)

    @property
    def amount(self) -> float:
        return round(self.base + self.bonus, 2)


@dataclass(frozen=True)
class PaymentBatch:
    export_id: int | None  # None when nothing was owed
    prolific_lines: list[str]  # "participant ID,amount" for Prolific's bulk bonus
    by_hand: list[dict]  # participants without a Prolific ID: pay them another way
    total: float
    currency: str


def uniform_score(rule: str, n_options: int) -> float:
    """What a guess spreading probability evenly scores: the zero point of the `score` bonus."""
    return judge_score(probabilities=[1 / n_options] * n_options, correct_index=0, rule=rule, turns=0, penalty=0)


def answer_bonus(study: Study, *, probabilities: list[float], gold: int, scoring: str) -> float:
    if study.bonus_rule == "per_correct":
        return study.bonus_amount if is_correct(probabilities, gold) else 0.0
    if study.bonus_rule == "score":
        score = judge_score(probabilities=probabilities, correct_index=gold, rule=scoring, turns=0, penalty=0)
        return study.bonus_amount * max(0.0, score - uniform_score(scoring, len(probabilities)))
    return 0.0


def describe_pay(study: Study) -> str:
    bonus = {"none": "no bonus", "per_correct": f"a bonus of {study.bonus_amount:.2f} per correct answer",
             "score": f"a bonus of {study.bonus_amount:.2f} per point scored above a uniform guess"}[study.bonus_rule]
    return f"Base pay {study.base_pay:.2f} {study.currency} for finishing every task, and {bonus}."


def check_pay_settings(*, currency: str, base_pay: float, bonus_rule: str, bonus_amount: float) -> None:
    if bonus_rule not in BONUS_RULES:
        raise PaymentError(f"the bonus rule must be one of {', '.join(BONUS_RULES)}")
    for name, value in (("base pay", base_pay), ("bonus amount", bonus_amount)):
        if not math.isfinite(value) or not 0 <= value <= 1000:
            raise PaymentError(f"{name} must be between 0 and 1000")
    if not (currency.isalpha() and len(currency) == 3):
        raise PaymentError("the currency is a three-letter code such as GBP or USD")


def never_paid(user: User) -> bool:
    """Simulated people (a dry run's too) and staff members' preview participants are never paid."""
    return user.external_study_id == SIMULATED or user.preview_by is not None


def _owed(s, study: Study) -> list[Owed]:
    people = s.exec(select(User).where(User.study_id == study.id, User.role == "participant")
                    .order_by(User.id)).all()
    left_out = left_out_reasons(s, study.id)  # excluded (held), preview and simulated (never paid)
    people = [u for u in people if not never_paid(u) and u.id not in left_out]
    paid_base = set(s.exec(select(Payout.user_id).where(Payout.study_id == study.id, Payout.kind == "base")).all())
    paid_bonus = set(s.exec(select(Payout.assignment_id).where(Payout.study_id == study.id,
                                                               Payout.kind == "bonus")).all())
    scoring_of: dict[int | None, str] = {None: "log"}
    for strategy in s.exec(select(Strategy).where(Strategy.study_id == study.id)).all():
        scoring_of[strategy.id] = getattr(get_protocol(strategy.protocol).parse_rules(strategy.rules), "scoring",
                                          "log")
    # Three reads for the whole study, not a few per participant: the Participants page renders this.
    tasks: dict[int, list[Assignment]] = {}
    for a in s.exec(select(Assignment).where(Assignment.study_id == study.id)).all():
        tasks.setdefault(a.participant_id, []).append(a)
    finals = {j.assignment_id: j for j in s.exec(
        select(Judgment).join(Assignment, Assignment.id == Judgment.assignment_id)
        .where(Assignment.study_id == study.id, Judgment.is_final, Judgment.judge_kind == "human")).all()}
    gold = dict(s.exec(select(ItemGold.item_id, ItemGold.gold_index)
                       .join(Assignment, Assignment.item_id == ItemGold.item_id)
                       .where(Assignment.study_id == study.id)).all())
    out = []
    for user in people:
        mine = tasks.get(user.id, [])
        owed = Owed(user.id, user.name, user.external_id)
        finished = bool(mine) and all(a.state in ("done", "skipped") for a in mine) and \
            any(a.state == "done" for a in mine)
        if finished and user.id not in paid_base and study.base_pay > 0:
            owed.base = study.base_pay
        if study.bonus_rule != "none":
            for a in mine:
                j = finals.get(a.id)
                if a.state != "done" or a.practice or a.catch or a.id in paid_bonus or j is None or not j.probabilities \
                        or a.item_id not in gold:
                    continue
                amount = round(answer_bonus(study, probabilities=list(j.probabilities), gold=gold[a.item_id],
                                            scoring=scoring_of.get(a.strategy_id, "log")), 2)
                if amount > 0:
                    owed.bonus_assignments[a.id] = amount
            owed.bonus = round(sum(owed.bonus_assignments.values()), 2)
        if owed.amount > 0:
            out.append(owed)
    return out


def owed(*, study_id: int) -> list[Owed]:
    """What each participant has earned and not yet been paid (a preview: nothing is marked)."""
    with session_scope(write=False) as s:
        study = s.get(Study, study_id)
        if study is None:
            raise PaymentError(f"no study with id {study_id}")
        return _owed(s, study)


def held(*, study_id: int) -> list[dict]:
    """Participants whose pay is held because the attention checks exclude them (nothing of theirs is exported
    until an admin includes them): name, Prolific ID. Simulated and preview people are never paid, so never
    listed."""
    with session_scope(write=False) as s:
        excluded = [uid for uid, why in left_out_reasons(s, study_id).items() if why == "excluded"]
        if not excluded:
            return []
        people = s.exec(select(User).where(User.id.in_(excluded)).order_by(User.id)).all()
        return [{"id": u.id, "participant": u.name, "Prolific ID": u.external_id or ""}
                for u in people if not never_paid(u)]


def export_payments(*, study_id: int, user_id: int | None = None) -> PaymentBatch:
    """Pay what is owed now: record every payment and return Prolific's bulk-bonus lines. One transaction; a
    concurrent export that paid some of the same things first makes this one fail whole, paying nothing."""
    try:
        with session_scope() as s:
            study = s.exec(select(Study).where(Study.id == study_id).with_for_update()).first()
            if study is None:
                raise PaymentError(f"no study with id {study_id}")
            rows = _owed(s, study)
            if not rows:
                return PaymentBatch(None, [], [], 0.0, study.currency)
            export = PaymentExport(study_id=study_id, created_by=user_id, lines=len(rows),
                                   total=round(sum(r.amount for r in rows), 2))
            s.add(export)
            s.flush()
            for r in rows:
                if r.base:
                    s.add(Payout(export_id=export.id, study_id=study_id, user_id=r.user_id, kind="base",
                                 amount=r.base))
                for aid, amount in r.bonus_assignments.items():
                    s.add(Payout(export_id=export.id, study_id=study_id, user_id=r.user_id, assignment_id=aid,
                                 kind="bonus", amount=amount))
            s.flush()
            log_event(s, "payments.export", user_id=user_id, study_id=study_id, export=export.id,
                      total=export.total, lines=export.lines)
            lines = [f"{spreadsheet_safe(r.external_id)},{r.amount:.2f}" for r in rows if r.external_id]
            by_hand = [{"participant": r.name, "amount": f"{r.amount:.2f}"} for r in rows if not r.external_id]
            return PaymentBatch(export.id, lines, by_hand, export.total, study.currency)
    except IntegrityError:
        raise PaymentError("Another export paid some of these participants just now; export again to get what "
                           "is still owed.") from None


def exports(*, study_id: int) -> list[PaymentExport]:
    with session_scope(write=False) as s:
        return list(s.exec(select(PaymentExport).where(PaymentExport.study_id == study_id)
                           .order_by(PaymentExport.id.desc())).all())


def completion_link(study: Study) -> str | None:
    """Where the completion page sends a participant: the study's completion URL with its code filled in."""
    if not study.completion_url:
        return None
    return study.completion_url.replace("{code}", study.completion_code or "")
