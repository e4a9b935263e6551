"""Payments: base pay for finishing, bonus by the study's rule, and an export that never pays anything twice."""

from __future__ import annotations

import json
import math
import os
import threading

import pytest
from sqlmodel import select

from oversight.access import auth
from oversight.study import participation, payments
from oversight.db import session_scope
from oversight.study.studies import create_study
from storage.models import Item, ItemGold, Payout, Study, User
from tests.test_cli import _runner


def _study(base_pay: float = 2.0, rule: str = "per_correct", amount: float = 0.5) -> int:
    study = create_study(name="Paid study", user_id=None, status="open")
    with session_scope() as s:
        row = s.get(Study, study.id)
        row.base_pay, row.bonus_rule, row.bonus_amount = base_pay, rule, amount
        for k in range(3):
            item = Item(study_id=study.id, external_id=f"q{k}", question=f"Question {k}?", options=["yes", "no"])
            s.add(item)
            s.flush()
            s.add(ItemGold(item_id=item.id, gold_index=0))
    return study.id


def _participant(study_id: int, prolific_id: str | None) -> int:
    uid = auth.create_invites(study_id=study_id, count=1)[0].user_id
    with session_scope() as s:
        s.get(User, uid).external_id = prolific_id
    participation.record_consent(user_id=uid)
    return uid


def _answer_all(uid: int, right: list[bool]) -> None:
    for ok in right:
        task = participation.next_task(user_id=uid)
        participation.submit_answer(user_id=uid, assignment_id=task.assignment_id,
                                    probabilities=[0.8, 0.2] if ok else [0.3, 0.7])


def test_base_pay_on_finishing_and_a_bonus_per_correct_answer(db):
    sid = _study()
    done = _participant(sid, "PROLIFIC_A")
    _answer_all(done, [True, True, False])
    halfway = _participant(sid, "PROLIFIC_B")
    _answer_all(halfway, [True])
    by_user = {o.user_id: o for o in payments.owed(study_id=sid)}
    assert by_user[done].base == 2.0 and by_user[done].bonus == 1.0
    assert by_user[halfway].base == 0.0 and by_user[halfway].bonus == 0.5  # a bonus is earned as they go
    batch = payments.export_payments(study_id=sid)
    # Bonuses only: Prolific pays the base on approval, so a base in this file would be paid twice.
    assert sorted(batch.prolific_lines) == ["PROLIFIC_A,1.00", "PROLIFIC_B,0.50"]
    assert batch.approve == ["PROLIFIC_A"] and batch.reject == []
    assert batch.total == 3.5 and batch.currency == "GBP"



def test_a_prolific_id_that_looks_like_a_formula_is_written_as_text(db):
    """The payment files open in a spreadsheet before they are uploaded: a PID such as `-A1` (or `=cmd|...`) must
    not run there. It gets a leading quote in every file; the amount stays a number."""
    sid = _study()
    _answer_all(_participant(sid, "-A1"), [True, True, True])
    _answer_all(_participant(sid, "=HYPERLINK(\"http://127.0.0.1:9/x\")"), [False, False, False])
    batch = payments.export_payments(study_id=sid)
    assert batch.prolific_lines == ["'-A1,1.50"]  # bonuses only: the other earned none
    files = payments.export_files(batch)
    assert sorted(files["approve.txt"].splitlines()) == ["'-A1", "'=HYPERLINK(\"http://127.0.0.1:9/x\")"]

def test_a_second_export_pays_only_what_was_earned_since(db):
    sid = _study()
    uid = _participant(sid, "PROLIFIC_A")
    _answer_all(uid, [True])
    assert payments.export_payments(study_id=sid).prolific_lines == ["PROLIFIC_A,0.50"]
    assert payments.export_payments(study_id=sid).prolific_lines == []  # nothing new: nothing paid twice
    _answer_all(uid, [True, False])
    later = payments.export_payments(study_id=sid)
    assert later.prolific_lines == ["PROLIFIC_A,0.50"]  # the new bonus; the base is paid by approving
    assert later.approve == ["PROLIFIC_A"]
    assert len(payments.exports(study_id=sid)) == 2


def test_the_score_rule_pays_per_point_above_a_uniform_guess(db):
    sid = _study(base_pay=0, rule="score", amount=1.0)
    uid = _participant(sid, "P")
    _answer_all(uid, [True, False, True])  # p(gold) 0.8, 0.3, 0.8; log2: -0.32 vs a guess's -1
    owed = payments.owed(study_id=sid)[0]
    assert owed.bonus == pytest.approx(2 * round(1 + math.log2(0.8), 2))


def test_personal_link_participants_are_listed_to_pay_by_hand_and_simulated_people_never(db):
    sid = _study()
    by_link = _participant(sid, None)
    _answer_all(by_link, [True, True, True])
    simulated = _participant(sid, None)
    with session_scope() as s:
        s.get(User, simulated).external_study_id = "simulated"
    _answer_all(simulated, [True, True, True])
    batch = payments.export_payments(study_id=sid)
    assert batch.prolific_lines == []
    assert [row["amount"] for row in batch.by_hand] == ["3.50"]


def test_simultaneous_exports_pay_each_thing_once(any_db):
    sid = _study()
    for k in range(4):
        _answer_all(_participant(sid, f"P{k}"), [True, True, False])
    results, errors = [], []

    def export() -> None:
        try:
            results.append(payments.export_payments(study_id=sid))
        except payments.PaymentError as exc:
            errors.append(str(exc))

    threads = [threading.Thread(target=export) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = [line for r in results for line in r.prolific_lines]
    assert sorted(lines) == ["P0,1.00", "P1,1.00", "P2,1.00", "P3,1.00"]
    assert sorted(pid for r in results for pid in r.approve) == ["P0", "P1", "P2", "P3"]
    with session_scope(write=False) as s:
        base = s.exec(select(Payout).where(Payout.kind == "base")).all()
    assert len(base) == 4


def test_pay_settings_are_checked():
    with pytest.raises(payments.PaymentError, match="bonus rule"):
        payments.check_pay_settings(currency="GBP", base_pay=1, bonus_rule="lottery", bonus_amount=1)
    with pytest.raises(payments.PaymentError, match="between 0 and 1000"):
        payments.check_pay_settings(currency="GBP", base_pay=-1, bonus_rule="none", bonus_amount=0)
    with pytest.raises(payments.PaymentError, match="three-letter"):
        payments.check_pay_settings(currency="pounds", base_pay=1, bonus_rule="none", bonus_amount=0)


def test_the_completion_link_carries_the_code(db):
    study = Study(name="x", completion_code="C0DE", completion_url="https://app.prolific.com/submissions/complete?cc={code}")
    assert payments.completion_link(study) == "https://app.prolific.com/submissions/complete?cc=C0DE"
    assert payments.completion_link(Study(name="y")) is None


def test_payments_from_the_command_line(db, tmp_path):
    cli = _runner(dict(os.environ))
    sid = _study()
    _answer_all(_participant(sid, "PROLIFIC_A"), [True, False, False])
    owed = json.loads(cli("payments", "owed", "--study", str(sid), "--json").stdout)
    assert owed == [{"participant": owed[0]["participant"], "prolific_id": "PROLIFIC_A", "base": 2.0,
                     "bonus": 0.5, "amount": 2.5}]
    out = tmp_path / "bonus.csv"
    cli("payments", "export", "--study", str(sid), "--out", str(out))
    assert out.read_text() == "PROLIFIC_A,0.50\n"  # the bonus only; the base is paid by approving
    again = cli("payments", "export", "--study", str(sid)).stdout
    assert "nothing is owed" in again


def test_pay_and_the_completion_redirect_are_study_settings(db):
    from oversight.study.studies import StudyError, update_study

    sid = _study()
    changed = update_study(study_id=sid, user_id=None, base_pay=3.456, bonus_rule="score", bonus_amount=0.2,
                           currency="usd", completion_url="https://app.prolific.com/submissions/complete?cc={code}")
    assert sorted(changed) == ["base_pay", "bonus_amount", "bonus_rule", "completion_url", "currency"]
    with pytest.raises(StudyError, match="https://"):
        update_study(study_id=sid, user_id=None, completion_url="javascript:alert(1)")
    with pytest.raises(StudyError, match="bonus rule"):
        update_study(study_id=sid, user_id=None, bonus_rule="lottery")
    uid = _participant(sid, "PROLIFIC_A")
    assert participation.progress(user_id=uid).completion_link is None  # not before every task is done
    _answer_all(uid, [True, True, True])
    with session_scope(write=False) as s:
        study = s.get(Study, sid)
        assert (study.base_pay, study.currency) == (3.46, "USD")
    done = participation.progress(user_id=uid)
    assert done.completion_link == f"https://app.prolific.com/submissions/complete?cc={study.completion_code}"
