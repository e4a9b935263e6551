"""The optional Prolific API mode: post an export's bonuses, approve and reject its submissions, read their status.

Exactly once, in the database: every call is a `ProlificCall` row with a unique key, committed as "sent" before the
request leaves and marked "done" (or "refused", on a 4xx: Prolific did nothing) when the answer comes. The pay call
(`POST /api/v1/bulk-bonus-payments/{id}/pay/`) is not idempotent, so one whose answer never came (a 5xx, a dropped
connection, a process killed mid-call) stays "sent" and is never sent again by a retry: an admin checks the bonus on
Prolific and records what happened (`settle_unanswered`). An unanswered approval or rejection is safe to check: a
retry reads the submission's status and sends the transition only if it has not happened. Setting up a bulk bonus
pays nothing, so it is simply set up again. The token comes from the settings (an environment variable), never
from the database. A small urllib client: no dependency for four endpoints.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from oversight.audit import log_event
from oversight.db import session_scope
from oversight.settings import get_settings
from oversight.study.payments import REJECT_REASONS
from storage.models import PaymentExport, ProlificCall, Study, utcnow

# Prolific's rejection categories for our reasons to reject.
CATEGORIES = {REJECT_REASONS["screened_out"]: "FAILED_CHECK", REJECT_REASONS["timed_out"]: "TOO_SLOWLY"}
DONE_STATUS = {"approve": "APPROVED", "reject": "REJECTED"}


class ProlificError(Exception):
    """The API mode cannot go on; the message is safe to show (it never holds the token)."""


class Refused(ProlificError):
    """Prolific answered with a 4xx: the request did nothing."""


class NoAnswer(ProlificError):
    """No answer, or a 5xx: the request may or may not have been carried out."""


def api_mode(study: Study) -> bool:
    """On when the token is set (environment) and the study names its Prolific study."""
    return get_settings().prolific_api_token is not None and bool(study.prolific_study_id)


def _request(method: str, path: str, body: dict | None = None) -> dict:
    settings = get_settings()
    if settings.prolific_api_token is None:
        raise ProlificError("no Prolific API token: set OVERSIGHT_PROLIFIC_API_TOKEN where the app runs")
    request = urllib.request.Request(
        settings.prolific_api_url.rstrip("/") + path, method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Token {settings.prolific_api_token.get_secret_value()}",
                 "Content-Type": "application/json", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as exc:
        text = exc.read()[:300].decode(errors="replace")
        if 400 <= exc.code < 500:
            raise Refused(f"Prolific refused {method} {path}: HTTP {exc.code} {text}") from None
        raise NoAnswer(f"Prolific answered {method} {path} with HTTP {exc.code}") from None
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        raise NoAnswer(f"no answer from Prolific to {method} {path}: {type(exc).__name__}") from None


def submission_status(submission_id: str) -> str:
    """A submission's status on Prolific (AWAITING REVIEW, APPROVED, REJECTED, RETURNED, ...)."""
    return str(_request("GET", f"/api/v1/submissions/{submission_id}/").get("status", ""))


@dataclass(frozen=True)
class Claim:
    call_id: int
    resend: bool  # True: a previous attempt of this call was sent and not answered


def _claim(*, study_id: int, key: str, action: str, export_id: int | None = None,
           remote_id: str | None = None) -> Claim | None:
    """Record the call as sent and commit, before it is sent. None: it was done already. A call that was sent and
    never answered is returned with `resend` so the caller decides (never for a pay call: see `_call`)."""
    try:
        with session_scope() as s:
            row = s.exec(select(ProlificCall).where(ProlificCall.key == key).with_for_update()).first()
            if row is None:
                row = ProlificCall(study_id=study_id, export_id=export_id, action=action, key=key,
                                   remote_id=remote_id)
                s.add(row)
                s.flush()
                return Claim(row.id, False)
            if row.state == "done":
                return None
            resend = row.state == "sent"
            row.state, row.answer, row.answered_at = "sent", "", None
            row.remote_id = remote_id or row.remote_id
            return Claim(row.id, resend)
    except IntegrityError:
        raise ProlificError("another process is sending this to Prolific just now; try again in a moment") from None


def _answered(call_id: int, state: str, answer: str, remote_id: str | None = None) -> None:
    with session_scope() as s:
        row = s.get(ProlificCall, call_id)
        row.state, row.answer, row.answered_at = state, answer[:500], utcnow()
        if remote_id:
            row.remote_id = remote_id
        log_event(s, f"prolific.{row.action}", study_id=row.study_id, call=row.id, state=state)


def _call(claim: Claim, method: str, path: str, body: dict | None = None) -> dict:
    try:
        answer = _request(method, path, body)
    except Refused as exc:
        _answered(claim.call_id, "refused", str(exc))
        raise
    # NoAnswer leaves the row "sent": whether Prolific did it is unknown until someone checks.
    _answered(claim.call_id, "done", json.dumps(answer)[:500], str(answer.get("id") or "") or None)
    return answer


def _pay_bonuses(export: PaymentExport, prolific_study: str) -> str:
    plan = export.plan or {}
    if not plan.get("bonus"):
        return "no bonus to pay"
    csv = "".join(f"{pid},{amount:.2f}\n" for pid, amount in plan["bonus"])
    setup = _claim(study_id=export.study_id, key=f"bonus_setup:export:{export.id}", action="bonus_setup",
                   export_id=export.id)
    if setup is not None:  # setting up pays nothing, so an unanswered setup is simply set up again
        _call(setup, "POST", "/api/v1/submissions/bonus-payments/", {"study_id": prolific_study, "csv_bonuses": csv})
    with session_scope(write=False) as s:
        bulk_id = s.exec(select(ProlificCall.remote_id).where(
            ProlificCall.key == f"bonus_setup:export:{export.id}")).one()
    pay = _claim(study_id=export.study_id, key=f"bonus_pay:export:{export.id}", action="bonus_pay",
                 export_id=export.id, remote_id=bulk_id)
    if pay is None:
        return "bonuses paid already"
    if pay.resend:  # the row stays "sent"
        raise ProlificError(f"The bonus payment of export {export.id} was sent to Prolific and no answer came: it may "
                            "have been paid. Check the study's bonuses on Prolific, then record what happened "
                            f"(`python -m oversight payments settle --call {pay.call_id} --paid yes|no`, or the "
                            "Payments section). It is not sent again until then.")
    _call(pay, "POST", f"/api/v1/bulk-bonus-payments/{bulk_id}/pay/")
    return f"bonuses paid ({len(plan['bonus'])})"


def _transition(export: PaymentExport, action: str, submission: str, reason: str = "") -> None:
    claim = _claim(study_id=export.study_id, key=f"{action}:{submission}", action=action, export_id=export.id,
                   remote_id=submission)
    if claim is None:
        return
    if claim.resend and submission_status(submission) == DONE_STATUS[action]:
        _answered(claim.call_id, "done", f"found {DONE_STATUS[action]} on Prolific")
        return
    body = {"action": action.upper()}
    if action == "reject":
        # Prolific asks for a message of at least 100 characters and a category.
        body |= {"rejection_category": CATEGORIES.get(reason, "OTHER"),
                 "message": f"Your submission is rejected: {reason}. This follows the study's rules, set before "
                            "it opened; please contact the researchers if you think it is a mistake."}
    _call(claim, "POST", f"/api/v1/submissions/{submission}/transition/", body)


def send_export(*, export_id: int, by: int | None = None) -> list[str]:
    """Send one export to Prolific: its bonuses, then its approvals and rejections. Safe to run again after any
    failure: what was done is not done twice. Returns what happened, a line each."""
    with session_scope(write=False) as s:
        export = s.get(PaymentExport, export_id)
        study = s.get(Study, export.study_id) if export else None
    if export is None or study is None:
        raise ProlificError(f"no payment export {export_id}")
    if not api_mode(study):
        raise ProlificError("the Prolific API mode is off: set OVERSIGHT_PROLIFIC_API_TOKEN and the study's Prolific "
                            "study id (Study settings)")
    plan = export.plan or {}
    lines = [_pay_bonuses(export, study.prolific_study_id)]
    skipped = 0
    for action, rows in (("approve", plan.get("approve", [])), ("reject", plan.get("reject", []))):
        for row in rows:
            if not row[1]:  # no submission id (SESSION_ID) recorded: do it on Prolific by hand
                skipped += 1
                continue
            _transition(export, action, row[1], row[2] if action == "reject" else "")
        lines.append(f"{action}: {len(rows)} submission(s)")
    if skipped:
        lines.append(f"{skipped} without a Prolific submission id: approve or reject them on Prolific by hand")
    with session_scope() as s:
        log_event(s, "prolific.export_sent", user_id=by, study_id=export.study_id, export=export_id)
    return lines


def unanswered(*, study_id: int) -> list[ProlificCall]:
    """Calls sent and never answered: a pay call among them waits for an admin (`settle_unanswered`)."""
    with session_scope(write=False) as s:
        return list(s.exec(select(ProlificCall).where(ProlificCall.study_id == study_id,
                                                      ProlificCall.state == "sent").order_by(ProlificCall.id)).all())


def settle_unanswered(*, call_id: int, happened: bool, by: int | None = None) -> None:
    """An admin checked on Prolific: the unanswered call did happen (done) or did not (refused: it may be sent
    again)."""
    with session_scope() as s:
        row = s.exec(select(ProlificCall).where(ProlificCall.id == call_id).with_for_update()).first()
        if row is None or row.state != "sent":
            raise ProlificError(f"call {call_id} is not waiting for a decision")
        row.state, row.answered_at = ("done" if happened else "refused"), utcnow()
        row.answer = f"settled by an admin: {'it happened' if happened else 'it did not happen'}"
        log_event(s, "prolific.settle", user_id=by, study_id=row.study_id, call=call_id, happened=happened)
