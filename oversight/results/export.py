"""Admin export of one study to a folder: everything needed to analyse it elsewhere.

Files (JSON lines, one row per line, ordered by id; datetimes in ISO 8601 UTC):
- `items.jsonl` — items WITH their gold (`gold_index`, `gold_answer`, `explanation`): admins only
- `strategies.jsonl`, `transcripts.jsonl`, `turns.jsonl`, `judgments.jsonl` (every judgment, with its `status`)
- `rubrics.jsonl` — every rubric version; `reviews.jsonl` — expert reviews and adjudications, each with
  `final_status` {field: single | unanimous | adjudicated | open} of its assignment's labels (None: a review of an
  imported transcript without an assignment)
- `final_labels.jsonl` — per reviewed assignment, each rubric field's settled `value` (None while open) and `status`
- `judgments.csv` — one row per judgment, flat, with the item's gold and the probability on it
- `conditions.jsonl` — the study's conditions; `assignments.jsonl` — every item dealt to every person, with its
  condition, strategy version, position, state, times, whether it was practice or an attention check, whether it
  timed out (`timed_out`: state "skipped", no answer) and the probability its version had of being drawn (the
  design as it was dealt; judgments and reviews point here by `assignment_id`)
- `participants.jsonl` — the study's participants: pseudonym, recruiting-platform ID, consent time, whether
  simulated or a staff member's preview, why their answers are not results (`left_out`: excluded, preview,
  simulated, or None), and their attention flags and status (`ok` | `warn` | `excluded`, with the admin's
  override)
- `questionnaires.jsonl`, `proposals.jsonl`, `version_decisions.jsonl` — the sandwiching loops: participants'
  answers about each condition, their proposals for a strategy and what became of them, and the outer loop's
  candidate / promoted / retired decisions with their reasons
- `study.json` — the study's settings (design, attention checks, pay; not its enrolment secret)
- `people.jsonl` — every account the study's rows name (its participants, the experts who answered or reviewed,
  the staff who made its strategies, rubrics and payment exports): role, pseudonym, platform ids, consent and
  attention override, never a password or link token
- `ai_labellers.jsonl` and `ai_labels.jsonl` — the RLAIF labeller versions that labelled the study's items, and
  their labels
- `design_places.jsonl` — each person's place in the design; `payment_exports.jsonl` and `payouts.jsonl` — every
  payment export and what it paid whom (base once per person, a bonus once per assignment)
- `manifest.json` — format `oversight-export`, schema revision, study, export time, row counts per file and of
  results (returned by `export_study`)

With these the export is also a study's move between installations: `python -m oversight import --format
oversight-export DIR_OR_ZIP` (oversight.importers.oversight_export) rebuilds it, ids remapped in order.

Nothing is left out: every judgment, assignment and participant is exported, and every judgment and assignment
row carries a `status` (`oversight.results.results_filter.row_status`): `result`, or why it is not one (`practice`,
`catch`, `excluded`, `simulated` outside a dry run, `preview`). Filtering on `status == "result"` gives exactly
the answers the app's figures use.
"""

from __future__ import annotations

import csv
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlmodel import SQLModel, col, select

from oversight.db import session_scope
from oversight.results.judgment_records import BATCH, judgment_records
from oversight.study.attention import CATCH, study_attention
from oversight.study.lifecycle import record_export
from oversight.results.results_filter import PRACTICE, SUPERSEDED, left_out_reasons, row_status
from oversight.sandwiching.reviews import final_labels
from oversight.text import spreadsheet_safe_row
from oversight.vocab import SIMULATED
from storage.models import (
    Assignment, Condition, DesignPlace, ExpertReview, Item, ItemGold, Judgment, PaymentExport, Payout, Proposal,
    QuestionnaireAnswer, RlaifLabel, RlaifLabeller, Rubric, Strategy, Study, Transcript, Turn, User, VersionDecision,
)

FORMAT = "oversight-export"
FORMAT_VERSION = 1
# Never exported: secrets (stored hashed, but a hash is still a secret) and sign-in counters.
PERSON_LEFT_OUT = frozenset({"password_hash", "token_hash", "failed_logins", "last_failed_at"})

CSV_COLUMNS = [
    "judgment_id", "status", "item_id", "item_external_id", "transcript_id", "transcript_external_id", "setting",
    "origin", "strategy_id", "assignment_id", "judge_kind", "judge_id", "judge_name", "round", "is_final",
    "probabilities", "answer_index", "answer_form", "gold_index", "p_correct", "correct", "seconds", "created_at",
]


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.isoformat()
    return value


def _row(record: SQLModel) -> dict[str, Any]:
    return {k: _jsonable(v) for k, v in record.model_dump().items()}


# Columns renamed or split by migration 0010 keep their old names in the export, so analyses written against
# earlier exports still run: a transcript's one `setting`, an assignment's `arm` (its protocol), a review's
# `verdict` (its outcome label) and `score` (never set since rubric reviews).
def _transcript_row(t: Transcript) -> dict[str, Any]:
    row = {("setting" if k == "protocol" else k): v for k, v in _row(t).items() if k != "source_setting"}
    row["setting"] = t.setting
    return row


def _people(s, study_id: int) -> list[User]:
    """Every account a row of the study names (its participants, and whoever answered, reviewed, decided, paid or
    made one of its versions), by id."""
    named: set[int] = set(s.exec(select(User.id).where(User.study_id == study_id)).all())
    for column, table in ((Assignment.participant_id, Assignment), (DesignPlace.user_id, DesignPlace),
                          (ExpertReview.expert_id, ExpertReview), (QuestionnaireAnswer.user_id, QuestionnaireAnswer),
                          (Proposal.user_id, Proposal), (Proposal.decided_by, Proposal),
                          (VersionDecision.user_id, VersionDecision), (Strategy.created_by, Strategy),
                          (Rubric.created_by, Rubric), (PaymentExport.created_by, PaymentExport),
                          (Payout.user_id, Payout)):
        named.update(s.exec(select(column).where(table.study_id == study_id)).all())
    named.update(s.exec(select(Judgment.judge_id).join(Item, Item.id == Judgment.item_id)
                        .where(Item.of_study(study_id))).all())
    named.discard(None)
    users = list(s.exec(select(User).where(col(User.id).in_(sorted(named))).order_by(User.id)).all()) if named \
        else []
    staff = {u.preview_by for u in users} - named - {None}  # who previewed: a staff account
    if staff:
        users += s.exec(select(User).where(col(User.id).in_(sorted(staff)))).all()
    return sorted(users, key=lambda u: u.id)


def _assignment_row(a: Assignment) -> dict[str, Any]:
    return {("arm" if k == "protocol" else k): v for k, v in _row(a).items()}


def _review_row(r: ExpertReview) -> dict[str, Any]:
    return {**_row(r), "score": None, "verdict": str((r.labels or {}).get("outcome", ""))}


def export_study(*, study_id: int, out_dir: Path, user_id: int | None = None) -> dict[str, Any]:
    out_dir = Path(out_dir)
    counts: dict[str, int] = {}
    with session_scope(write=False) as s:
        study = s.get(Study, study_id)
        if study is None:
            raise ValueError(f"study {study_id} does not exist")
        out_dir.mkdir(parents=True, exist_ok=True)

        def write_jsonl(name: str, statement, to_row) -> None:
            n = 0
            with (out_dir / name).open("w", encoding="utf-8") as f:
                for record in s.exec(statement.execution_options(yield_per=BATCH)):
                    f.write(json.dumps(to_row(record), ensure_ascii=False) + "\n")
                    n += 1
            counts[name] = n

        def item_row(record) -> dict[str, Any]:
            item, gold = record
            row = _row(item)
            row["gold_index"] = gold.gold_index if gold else None
            row["gold_answer"] = (
                item.options[gold.gold_index] if gold and 0 <= gold.gold_index < len(item.options) else None
            )
            row["explanation"] = gold.explanation if gold else None
            return row

        write_jsonl(
            "items.jsonl",
            select(Item, ItemGold).outerjoin(ItemGold, ItemGold.item_id == Item.id)
            .where(Item.of_study(study_id)).order_by(Item.id),
            item_row,
        )
        write_jsonl("strategies.jsonl", select(Strategy).where(Strategy.study_id == study_id).order_by(Strategy.id), _row)
        write_jsonl("transcripts.jsonl", select(Transcript).where(Transcript.of_study(study_id))
                    .order_by(Transcript.id), _transcript_row)
        write_jsonl(
            "turns.jsonl",
            select(Turn).join(Transcript, Transcript.id == Turn.transcript_id)
            .where(Transcript.of_study(study_id)).order_by(Turn.transcript_id, Turn.position),
            _row,
        )
        # Every judgment is exported, with its status: the filter is applied by whoever reads the export.
        reasons = left_out_reasons(s, study_id)
        split = dict(s.exec(select(Item.id, Item.split).where(Item.of_study(study_id))).all())
        superseded = set(s.exec(select(Transcript.id).where(Transcript.of_study(study_id),
                                                            Transcript.status == SUPERSEDED)).all())

        def status(*, practice: bool, catch: bool, item_id: int, person: int | None,
                   transcript_id: int | None = None) -> str:
            reason = reasons.get(person) if person is not None else None
            return row_status(practice=practice or split.get(item_id) == PRACTICE,
                              catch=catch or split.get(item_id) == CATCH, left_out_reason=reason,
                              preview=reason == "preview", superseded=transcript_id in superseded)

        def assignment_status(a: Assignment) -> str:
            return status(practice=a.practice, catch=a.catch, item_id=a.item_id, person=a.participant_id)

        dealt = {aid: status(practice=practice, catch=catch, item_id=item_id, person=person)
                 for aid, practice, catch, item_id, person in s.exec(
                     select(Assignment.id, Assignment.practice, Assignment.catch, Assignment.item_id,
                            Assignment.participant_id).where(Assignment.study_id == study_id)).all()}

        def judgment_status(item_id: int, assignment_id: int | None, transcript_id: int | None) -> str:
            """A judgment's status is its assignment's; one without (an AI run, an imported room) is a result
            unless it is on a catch or practice item or its run was superseded, as in results_filter.is_result."""
            if assignment_id is not None and assignment_id in dealt:
                return dealt[assignment_id]
            return status(practice=False, catch=False, item_id=item_id, person=None, transcript_id=transcript_id)

        def judgment_row(j: Judgment) -> dict[str, Any]:
            return {**_row(j), "status": judgment_status(j.item_id, j.assignment_id, j.transcript_id)}

        write_jsonl("judgments.jsonl", select(Judgment).join(Item, Item.id == Judgment.item_id)
                    .where(Item.of_study(study_id), Judgment.landed()).order_by(Judgment.id), judgment_row)
        n = n_results = 0
        with (out_dir / "judgments.csv").open("w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
            writer.writeheader()
            # The form a person answered with (vocab.ANSWER_FORMS); empty for models and imported judgments.
            forms = dict(s.exec(select(Judgment.id, Judgment.answer_form).join(Item, Item.id == Judgment.item_id)
                                .where(Item.of_study(study_id), Judgment.answer_form != None)).all())  # noqa: E711
            for r in judgment_records(s, study_id=study_id, gold_only=False, results_only=False):
                p = r.p_correct
                writer.writerow(spreadsheet_safe_row({
                    "judgment_id": r.id,
                    "status": judgment_status(r.item_id, r.assignment_id, r.transcript_id),
                    "item_id": r.item_id,
                    "item_external_id": r.item_external_id,
                    "transcript_id": r.transcript_id,
                    "transcript_external_id": r.transcript_external_id,
                    "setting": r.setting,
                    "origin": r.origin if r.transcript_id is not None else "live",
                    "strategy_id": r.strategy_id,
                    "assignment_id": r.assignment_id,
                    "judge_kind": r.judge_kind,
                    "judge_id": r.judge_id,
                    "judge_name": r.judge_name,
                    "round": r.round,
                    "is_final": int(r.is_final),
                    "probabilities": json.dumps(list(r.probabilities)),
                    "answer_index": r.answer_index,
                    "answer_form": forms.get(r.id),
                    "gold_index": r.gold,
                    "p_correct": p,
                    "correct": None if r.correct is None else int(r.correct),
                    "seconds": r.seconds,
                    "created_at": _jsonable(r.created_at),
                }))
                n += 1
                n_results += judgment_status(r.item_id, r.assignment_id, r.transcript_id) == "result"
        counts["judgments.csv"] = n
        settled = final_labels(study_id=study_id)

        def review_row(record: ExpertReview) -> dict[str, Any]:
            row = _review_row(record)
            labels = settled.get(record.assignment_id) if record.assignment_id is not None else None
            row["final_status"] = {f: v.status for f, v in labels.items()} if labels is not None else None
            return row

        write_jsonl("rubrics.jsonl", select(Rubric).where(Rubric.study_id == study_id).order_by(Rubric.version), _row)
        write_jsonl(
            "reviews.jsonl",
            select(ExpertReview).where(ExpertReview.study_id == study_id).order_by(ExpertReview.id),
            review_row,
        )
        with (out_dir / "final_labels.jsonl").open("w", encoding="utf-8") as f:
            for aid in sorted(settled):
                labels = {name: {"value": v.value, "status": v.status} for name, v in settled[aid].items()}
                f.write(json.dumps({"assignment_id": aid, "labels": labels}, ensure_ascii=False) + "\n")
        counts["final_labels.jsonl"] = len(settled)
        write_jsonl("conditions.jsonl", select(Condition).where(Condition.study_id == study_id)
                    .order_by(Condition.position, Condition.id), _row)
        write_jsonl("assignments.jsonl", select(Assignment).where(Assignment.study_id == study_id)
                    .order_by(Assignment.participant_id, Assignment.position),
                    lambda a: {**_assignment_row(a), "status": assignment_status(a), "timed_out": a.state == "skipped"})
        flags = {a.user_id: a for a in study_attention(s, study)}

        def person_row(user: User) -> dict[str, Any]:
            a = flags.get(user.id)
            return {"id": user.id, "name": user.name, "external_id": user.external_id,
                    "consented_at": _jsonable(user.consented_at), "withdrawn": bool(user.token_revoked),
                    "simulated": user.external_study_id == SIMULATED, "preview": user.preview_by is not None,
                    "left_out": reasons.get(user.id),
                    "attention": None if a is None else {
                        "catch_answered": a.catch_answered, "catch_wrong": a.catch_wrong, "too_fast": a.too_fast,
                        "flags": a.flags, "status": a.status, "override": a.override}}

        write_jsonl("participants.jsonl", select(User).where(User.study_id == study_id, User.role == "participant")
                    .order_by(User.id), person_row)
        for name, table in (("questionnaires.jsonl", QuestionnaireAnswer), ("proposals.jsonl", Proposal),
                            ("version_decisions.jsonl", VersionDecision)):
            write_jsonl(name, select(table).where(table.study_id == study_id).order_by(table.id), _row)
        for name, table in (("design_places.jsonl", DesignPlace), ("payment_exports.jsonl", PaymentExport),
                            ("payouts.jsonl", Payout)):
            write_jsonl(name, select(table).where(table.study_id == study_id).order_by(table.id), _row)
        labels = select(RlaifLabel).join(Item, Item.id == RlaifLabel.item_id).where(Item.of_study(study_id))
        write_jsonl("ai_labellers.jsonl", select(RlaifLabeller).where(col(RlaifLabeller.id).in_(
            labels.with_only_columns(RlaifLabel.labeller_id))).order_by(RlaifLabeller.id), _row)
        write_jsonl("ai_labels.jsonl", labels.order_by(RlaifLabel.id), _row)
        people = _people(s, study_id)
        with (out_dir / "people.jsonl").open("w", encoding="utf-8") as f:
            for user in people:
                row = {k: v for k, v in _row(user).items() if k not in PERSON_LEFT_OUT}
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        counts["people.jsonl"] = len(people)
        # Not the link's hash, nor when this database last exported it (a fact of this copy, not of the study).
        settings = {k: v for k, v in _row(study).items() if k not in ("enrol_token_hash", "exported_at")}
        (out_dir / "study.json").write_text(json.dumps(settings, indent=2, ensure_ascii=False) + "\n",
                                            encoding="utf-8")
        study_name = study.name
        revision = s.connection().exec_driver_sql("SELECT version_num FROM alembic_version").scalar()

    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "schema_revision": revision,
        "study_id": study_id,
        "study": study_name,
        "exported_at": datetime.now(timezone.utc).isoformat(),
        "contains_gold": True,
        "counts": {
            "items": counts["items.jsonl"],
            "strategies": counts["strategies.jsonl"],
            "transcripts": counts["transcripts.jsonl"],
            "turns": counts["turns.jsonl"],
            "judgments": counts["judgments.jsonl"],
            "results": n_results,
            "reviews": counts["reviews.jsonl"],
            "rubrics": counts["rubrics.jsonl"],
            "final_labels": counts["final_labels.jsonl"],
        },
        "files": {name: n for name, n in counts.items()},
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    # Written down once the files are: deleting the study needs an export (oversight.study.lifecycle).
    record_export(study_id=study_id, user_id=user_id)
    return manifest


def export_zip(*, study_id: int, user_id: int | None = None) -> tuple[str, bytes]:
    """The same export as one zip (file name, bytes), for a download from the Results page."""
    import io
    import tempfile
    import zipfile

    with tempfile.TemporaryDirectory(prefix="oversight-export-") as tmp:
        manifest = export_study(study_id=study_id, out_dir=Path(tmp), user_id=user_id)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(Path(tmp).iterdir()):
                zf.write(path, arcname=path.name)
    stamp = manifest["exported_at"][:16].replace(":", "").replace("-", "")
    return f"study-{study_id}-{stamp}.zip", buf.getvalue()
