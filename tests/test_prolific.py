"""Prolific the way it works (issue 17): base pay by approval and bonuses alone in the bonus file, exports whose files
stay, messages that agree with the numbers, a code for each way participation ends, and an API mode that never
pays twice, tried against a fake Prolific that fails half-way."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlmodel import select

from oversight.db import session_scope
from oversight.settings import reset_settings
from oversight.study import participation, payments, prolific_api
from oversight.study.attention import set_override
from oversight.study.studies import update_study
from storage.models import ProlificCall, User
from tests.pages.apptest import run_page
from tests.test_payments import _answer_all, _participant, _study


def _finished(sid: int, pid: str, right: list[bool], session: str | None = None) -> int:
    uid = _participant(sid, pid)
    with session_scope() as s:
        s.get(User, uid).external_session_id = session
    _answer_all(uid, right)
    return uid


def test_the_bonus_file_holds_bonuses_only_and_base_pay_is_settled_by_approving(db):
    sid = _study(base_pay=2.0, amount=0.2)
    _finished(sid, "ALL_WRONG", [False, False, False])  # finished, no bonus: approve only
    _finished(sid, "ONE_RIGHT", [True, False, False])
    halfway = _participant(sid, "HALFWAY")
    _answer_all(halfway, [False])
    batch = payments.export_payments(study_id=sid)
    assert batch.prolific_lines == ["ONE_RIGHT,0.20"]  # not 2.20: Prolific pays the 2.00 on approval
    assert sorted(batch.approve) == ["ALL_WRONG", "ONE_RIGHT"]
    book = payments.ledger(study_id=sid)
    assert [(p.external_id, p.decision, p.reason) for p in book.people] == [
        ("HALFWAY", "returned", "not finished (1 of 3 tasks)")]
    assert payments.export_payments(study_id=sid).export_id is None  # nothing approved or paid twice


def test_rejections_say_why_and_people_who_left_are_listed_as_returned(db):
    sid = _study()
    screened = _finished(sid, "SCREENED", [True, True, True])
    set_override(study_id=sid, participant_id=screened, decision="exclude", user_id=None)
    declined = _participant(sid, "DECLINED")
    with session_scope() as s:  # a fresh person who says "I do not agree"
        s.get(User, declined).consented_at = None
    participation.decline_consent(user_id=declined)
    timed_out = _participant(sid, "TIMED_OUT")
    participation.next_task(user_id=timed_out)
    with session_scope() as s:
        from storage.models import Assignment
        for a in s.exec(select(Assignment).where(Assignment.participant_id == timed_out)).all():
            a.state = "skipped"
    book = payments.ledger(study_id=sid)
    assert {p.external_id: (p.decision, p.reason) for p in book.people} == {
        "SCREENED": ("reject", "screened out by the attention checks"),
        "DECLINED": ("returned", "did not consent"),
        "TIMED_OUT": ("reject", "the time ran out on every task")}
    batch = payments.export_payments(study_id=sid)
    assert sorted(batch.reject) == [("SCREENED", "screened out by the attention checks"),
                                    ("TIMED_OUT", "the time ran out on every task")]
    assert batch.prolific_lines == [] and batch.approve == []


def test_an_export_keeps_its_files_after_a_reload(db):
    sid = _study()
    _finished(sid, "PROLIFIC_A", [True, True, False])
    first = payments.export_payments(study_id=sid)
    files = payments.export_files(first)
    assert files == {"bonus.csv": "PROLIFIC_A,1.00\n", "approve.txt": "PROLIFIC_A\n"}
    again = payments.exports(study_id=sid)  # what a new page run (a reload) reads
    assert [payments.export_files(b) for b in again] == [files]


def test_the_payments_section_offers_an_earlier_exports_files_after_a_reload(db):
    from oversight.access import auth

    sid = _study()
    _finished(sid, "PROLIFIC_A", [True, True, False])
    admin = auth.create_user(role="admin", name="ada", password="long enough")
    at = run_page("study_people", admin.id, study=str(sid))
    next(b for b in at.button if b.label == "Export payments").click().run()
    assert not at.exception
    reloaded = run_page("study_people", admin.id, study=str(sid))  # a new session: nothing in session state
    labels = [b.proto.label for b in reloaded.get("download_button")]
    assert labels == ["bonus.csv", "approve.txt"]


def test_with_everyones_pay_held_the_page_never_says_nothing_is_owed(db):
    from oversight.access import auth

    sid = _study()
    update_study(study_id=sid, user_id=None, min_seconds_per_item=3600.0, attention_exclude=1)  # all too fast
    for k in range(3):
        _finished(sid, f"P{k}", [True, False, True])
    admin = auth.create_user(role="admin", name="ada", password="long enough")
    at = run_page("study_people", admin.id, study=str(sid))
    shown = " ".join(e.value for e in [*at.success, *at.info, *at.warning])
    assert "Pay held for 3 participant(s)" in shown
    assert "everyone earned so far has been paid" not in shown
    assert payments.export_payments(study_id=sid).export_id is None  # held: nothing of theirs exported
    said = " ".join(text for _, text in payments.ledger(study_id=sid).messages())  # what the CLI prints too
    assert "Pay held for 3 participant(s)" in said and "everyone earned so far has been paid" not in said


def test_each_ending_has_its_own_code_and_returns_in_the_same_tab(db):
    sid = _study()
    update_study(study_id=sid, user_id=None, completion_code="DONE1", code_no_consent="NOCONSENT",
                 code_screened_out="SCREENED", code_timed_out="TIMEDOUT")
    with pytest.raises(Exception, match="letters, digits"):
        update_study(study_id=sid, user_id=None, code_timed_out="<b>x</b>")
    finished = _finished(sid, "P1", [True, True, True])
    assert participation.progress(user_id=finished).completion_link == \
        "https://app.prolific.com/submissions/complete?cc=DONE1"
    screened = _finished(sid, "P2", [True, True, True])
    set_override(study_id=sid, participant_id=screened, decision="exclude", user_id=None)
    out = participation.progress(user_id=screened)
    assert (out.outcome, out.completion_code) == ("screened_out", "SCREENED")
    assert out.completion_link.endswith("cc=SCREENED")


def test_consent_has_i_do_not_agree_which_returns_with_the_no_consent_code(db):
    from oversight.access import auth

    sid = _study()
    update_study(study_id=sid, user_id=None, code_no_consent="NOCONSENT")
    uid = auth.create_invites(study_id=sid, count=1)[0].user_id
    with session_scope() as s:
        s.get(User, uid).external_id = "PROLIFIC_X"
    at = run_page("participant", uid)
    next(b for b in at.button if b.label == "I do not agree").click().run()
    assert not at.exception
    html = " ".join(m.value for m in at.markdown)
    assert 'href="https://app.prolific.com/submissions/complete?cc=NOCONSENT" target="_self"' in html
    assert participation.progress(user_id=uid).outcome == "no_consent"
    with pytest.raises(participation.ParticipationError, match="chose not to take part"):
        participation.record_consent(user_id=uid)  # a declined participant cannot come back in
    again = run_page("participant", uid)  # a reload: still ended, still the way back, no task
    assert not again.exception and not again.button and "cc=NOCONSENT" in " ".join(m.value for m in again.markdown)


# --- the API mode, against a fake Prolific -----------------------------------------------------------------------


class FakeProlific:
    """The four endpoints, with a failure to inject: "pay_500" (pays, then answers 500), "pay_drop" (pays, then
    closes the connection), "pay_400" (refuses once, paying nothing), "approve_drop" (approves, then closes)."""

    def __init__(self) -> None:
        self.fail: set[str] = set()
        self.paid: list[str] = []  # bulk ids paid, one entry per payment
        self.setups: dict[str, str] = {}
        self.status: dict[str, str] = {}
        self.requests: list[tuple[str, str, dict]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _answer(self, code: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _drop(self) -> None:
                self.close_connection = True
                self.connection.close()

            def do_GET(self) -> None:
                sub = self.path.strip("/").split("/")[-1]
                self._answer(200, {"id": sub, "status": fake.status.get(sub, "AWAITING REVIEW")})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                fake.requests.append((self.path, self.headers.get("Authorization"), body))
                parts = self.path.strip("/").split("/")
                if self.path == "/api/v1/submissions/bonus-payments/":
                    bulk = f"bulk{len(fake.setups) + 1}"
                    fake.setups[bulk] = body["csv_bonuses"]
                    return self._answer(201, {"id": bulk, "study": body["study_id"]})
                if parts[:3] == ["api", "v1", "bulk-bonus-payments"] and parts[-1] == "pay":
                    if "pay_400" in fake.fail:
                        fake.fail.discard("pay_400")
                        return self._answer(400, {"error": "balance too low"})
                    fake.paid.append(parts[3])
                    if "pay_500" in fake.fail:
                        return self._answer(500, {"error": "oops"})
                    if "pay_drop" in fake.fail:
                        return self._drop()
                    return self._answer(202, {})
                if parts[-1] == "transition":
                    sub = parts[3]
                    fake.status[sub] = {"APPROVE": "APPROVED", "REJECT": "REJECTED"}[body["action"]]
                    if "approve_drop" in fake.fail:
                        fake.fail.discard("approve_drop")
                        return self._drop()
                    return self._answer(200, {"id": sub, "status": fake.status[sub]})
                self._answer(404, {})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def prolific(db, monkeypatch):
    fake = FakeProlific()
    monkeypatch.setenv("OVERSIGHT_PROLIFIC_API_URL", fake.url)
    monkeypatch.setenv("OVERSIGHT_PROLIFIC_API_TOKEN", "secret-token")
    reset_settings()
    yield fake
    fake.server.shutdown()
    reset_settings()


def _api_study() -> int:
    sid = _study()
    update_study(study_id=sid, user_id=None, prolific_study_id="abc123")
    _finished(sid, "PA", [True, True, False], session="subA")
    _finished(sid, "PB", [False, False, False], session="subB")
    return sid


def test_the_api_mode_rejects_a_screened_out_submission_with_its_category_and_a_long_enough_message(prolific):
    sid = _api_study()
    screened = _finished(sid, "PC", [True, True, True], session="subC")
    set_override(study_id=sid, participant_id=screened, decision="exclude", user_id=None)
    export = payments.export_payments(study_id=sid)
    prolific_api.send_export(export_id=export.export_id)
    [(path, _, body)] = [r for r in prolific.requests if r[0] == "/api/v1/submissions/subC/transition/"]
    assert body["action"] == "REJECT" and body["rejection_category"] == "FAILED_CHECK"
    assert "screened out by the attention checks" in body["message"] and len(body["message"]) >= 100
    assert prolific.status == {"subA": "APPROVED", "subB": "APPROVED", "subC": "REJECTED"}
    assert prolific.setups == {"bulk1": "PA,1.00\n"}  # the screened-out participant earns no bonus


def test_the_completion_url_cannot_carry_markup(db):
    from oversight.study.studies import StudyError

    sid = _study()
    for url in ('https://example.org/?cc={code}"onclick="x', "https://example.org/<b>", "https://e.org/'x"):
        with pytest.raises(StudyError, match="https://"):
            update_study(study_id=sid, user_id=None, completion_url=url)


def test_the_api_mode_pays_bonuses_approves_and_never_stores_the_token(prolific):
    sid = _api_study()
    export = payments.export_payments(study_id=sid)
    prolific_api.send_export(export_id=export.export_id)
    assert prolific.setups == {"bulk1": "PA,1.00\n"} and prolific.paid == ["bulk1"]
    assert prolific.status == {"subA": "APPROVED", "subB": "APPROVED"}
    assert {auth for _, auth, _ in prolific.requests} == {"Token secret-token"}
    prolific_api.send_export(export_id=export.export_id)  # a second press pays nothing again
    assert prolific.paid == ["bulk1"] and len(prolific.requests) == 4
    with session_scope(write=False) as s:
        rows = s.exec(select(ProlificCall)).all()
    assert {r.state for r in rows} == {"done"} and not any("secret-token" in r.answer for r in rows)


@pytest.mark.parametrize("failure", ["pay_500", "pay_drop"])
def test_a_pay_call_that_fails_after_paying_is_never_sent_again(prolific, failure):
    sid = _api_study()
    export = payments.export_payments(study_id=sid)
    prolific.fail.add(failure)
    with pytest.raises(prolific_api.ProlificError):
        prolific_api.send_export(export_id=export.export_id)
    prolific.fail.clear()
    for _ in range(2):  # retries: refused until someone has checked on Prolific
        with pytest.raises(prolific_api.ProlificError, match="may have been paid"):
            prolific_api.send_export(export_id=export.export_id)
    assert prolific.paid == ["bulk1"]
    [call] = prolific_api.unanswered(study_id=sid)
    prolific_api.settle_unanswered(call_id=call.id, happened=True)
    prolific_api.send_export(export_id=export.export_id)  # goes on with the approvals
    assert prolific.paid == ["bulk1"] and prolific.status == {"subA": "APPROVED", "subB": "APPROVED"}


def test_a_refused_pay_call_paid_nothing_and_is_sent_again(prolific):
    sid = _api_study()
    export = payments.export_payments(study_id=sid)
    prolific.fail.add("pay_400")
    with pytest.raises(prolific_api.Refused):
        prolific_api.send_export(export_id=export.export_id)
    assert prolific.paid == []
    prolific_api.send_export(export_id=export.export_id)
    assert prolific.paid == ["bulk1"]


def test_an_unanswered_approval_is_checked_before_it_is_sent_again(prolific):
    sid = _api_study()
    export = payments.export_payments(study_id=sid)
    prolific.fail.add("approve_drop")
    with pytest.raises(prolific_api.ProlificError):
        prolific_api.send_export(export_id=export.export_id)
    prolific_api.send_export(export_id=export.export_id)
    transitions = [path for path, _, _ in prolific.requests if path.endswith("/transition/")]
    assert sorted(transitions) == ["/api/v1/submissions/subA/transition/", "/api/v1/submissions/subB/transition/"]
    assert prolific.paid == ["bulk1"]


def test_the_command_line_sets_the_codes_exports_writes_files_again_and_sends_without_paying_twice(prolific,
                                                                                                   tmp_path):
    import os

    from tests.test_cli import _runner

    cli = _runner(dict(os.environ))
    sid = _api_study()
    cli("study", "set", "--study", str(sid), "--code-timed-out", "LATE", "--code-no-consent", "NO")
    with session_scope(write=False) as s:
        from storage.models import Study
        assert (s.get(Study, sid).code_timed_out, s.get(Study, sid).code_no_consent) == ("LATE", "NO")
    assert "2 to approve" in cli("payments", "export", "--study", str(sid)).stdout
    cli("payments", "files", "--study", str(sid), "--out", str(tmp_path / "files"))
    assert sorted(p.name for p in (tmp_path / "files").iterdir()) == [
        f"study-{sid}-export-1-approve.txt", f"study-{sid}-export-1-bonus.csv"]
    prolific.fail.add("pay_500")
    failed = cli("payments", "send", "--study", str(sid), ok=False)
    assert failed.returncode != 0 and "secret-token" not in failed.stdout + failed.stderr
    prolific.fail.clear()
    again = cli("payments", "send", "--study", str(sid), ok=False)
    assert "may have been paid" in again.stdout + again.stderr
    [call] = prolific_api.unanswered(study_id=sid)
    cli("payments", "settle", "--call", str(call.id), "--paid", "yes")
    cli("payments", "send", "--study", str(sid))
    assert prolific.paid == ["bulk1"] and prolific.status == {"subA": "APPROVED", "subB": "APPROVED"}


def test_the_payments_section_sends_an_export_and_settles_an_unanswered_call(prolific):
    from oversight.access import auth

    sid = _api_study()
    payments.export_payments(study_id=sid)
    admin = auth.create_user(role="admin", name="ada", password="long enough")
    prolific.fail.add("pay_drop")
    at = run_page("study_people", admin.id, study=str(sid))
    next(b for b in at.button if b.label == "Send the latest export to Prolific (API)").click().run()
    assert any("no answer" in e.value for e in at.error)
    prolific.fail.clear()
    at = run_page("study_people", admin.id, study=str(sid))
    assert any("got no answer" in w.value for w in at.warning)
    next(b for b in at.button if b.label == "It happened").click().run()
    next(b for b in at.button if b.label == "Send the latest export to Prolific (API)").click().run()
    assert any(s.value.startswith("Sent:") for s in at.success)
    assert prolific.paid == ["bulk1"]
    everything = " ".join(str(e.proto) for e in at.main)
    assert "secret-token" not in everything  # the token is never on a page


def test_a_participant_whose_time_ran_out_on_every_task_gets_the_timed_out_code(db):
    from storage.models import Assignment

    sid = _study()
    update_study(study_id=sid, user_id=None, code_timed_out="LATE")
    uid = _participant(sid, "P_LATE")
    participation.next_task(user_id=uid)
    with session_scope() as s:
        for a in s.exec(select(Assignment).where(Assignment.participant_id == uid)).all():
            a.state = "skipped"
    out = participation.progress(user_id=uid)
    assert (out.outcome, out.completion_code) == ("timed_out", "LATE")
    assert out.completion_link == "https://app.prolific.com/submissions/complete?cc=LATE"
