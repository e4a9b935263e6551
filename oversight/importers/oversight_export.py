"""`import --format oversight-export DIR_OR_ZIP`: a study written by `python -m oversight export` (or the Results
page's download) becomes a new study here, whole: its settings, items with gold, strategies and their versions,
rubrics, conditions, people, assignments, design places, transcripts with turns, judgments, expert reviews (their
labels), RLAIF labels (and the labeller versions that made them), questionnaires, proposals, version decisions,
payment exports and payouts.

Ids stay stable: a table's rows keep their exported ids where none of them is taken here (always so in a new
database), so the export's files, analyses written against them and the report read the same (the seeded
bootstrap visits people and items in an order that depends on their id values, so only the same ids give the same
intervals to the last digit). Where some id is taken, that table's rows get new ids in the order of the exported
ones, and every reference between the study's rows (a judgment's assignment, a version's parent, a decision's
reviews, ...) points at the new row. Items and imported transcripts keep their `external_id` either way.

Staff accounts (experts, admins) are matched by role and name with the accounts here, or made without a password
(`python -m oversight set-password` gives them one); participants are new accounts without a link (the export holds
no tokens). A dry-run copy stays a dry run (of itself: its original is not in the export).

The study lands in ONE transaction: until it commits nothing of it is visible, and a failure leaves nothing behind.
It uses `importers.common` only for `ImportFailed` and the zip bounds, and writes its own `ImportBatch` row (state
"done" at the commit), so it is independent of how `land` stages other formats.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.exc import StatementError
from sqlmodel import SQLModel, col, select

from oversight.audit import log_event
from oversight.backup import reset_sequences, row_decoder
from oversight.db import session_scope
from oversight.importers.common import ImportFailed
from storage.models import (
    Assignment, Condition, DesignPlace, ExpertReview, ImportBatch, Item, ItemGold, Judgment, PaymentExport, Payout,
    Proposal, QuestionnaireAnswer, RlaifLabel, RlaifLabeller, Rubric, Strategy, Study, Transcript, Turn, User,
    VersionDecision,
)

FORMAT = "oversight-export"
STAFF_ROLES = ("admin", "expert")

# The study's files in the order they are written (parents first), each with its table and, per column that names
# another row, the table whose ids it holds.
PLAN: tuple[tuple[str, type[SQLModel], dict[str, str]], ...] = (
    ("strategies.jsonl", Strategy, {"parent_id": "strategy", "created_by": "user"}),
    ("rubrics.jsonl", Rubric, {"created_by": "user"}),
    ("conditions.jsonl", Condition, {"strategy_id": "strategy"}),
    ("assignments.jsonl", Assignment, {"participant_id": "user", "item_id": "item", "strategy_id": "strategy",
                                       "condition_id": "condition"}),
    ("design_places.jsonl", DesignPlace, {"user_id": "user"}),
    ("transcripts.jsonl", Transcript, {"item_id": "item", "strategy_id": "strategy", "assignment_id": "assignment",
                                       "import_id": "importbatch"}),
    ("turns.jsonl", Turn, {"transcript_id": "transcript"}),
    ("judgments.jsonl", Judgment, {"item_id": "item", "transcript_id": "transcript", "assignment_id": "assignment",
                                   "judge_id": "user"}),
    ("reviews.jsonl", ExpertReview, {"expert_id": "user", "transcript_id": "transcript",
                                     "assignment_id": "assignment", "rubric_id": "rubric"}),
    ("questionnaires.jsonl", QuestionnaireAnswer, {"user_id": "user", "condition_id": "condition",
                                                   "strategy_id": "strategy"}),
    ("proposals.jsonl", Proposal, {"user_id": "user", "strategy_id": "strategy", "child_strategy_id": "strategy",
                                   "decided_by": "user"}),
    ("version_decisions.jsonl", VersionDecision, {"strategy_id": "strategy", "proposal_id": "proposal",
                                                  "user_id": "user"}),
    ("ai_labels.jsonl", RlaifLabel, {"labeller_id": "rlaiflabeller", "item_id": "item"}),
    ("payment_exports.jsonl", PaymentExport, {"created_by": "user"}),
    ("payouts.jsonl", Payout, {"export_id": "paymentexport", "user_id": "user", "assignment_id": "assignment"}),
)
REQUIRED = ("manifest.json", "study.json", "items.jsonl", "people.jsonl")


@dataclass
class ExportImport:
    study_id: int
    import_id: int
    source: str
    exported_study_id: int | None
    counts: dict[str, int] = field(default_factory=dict)
    staff_matched: list[str] = field(default_factory=list)  # staff accounts that already existed here
    staff_created: list[str] = field(default_factory=list)  # made without a password
    ids_kept: bool = False  # every row kept its exported id (they were all free here)

    @property
    def message(self) -> str:
        made = f"; new staff accounts without a password: {', '.join(self.staff_created)}" \
            if self.staff_created else ""
        rows = ", ".join(f"{n} {name}" for name, n in self.counts.items() if n)
        return f"Imported study {self.study_id} from {self.source}: {rows}{made}."


def _lines(folder: Path, name: str) -> Iterator[tuple[int, dict[str, Any]]]:
    path = folder / name
    if not path.exists():
        return
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if line.strip():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ImportFailed(path, number, None, f"not JSON ({exc.msg})") from None
                if not isinstance(row, dict):
                    raise ImportFailed(path, number, None, "a line must be a JSON object")
                yield number, row


class _Ids:
    """Old id -> new id, per table."""

    def __init__(self) -> None:
        self.maps: dict[str, dict[int, int]] = {}

    def of(self, table: str) -> dict[int, int]:
        return self.maps.setdefault(table, {})

    def point(self, row: dict, refs: dict[str, str], model: type[SQLModel], file: str, line: int) -> None:
        columns = model.__table__.columns
        for column, table in refs.items():
            old = row.get(column)
            if old is None:
                continue
            new = self.of(table).get(old)
            if new is None and not columns[column].nullable:
                raise ImportFailed(file, line, column, f"names {table} {old}, which the export does not hold")
            row[column] = new


def _values(model: type[SQLModel], row: dict, **fixed: Any) -> dict[str, Any]:
    columns = model.__table__.columns.keys()
    values = row_decoder(model.__table__)({k: v for k, v in row.items() if k in columns and k != "id"})
    study_id = fixed.pop("study_id")
    if "study_id" in columns:
        values["study_id"] = study_id
    values.update(fixed)
    return values


def _free(s, model: type[SQLModel], old_ids: list[int]) -> bool:
    """Whether none of these ids is taken in this database's table: then the rows keep them (see the module
    docstring)."""
    for start in range(0, len(old_ids), 500):
        chunk = old_ids[start:start + 500]
        if s.exec(select(model.id).where(col(model.id).in_(chunk)).limit(1)).first() is not None:
            return False
    return True


def _folder(path: Path, tmp: str) -> Path:
    if path.is_dir():
        return path
    if path.suffix.lower() != ".zip":
        raise ImportFailed(path, None, None, "give the export's folder or its zip")
    from oversight.importers.bounds import extract_zip

    folder = Path(tmp) / "export"
    folder.mkdir()
    extract_zip(path, folder, path.name)
    inner = [p for p in folder.iterdir() if not p.name.startswith((".", "__"))]
    return inner[0] if len(inner) == 1 and inner[0].is_dir() else folder


def import_export(*, path: Path, user_id: int | None = None) -> ExportImport:
    """Make a new study from an export folder or zip; all or nothing (one transaction)."""
    path = Path(path)
    if not path.exists():
        raise ImportFailed(path, None, None, "file or folder not found")
    with tempfile.TemporaryDirectory(prefix="oversight-import-") as tmp:
        folder = _folder(path, tmp)
        missing = [name for name in REQUIRED if not (folder / name).is_file()]
        if missing:
            raise ImportFailed(path, None, None, f"is not an Oversight study export: no {', '.join(missing)} "
                                                 "(exports made before backups existed lack study.json and "
                                                 "people.jsonl: export the study again)")
        try:
            manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
            settings = json.loads((folder / "study.json").read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ImportFailed(path, None, None, f"manifest.json or study.json is not JSON ({exc})") from None
        if manifest.get("format") != FORMAT:
            raise ImportFailed(path, None, None, f"its manifest names format {manifest.get('format')!r}, not "
                                                 f"{FORMAT!r}")
        try:
            with session_scope() as s:
                result = _write(s, folder, path.name, manifest, settings, user_id)
                log_event(s, "import", user_id=user_id, study_id=result.study_id, import_id=result.import_id,
                          format=FORMAT, source=path.name, exported_study_id=result.exported_study_id,
                          counts=result.counts)
        except (KeyError, TypeError, StatementError) as exc:  # a row the export should hold, missing or refused
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise ImportFailed(path, None, None, f"could not be imported ({type(exc).__name__}: {reason}); "
                                                 "nothing was written") from None
    return result


def _write(s, folder: Path, source: str, manifest: dict, settings: dict, user_id: int | None) -> ExportImport:
    ids = _Ids()
    keep = isinstance(settings.get("id"), int) and _free(s, Study, [settings["id"]])
    study = Study(**_values(Study, settings, study_id=None, created_by=user_id, dry_run_of=None,
                            enrol_token_hash=None, **({"id": settings["id"]} if keep else {})))
    s.add(study)
    s.flush()
    if settings.get("dry_run_of") is not None:
        # A dry-run copy stays one (its simulated people are its results); its original is not in the export, so
        # it is marked a dry run of itself.
        study.dry_run_of = study.id
    batch = ImportBatch(study_id=study.id, format=FORMAT, source=source, created_by=user_id, state="done")
    s.add(batch)
    s.flush()
    result = ExportImport(study_id=study.id, import_id=batch.id, source=source,
                          exported_study_id=manifest.get("study_id"))
    _people(s, folder, study.id, ids, result)
    items = [(line, row) for line, row in _lines(folder, "items.jsonl")]
    keep = _free(s, Item, [row["id"] for _, row in items])
    rows = [Item(**_values(Item, row, study_id=study.id, import_id=batch.id, **({"id": row["id"]} if keep else {})))
            for _, row in items]
    s.add_all(rows)
    s.flush()
    for (line, row), item in zip(items, rows):
        ids.of("item")[row["id"]] = item.id
        if row.get("gold_index") is not None:
            s.add(ItemGold(item_id=item.id, gold_index=row["gold_index"], explanation=row.get("explanation")))
    result.counts["items"] = len(rows)
    for old in {row.get("import_id") for _, row in items} - {None}:
        ids.of("importbatch")[old] = batch.id
    _labellers(s, folder, ids)
    for file, model, refs in PLAN:
        result.counts[file.removesuffix(".jsonl")] = _copy(s, folder, file, model, refs, ids, study.id)
    batch.n_items = result.counts["items"]
    batch.n_transcripts = result.counts["transcripts"]
    if isinstance(settings.get("id"), int):
        ids.of("study")[settings["id"]] = study.id
    result.ids_kept = all(old == new for table, m in ids.maps.items() if table != "importbatch"
                          for old, new in m.items())
    s.flush()
    if s.get_bind().dialect.name == "postgresql":  # rows written with their own ids: serials go on after them
        reset_sequences(s.connection(), [m.__table__ for m in (Study, User, Item, *(m for _, m, _ in PLAN))])
    return result


def _copy(s, folder: Path, file: str, model: type[SQLModel], refs: dict[str, str], ids: _Ids, study_id: int) -> int:
    """The rows of one file, in exported-id order; a table that names its own rows (a strategy's parent) is
    flushed row by row so a child finds its parent's new id."""
    table = model.__tablename__
    self_ref = table in refs.values()
    pending: list[tuple[int, SQLModel]] = []
    n = 0
    rows = sorted(_lines(folder, file), key=lambda pair: pair[1].get("id") or 0)
    keep = _free(s, model, [row["id"] for _, row in rows if isinstance(row.get("id"), int)])
    for line, row in rows:
        row = _renamed(model, row)
        ids.point(row, refs, model, file, line)
        if model is VersionDecision:
            reviews = ids.of("expertreview")
            row["review_ids"] = [reviews[r] for r in row.get("review_ids") or [] if r in reviews]
        record = model(**_values(model, row, study_id=study_id,
                                 **({"id": row["id"]} if keep and isinstance(row.get("id"), int) else {})))
        s.add(record)
        pending.append((row.get("id"), record))
        if self_ref:
            s.flush()
        n += 1
    s.flush()
    for old, record in pending:
        if old is not None:
            ids.of(table)[old] = record.id
    return n


def _renamed(model: type[SQLModel], row: dict) -> dict:
    """Undo the export's compatibility names: an assignment's `arm` is its protocol; a transcript's `setting` is
    the setting its source named (imported transcripts) or else the protocol that ran."""
    row = dict(row)
    if model is Assignment and "protocol" not in row:
        row["protocol"] = row.pop("arm", "") or ""
    if model is Transcript:  # as migration 0010 split it: an imported transcript's setting is its source's
        setting = row.pop("setting", None) or ""
        imported = row.get("origin") == "imported"
        row["source_setting"], row["protocol"] = (setting, None) if imported else (None, setting)
    return row


def _labellers(s, folder: Path, ids: _Ids) -> None:
    """RLAIF labeller versions are the installation's, not the study's: one with the same name and version here is
    the same labeller (versions are immutable); one that is missing is made, its parent kept where present."""
    found = ids.of("rlaiflabeller")
    for line, row in sorted(_lines(folder, "ai_labellers.jsonl"), key=lambda pair: pair[1].get("id") or 0):
        same = s.exec(select(RlaifLabeller).where(RlaifLabeller.name == row.get("name"),
                                                  RlaifLabeller.version == row.get("version"))).first()
        if same is None:
            ids.point(row, {"created_by": "user"}, RlaifLabeller, "ai_labellers.jsonl", line)
            row["parent_id"] = found.get(row.get("parent_id"))
            same = RlaifLabeller(**_values(RlaifLabeller, row, study_id=None))
            s.add(same)
            s.flush()
        found[row["id"]] = same.id


def _people(s, folder: Path, study_id: int, ids: _Ids, result: ExportImport) -> None:
    """Staff first (a preview participant names the staff member it belongs to), then the participants."""
    rows = list(_lines(folder, "people.jsonl"))
    users = ids.of("user")
    for line, row in rows:
        if row.get("role") not in STAFF_ROLES:
            continue
        found = s.exec(select(User).where(User.role == row["role"], User.name == row.get("name"))
                       .order_by(User.id)).first()
        if found is None:
            found = User(**_values(User, row, study_id=None, preview_by=None,
                                   **({"id": row["id"]} if _free(s, User, [row["id"]]) else {})))
            s.add(found)
            s.flush()
            result.staff_created.append(f"{found.name} ({found.role})")
        else:
            result.staff_matched.append(f"{found.name} ({found.role})")
        users[row["id"]] = found.id
    n = 0
    people = [(line, row) for line, row in rows if row.get("role") not in STAFF_ROLES]
    keep = _free(s, User, [row["id"] for _, row in people])
    for line, row in people:
        old = row["id"]
        ids.point(row, {"preview_by": "user"}, User, "people.jsonl", line)
        person = User(**_values(User, row, study_id=study_id, **({"id": old} if keep else {})))
        s.add(person)
        s.flush()
        users[old] = person.id
        n += 1
    result.counts["people"] = n
