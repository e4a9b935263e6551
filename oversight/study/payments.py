"""Paying participants the way Prolific works: base pay by approving a submission, bonuses by the bulk-bonus file.

Base pay is earned when a participant has finished every one of their tasks (practice and attention checks
included, since it is work). Prolific pays a study's reward when the submission is APPROVED, so base pay is never in
the bonus file: an export lists whom to approve (their base is settled by the approval), whom to reject and why
(screened out by the attention checks, or the time ran out on every task), and the bonuses, one line
"participant ID,bonus" each, participants with no bonus left out. Participants who came by personal link (no
Prolific ID) are listed apart, base and bonus together, to be paid by hand. The bonus is earned per final answer on a
real task (not practice, not a catch item), by the study's rule:
- `per_correct`: `bonus_amount` for each answer whose probability on the gold answer is above one half;
- `score`: `bonus_amount` per point the answer scores above a uniform guess, by the scoring rule of the strategy
  it was given under (log: log2 p(gold); quadratic: 1 - Brier), never below zero; direct QA scores by log.
An export settles what it lists: each settlement is a `Payout` row, base pay and a rejection unique per participant
and a bonus unique per assignment, so two exports (two admins, two tabs) can never pay anything twice. The export
keeps its plan, so its files can be downloaded again at any time (`export_files`). Who is paid follows the results
filter (oversight.results.results_filter): simulated people (in a dry run too) and staff members' preview
participants are never paid; participants the attention checks exclude (oversight/study/attention.py) earn no
bonus, and their base pay is held, not exported, until an admin decides: "include" releases it, "exclude" lists
them to reject (screened out).
What is held, owed and paid is computed once, in `ledger`, and every message about it reads from there
(`Ledger.messages`), so no two messages can disagree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from sqlalchemy import func
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


# Why a participant's submission is to be rejected, as the Payments page and the reject file say it.
REJECT_REASONS = {"screened_out": "screened out by the attention checks", "timed_out": "the time ran out on every task"}


@dataclass
class Owed:
    """One participant's standing: what they are owed now and what Prolific should do with their submission."""

    user_id: int
    name: str
    external_id: str | None  # the Prolific participant ID, when they came through the enrolment link
    session_id: str | None = None  # Prolific's submission id (SESSION_ID), for the API mode
    base: float = 0.0
    bonus: float = 0.0
    bonus_assignments: dict[int, float] = field(default_factory=dict)
    # approve | reject | returned (declined consent, or not finished) | None (settled by an earlier export)
    decision: str | None = None
    reason: str = ""

    @property
    def amount(self) -> float:
        return round(self.base + self.bonus, 2)


@dataclass
class Ledger:
    """Held, owed and paid for one study, computed in one place: every message about pay reads from here."""

    currency: str
    people: list[Owed]  # everyone with something owed or to decide, in id order
    paid: float  # what earlier exports settled
    held: list[Owed]  # excluded by the thresholds of the attention checks: pay held until an admin decides

    @property
    def owed(self) -> list[Owed]:
        return [p for p in self.people if p.amount > 0]

    @property
    def owed_total(self) -> float:
        return round(sum(p.amount for p in self.owed), 2)

    def deciding(self, decision: str) -> list[Owed]:
        return [p for p in self.people if p.decision == decision]

    @property
    def to_export(self) -> list[Owed]:
        """What the next export settles: money owed, submissions to approve or reject."""
        return [p for p in self.people if p.amount > 0 or p.decision in ("approve", "reject")]

    def messages(self) -> list[tuple[str, str]]:
        """(level, text) for the page and the command line, each read from the same numbers."""
        out: list[tuple[str, str]] = []
        if self.held:
            out.append(("warning", f"Pay held for {len(self.held)} participant(s) excluded by the attention checks: no "
                                   "bonus, and nothing of theirs is exported until you decide (Attention checks): "
                                   "include them to approve and pay them, or exclude them to list them to reject "
                                   "(screened out)."))
        owed, approve, reject = self.owed, self.deciding("approve"), self.deciding("reject")
        if owed or approve or reject:
            out.append(("info", f"Owed now: {self.owed_total:.2f} {self.currency} to {len(owed)} participant(s); "
                                f"{len(approve)} submission(s) to approve, {len(reject)} to reject."))
        elif self.held:
            out.append(("info", "Nothing is owed apart from the held pay above."))
        else:
            out.append(("success", "Nothing is owed: everyone earned so far has been paid."))
        if self.paid:
            out.append(("caption", f"Settled by earlier exports: {self.paid:.2f} {self.currency}."))
        return out


@dataclass(frozen=True)
class PaymentBatch:
    export_id: int | None  # None when nothing was owed
    prolific_lines: list[str]  # "participant ID,bonus" for Prolific's bulk bonus (bonuses only, none of 0)
    by_hand: list[dict]  # participants without a Prolific ID: pay them another way
    total: float
    currency: str
    approve: list[str] = field(default_factory=list)  # Prolific IDs whose submissions to approve (base pay)
    reject: list[tuple[str, str]] = field(default_factory=list)  # (Prolific ID, reason)


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


def ending(states: list[str]) -> str | None:
    """How a participant's tasks ended: "completed" (all finished, at least one answered), "timed_out" (the time
    ran out on every one), None (not finished, or none dealt). Attention checks and consent are decided apart."""
    if not states or not all(x in ("done", "skipped") for x in states):
        return None
    return "completed" if "done" in states else "timed_out"


def _ledger(s, study: Study) -> Ledger:
    people = s.exec(select(User).where(User.study_id == study.id, User.role == "participant")
                    .order_by(User.id)).all()
    left_out = left_out_reasons(s, study.id)  # excluded (held), preview and simulated (never paid)
    people = [u for u in people if not never_paid(u) and left_out.get(u.id) in (None, "excluded")]
    settled = set(s.exec(select(Payout.user_id).where(Payout.study_id == study.id,
                                                      Payout.kind.in_(("base", "rejected")))).all())
    paid_bonus = set(s.exec(select(Payout.assignment_id).where(Payout.study_id == study.id,
                                                               Payout.kind == "bonus")).all())
    paid = s.exec(select(func.coalesce(func.sum(Payout.amount), 0.0)).where(Payout.study_id == study.id)).one()
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
    out, held = [], []
    for user in people:
        mine = tasks.get(user.id, [])
        owed = Owed(user.id, user.name, user.external_id, user.external_session_id)
        end = ending([a.state for a in mine])
        if user.id in settled:
            pass
        elif left_out.get(user.id) == "excluded" and user.attention_override == "exclude":
            owed.decision, owed.reason = "reject", REJECT_REASONS["screened_out"]  # an admin decided
        elif left_out.get(user.id) == "excluded":  # the thresholds excluded them: held until an admin decides
            held.append(owed)
        elif end == "completed":
            owed.decision, owed.base = "approve", study.base_pay
        elif end == "timed_out":
            owed.decision, owed.reason = "reject", REJECT_REASONS["timed_out"]
        elif user.declined_at is not None:
            owed.decision, owed.reason = "returned", "did not consent"
        elif user.consented_at is not None:
            done = sum(a.state == "done" for a in mine)
            owed.decision, owed.reason = "returned", f"not finished ({done} of {len(mine)} tasks)"
        elif user.external_id:  # came by the enrolment link and left before consenting
            owed.decision, owed.reason = "returned", "left before consenting"
        if study.bonus_rule != "none" and left_out.get(user.id) != "excluded":
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
        if owed.amount > 0 or owed.decision is not None:
            out.append(owed)
    return Ledger(study.currency, out, round(float(paid), 2), held)


def _study(s, study_id: int) -> Study:
    study = s.get(Study, study_id)
    if study is None:
        raise PaymentError(f"no study with id {study_id}")
    return study


def ledger(*, study_id: int) -> Ledger:
    """Held, owed and paid now, with each participant's decision (a preview: nothing is marked)."""
    with session_scope(write=False) as s:
        return _ledger(s, _study(s, study_id))


def owed(*, study_id: int) -> list[Owed]:
    """What each participant has earned and not yet been paid (a preview: nothing is marked)."""
    return ledger(study_id=study_id).owed


def held(*, study_id: int) -> list[dict]:
    """Participants whose pay is held because the attention checks exclude them: name, Prolific ID."""
    return [{"id": p.user_id, "participant": p.name, "Prolific ID": p.external_id or ""}
            for p in ledger(study_id=study_id).held]


def _plan(rows: list[Owed]) -> dict:
    """What an export says to do, stored with it (PaymentExport.plan) so that its files never go away."""
    return {
        "bonus": [[r.external_id, r.bonus] for r in rows if r.external_id and r.bonus > 0],
        "approve": [[r.external_id, r.session_id] for r in rows if r.external_id and r.decision == "approve"],
        "reject": [[r.external_id, r.session_id, r.reason] for r in rows if r.external_id and r.decision == "reject"],
        "by_hand": [[r.name, r.amount] for r in rows if not r.external_id and r.amount > 0],
    }


def batch_of(export: PaymentExport, currency: str) -> PaymentBatch:
    plan = export.plan or {}
    # Every text cell spreadsheet-safe (oversight.text): a Prolific ID or a name is whatever was typed in.
    return PaymentBatch(export.id, [f"{spreadsheet_safe(pid)},{amount:.2f}" for pid, amount in plan.get("bonus", [])],
                        [{"participant": name, "amount": f"{amount:.2f}"} for name, amount in plan.get("by_hand", [])],
                        export.total, currency, [pid for pid, _ in plan.get("approve", [])],
                        [(pid, reason) for pid, _, reason in plan.get("reject", [])])


def export_files(batch: PaymentBatch) -> dict[str, str]:
    """An export's files by name (only those with lines): Prolific's bulk bonus (ID,bonus), the IDs to approve
    (one a line, for Prolific's bulk approve), the IDs to reject with the reason, and who to pay by hand."""
    files = {
        "bonus.csv": "".join(f"{line}\n" for line in batch.prolific_lines),
        "approve.txt": "".join(f"{spreadsheet_safe(pid)}\n" for pid in batch.approve),
        "reject.csv": "".join(f"{spreadsheet_safe(pid)},{spreadsheet_safe(reason)}\n" for pid, reason in batch.reject),
        "by-hand.csv": "".join(f"{spreadsheet_safe(row['participant'])},{row['amount']}\n" for row in batch.by_hand),
    }
    return {name: text for name, text in files.items() if text}


def export_payments(*, study_id: int, user_id: int | None = None) -> PaymentBatch:
    """Settle what is owed and decided now: record every payment, approval and rejection, and keep the export's
    plan. One transaction; a concurrent export that settled some of the same things first makes this one fail
    whole, settling nothing."""
    try:
        with session_scope() as s:
            study = s.exec(select(Study).where(Study.id == study_id).with_for_update()).first()
            if study is None:
                raise PaymentError(f"no study with id {study_id}")
            rows = _ledger(s, study).to_export
            if not rows:
                return PaymentBatch(None, [], [], 0.0, study.currency)
            export = PaymentExport(study_id=study_id, created_by=user_id, lines=len(rows),
                                   total=round(sum(r.amount for r in rows), 2), plan=_plan(rows))
            s.add(export)
            s.flush()
            for r in rows:
                if r.decision in ("approve", "reject"):
                    s.add(Payout(export_id=export.id, study_id=study_id, user_id=r.user_id,
                                 kind="base" if r.decision == "approve" else "rejected", amount=r.base))
                for aid, amount in r.bonus_assignments.items():
                    s.add(Payout(export_id=export.id, study_id=study_id, user_id=r.user_id, assignment_id=aid,
                                 kind="bonus", amount=amount))
            s.flush()
            log_event(s, "payments.export", user_id=user_id, study_id=study_id, export=export.id,
                      total=export.total, lines=export.lines)
            return batch_of(export, study.currency)
    except IntegrityError:
        raise PaymentError("Another export paid some of these participants just now; export again to get what "
                           "is still owed.") from None


def exports(*, study_id: int) -> list[PaymentBatch]:
    """Every export of the study, newest first, each with its files (export_files)."""
    with session_scope(write=False) as s:
        currency = _study(s, study_id).currency
        return [batch_of(e, currency) for e in s.exec(select(PaymentExport).where(PaymentExport.study_id == study_id)
                                                      .order_by(PaymentExport.id.desc())).all()]


PROLIFIC_COMPLETE = "https://app.prolific.com/submissions/complete?cc={code}"


def completion_code(study: Study, outcome: str) -> str | None:
    """The code the researcher set for this way of ending (storage.vocabulary.COMPLETION_OUTCOMES)."""
    return {"completed": study.completion_code, "no_consent": study.code_no_consent,
            "screened_out": study.code_screened_out, "timed_out": study.code_timed_out}[outcome] or None


def completion_link(study: Study, outcome: str = "completed", *, from_prolific: bool = False) -> str | None:
    """Where a participant whose participation ended this way is sent, in the same tab: the study's completion
    URL with the outcome's code in place of "{code}"; Prolific's own completion address for a participant who came
    from Prolific when the study sets none. None when there is no code for the outcome or nowhere to send them."""
    code = completion_code(study, outcome)
    url = study.completion_url or (PROLIFIC_COMPLETE if from_prolific else None)
    if not url or (code is None and "{code}" in url):
        return None
    return url.replace("{code}", code or "")
