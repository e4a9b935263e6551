"""What every importer shares: the error type, the parsed records, and `land`, which writes a batch.

Importers parse and validate a whole file (or folder) into a `ParsedBatch` first; only then does
`land` write it: an `ImportBatch` row, the new `Item`s with their `ItemGold`, and for transcript data
sets the `Transcript`s with their `Turn`s and `Judgment`s, in bounded transactions (participants'
writes go on between them). A bad file raises `ImportFailed` before anything is written, and an error
while writing deletes what this import had written (`discard_import`).

Until its last batch is written an import is "importing" and its rows are part of no study: every query that
lists a study's items, transcripts or judgments asks `storage.models.landed` (through `Item.of_study`,
`Transcript.of_study`, `Judgment.landed`), so nobody is dealt, shown or exported half an import. One transaction
makes it "done" and its rows visible.

Re-importing: an item whose `external_id` already exists in the study is skipped (counted in
`ImportSummary.n_items_skipped`), and so is an imported transcript whose `external_id` already
exists in the study; nothing is updated in place. An import whose process died (killed, machine lost) is
discarded by the next import before it looks: a re-import of the same file replaces the dead import's rows
rather than adopting them, since those were written from a file that may since have changed and nobody can
have used them. Items that another import is still writing are refused, not skipped, since that import may
yet fail.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import and_, delete, exists, func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from oversight.audit import log_event
from oversight.db import session_scope
from oversight.settings import get_settings
from storage.db import bump_content_version
from storage.models import (
    Assignment, ExpertReview, ImportBatch, Item, ItemGold, Judgment, RlaifLabel, Study, Transcript, Turn, utcnow,
)

log = logging.getLogger(__name__)


class ImportFailed(ValueError):
    """A file that cannot be imported; the message names the file, the line and the field."""

    def __init__(self, file: str | Path, line: int | None, field: str | None, message: str) -> None:
        self.file = Path(file).name if str(file) else ""
        self.line = line
        self.field = field
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f" line {self.line}"
        if self.field:
            where += f", field '{self.field}'"
        return f"{where}: {self.message}"


@dataclass
class ParsedItem:
    external_id: str
    question: str
    options: list[str]
    gold_index: int
    explanation: str | None = None
    source_title: str | None = None
    source_text: str | None = None
    tags: list[str] = field(default_factory=list)
    split: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class ParsedTurn:
    round: int
    role: str  # debater_a | debater_b | consultant | judge | ...
    speaker: str
    text: str
    quotes: list[dict] = field(default_factory=list)
    model: str | None = None
    created_at: datetime | None = None


@dataclass
class ParsedJudgment:
    judge_kind: str  # human | ai | offline-human
    judge_name: str
    round: int
    probabilities: list[float]  # in the ITEM's option order
    rationale: str = ""
    is_final: bool = False
    created_at: datetime | None = None

    @property
    def answer_index(self) -> int | None:
        """The most probable option, or None on a tie."""
        if not self.probabilities:
            return None
        best = max(self.probabilities)
        winners = [i for i, p in enumerate(self.probabilities) if p == best]
        return winners[0] if len(winners) == 1 else None


@dataclass
class ParsedTranscript:
    item_external_id: str
    external_id: str
    setting: str
    status: str
    tags: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    turns: list[ParsedTurn] = field(default_factory=list)
    judgments: list[ParsedJudgment] = field(default_factory=list)
    created_at: datetime | None = None


@dataclass
class ParsedBatch:
    format: str
    source: str
    items: list[ParsedItem] = field(default_factory=list)
    transcripts: list[ParsedTranscript] = field(default_factory=list)


@dataclass
class ImportSummary:
    import_id: int
    format: str
    source: str
    n_items: int  # new items written
    n_items_skipped: int  # already in the study (same external_id); left as they were
    n_transcripts: int = 0
    n_transcripts_skipped: int = 0
    n_turns: int = 0
    n_judgments: int = 0
    seconds: float = 0.0

    @property
    def message(self) -> str:
        text = f"Imported {self.n_items} new items"
        if self.n_items_skipped:
            text += f" (skipped {self.n_items_skipped} already in the study)"
        if self.n_transcripts or self.n_transcripts_skipped:
            text += f", {self.n_transcripts} transcripts"
            if self.n_transcripts_skipped:
                text += f" (skipped {self.n_transcripts_skipped} already imported)"
            text += f" with {self.n_turns} turns and {self.n_judgments} judgments"
        return text + f" from {self.source} in {self.seconds:.1f} s."

    def __str__(self) -> str:
        return self.message


def ms_to_datetime(ms: int | float | None) -> datetime | None:
    """Milliseconds since the epoch to an aware UTC datetime; None for a missing or negative value."""
    if not isinstance(ms, (int, float)) or isinstance(ms, bool) or ms < 0:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def option_index(value: Any, n_options: int) -> int:
    """A gold answer as a 0-based index: an int, a digit string, or an option letter (A, b, ...).

    Raises ValueError with a message fit for `ImportFailed`.
    """
    last = chr(ord("A") + n_options - 1)
    expected = f"must be an integer in 0..{n_options - 1} or a letter A..{last}"
    if isinstance(value, bool) or value is None:
        raise ValueError(expected)
    if isinstance(value, int):
        index = value
    elif isinstance(value, float) and value.is_integer():
        index = int(value)
    elif isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit():
            index = int(text)
        elif len(text) == 1 and text.isalpha() and text.isascii():
            index = ord(text.upper()) - ord("A")
        else:
            raise ValueError(f"{expected}, got {value!r}")
    else:
        raise ValueError(f"{expected}, got {value!r}")
    if not 0 <= index < n_options:
        raise ValueError(f"{expected}, got {value!r}")
    return index


# An unfinished import whose process is gone, or whose last batch is older than this, is dead: its rows are
# discarded. A live import commits a batch every few seconds (a batch waits at most SQLite's busy timeout).
STALE_IMPORT = timedelta(minutes=10)
# Tests only: "batch:N" (after the N-th batch committed) or "complete" (after the last batch, before the import is
# made visible) makes the importing process stop there until it is killed (tests/importers/test_killed_import.py).
PAUSE_ENV = "OVERSIGHT_IMPORT_PAUSE"


def land(batch: ParsedBatch, *, study_id: int, user_id: int | None = None) -> ImportSummary:
    """Write a parsed batch; skip items and transcripts the study already has.

    The rows are written in transactions of `import_batch_items` items (or transcripts with their turns
    and judgments), so that no participant's write waits behind a whole import. All or nothing still
    holds: the `ImportBatch` row is "importing" until the last batch landed, and no query of the study sees its
    rows (`storage.models.landed`); one transaction makes it "done" and them visible. If any batch fails, every
    row of this import is deleted again and the error is raised. Dead imports are discarded first, so a
    re-import after a killed one replaces its rows."""
    started = time.perf_counter()
    size = max(1, get_settings().import_batch_items)
    discard_stale_imports()
    with session_scope(write=False) as session:
        target = session.get(Study, study_id)
        if target is None:
            raise ImportFailed(batch.source, None, None, f"study {study_id} does not exist")
        if target.status == "archived":  # read-only (oversight.study.lifecycle); importers import nothing above them
            raise ImportFailed(batch.source, None, None, f"study {study_id} is archived: unarchive it to import")
        item_ids: dict[str, int] = {}
        for chunk in _chunks([item.external_id for item in batch.items], 500):
            rows = session.exec(select(Item.external_id, Item.id, Item.import_id).where(
                Item.study_id == study_id, col(Item.external_id).in_(chunk))).all()
            _refuse_running(session, batch.source, {import_id for _, _, import_id in rows})
            item_ids.update({ext: item_id for ext, item_id, _ in rows})
        existing_transcripts: set[str] = set()
        for chunk in _chunks([t.external_id for t in batch.transcripts], 500):
            rows = session.exec(select(Transcript.external_id, Transcript.import_id).where(
                Transcript.study_id == study_id, Transcript.origin == "imported",
                col(Transcript.external_id).in_(chunk))).all()
            _refuse_running(session, batch.source, {import_id for _, import_id in rows})
            existing_transcripts.update(ext for ext, _ in rows)
    skipped_items = len(item_ids)
    new_items = [parsed for parsed in batch.items if parsed.external_id not in item_ids]
    new_transcripts = [parsed for parsed in batch.transcripts if parsed.external_id not in existing_transcripts]

    with session_scope() as session:
        record = ImportBatch(study_id=study_id, format=batch.format, source=batch.source, created_by=user_id,
                             state="importing", worker=_this_process(), heartbeat_at=utcnow())
        session.add(record)
        session.flush()
        import_id = record.id
    batches = 0
    try:
        for chunk in _chunks(new_items, size):
            with session_scope() as session:
                rows = [_item_row(parsed, study_id, import_id) for parsed in chunk]
                session.add_all(rows)
                session.flush()
                session.add_all([ItemGold(item_id=row.id, gold_index=parsed.gold_index,
                                          explanation=parsed.explanation) for parsed, row in zip(chunk, rows)])
                _beat(session, import_id)
                item_ids.update({row.external_id: row.id for row in rows})
            batches += 1
            _pause(f"batch:{batches}")
        n_turns = n_judgments = 0
        for chunk in _chunks(new_transcripts, size):
            with session_scope() as session:
                rows = [_transcript_row(parsed, study_id, import_id, item_ids[parsed.item_external_id])
                        for parsed in chunk]
                session.add_all(rows)
                session.flush()
                children: list[Any] = []
                for parsed, row in zip(chunk, rows):
                    children += _children(parsed, row)
                    n_turns += len(parsed.turns)
                    n_judgments += len(parsed.judgments)
                session.add_all(children)
                _beat(session, import_id)
            batches += 1
            _pause(f"batch:{batches}")
        _pause("complete")
        with session_scope() as session:
            _complete(session, import_id, batch.source, len(new_items), len(new_transcripts))
            log_event(session, "import", user_id=user_id, study_id=study_id, import_id=import_id,
                      format=batch.format, source=batch.source, n_items=len(new_items),
                      n_items_skipped=skipped_items, n_transcripts=len(new_transcripts))
    except IntegrityError as exc:  # another import wrote the same items meanwhile: it keeps them
        discard_import(import_id)
        raise ImportFailed(batch.source, None, None, "another import of the same items into this study ran at "
                                                     "the same time and landed them; nothing of this one was "
                                                     "kept. Import again to add anything still missing") from exc
    except BaseException:
        discard_import(import_id)
        raise

    return ImportSummary(
        import_id=import_id,
        format=batch.format,
        source=batch.source,
        n_items=len(new_items),
        n_items_skipped=skipped_items,
        n_transcripts=len(new_transcripts),
        n_transcripts_skipped=len(batch.transcripts) - len(new_transcripts),
        n_turns=n_turns,
        n_judgments=n_judgments,
        seconds=time.perf_counter() - started,
    )


def _complete(session, import_id: int, source: str, n_items: int, n_transcripts: int) -> None:
    """Make the import part of its study, in the caller's transaction: one row changes state, and the content
    version rises so no process keeps what it read before (oversight.read_cache). Refused if a cleanup that
    took this import for dead deleted any of its rows meanwhile."""
    record = session.exec(select(ImportBatch).where(ImportBatch.id == import_id).with_for_update()).first()
    whole = record is not None and record.state == "importing" and (
        session.exec(select(func.count()).select_from(Item).where(Item.import_id == import_id)).one() == n_items
        and session.exec(select(func.count()).select_from(Transcript)
                         .where(Transcript.import_id == import_id)).one() == n_transcripts)
    if not whole:
        raise ImportFailed(source, None, None, "was discarded while it was written (its process was taken for "
                                               "dead); import it again")
    record.n_items, record.n_transcripts, record.state, record.heartbeat_at = (
        n_items, n_transcripts, "done", utcnow())
    bump_content_version(session)


def _refuse_running(session, source: str, import_ids: set[int | None]) -> None:
    """A file whose rows another import is still writing (in a live process) is refused rather than skipped as
    already there: that import may yet fail. Dead imports were discarded before this is asked."""
    import_ids.discard(None)
    if not import_ids:
        return
    running = session.exec(select(ImportBatch).where(col(ImportBatch.id).in_(import_ids),
                                                     ImportBatch.state != "done")).first()
    if running is not None:
        raise ImportFailed(source, None, None, f"import #{running.id} ({running.source}) is still writing these "
                                               f"items into the study (process {running.worker}); wait for it "
                                               "to finish, then import again to add anything it lacks (an "
                                               "import whose process died is discarded "
                                               f"{STALE_IMPORT.seconds // 60} minutes after its last batch)")


def _this_process() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _beat(session, import_id: int) -> None:
    session.exec(update(ImportBatch).where(ImportBatch.id == import_id).values(heartbeat_at=utcnow()))


def _pause(point: str) -> None:
    if os.environ.get(PAUSE_ENV) == point:
        print(f"import paused at {point}", file=sys.stderr, flush=True)
        time.sleep(600)


def _item_row(parsed: ParsedItem, study_id: int, import_id: int) -> Item:
    return Item(study_id=study_id, import_id=import_id, external_id=parsed.external_id, question=parsed.question,
                options=list(parsed.options), source_title=parsed.source_title, source_text=parsed.source_text,
                tags=list(parsed.tags), split=parsed.split, meta=dict(parsed.meta))


def _transcript_row(parsed: ParsedTranscript, study_id: int, import_id: int, item_id: int) -> Transcript:
    return Transcript(study_id=study_id, item_id=item_id, import_id=import_id, source_setting=parsed.setting,
                      origin="imported", external_id=parsed.external_id, status=parsed.status,
                      tags=list(parsed.tags), meta=dict(parsed.meta),
                      **({"created_at": parsed.created_at} if parsed.created_at else {}))


def _children(parsed: ParsedTranscript, row: Transcript) -> list[Any]:
    turns = [Turn(transcript_id=row.id, position=index, round=turn.round, role=turn.role, speaker=turn.speaker,
                  text=turn.text, quotes=list(turn.quotes), model=turn.model,
                  **({"created_at": turn.created_at} if turn.created_at else {}))
             for index, turn in enumerate(parsed.turns)]
    judgments = [Judgment(item_id=row.item_id, transcript_id=row.id, judge_kind=j.judge_kind,
                          judge_name=j.judge_name, round=j.round, probabilities=list(j.probabilities),
                          answer_index=j.answer_index, rationale=j.rationale, is_final=j.is_final,
                          **({"created_at": j.created_at} if j.created_at else {}))
                 for j in parsed.judgments]
    return turns + judgments


def discard_import(import_id: int) -> None:
    """Delete the rows of an unfinished import, in batches, then its ImportBatch row. Rows someone uses are kept
    (an item dealt, judged, labelled or in another transcript; a transcript reviewed): none can be, as nothing
    shows an unfinished import's rows, but an import left unfinished before migration 0012 was shown. If any is
    kept the import is settled as "done" with what is left, so nothing ever fails on a foreign key. Each batch
    first checks the import is still unfinished: a live import that completed meanwhile is left alone."""
    size = max(1, get_settings().import_batch_items)
    reviewed = select(ExpertReview.transcript_id).where(ExpertReview.transcript_id.is_not(None))
    while True:
        with session_scope() as session:
            if not _unfinished(session, import_id):
                return
            ids = session.exec(select(Transcript.id).where(Transcript.import_id == import_id,
                                                           col(Transcript.id).not_in(reviewed)).limit(size)).all()
            if not ids:
                break
            session.exec(delete(Judgment).where(col(Judgment.transcript_id).in_(ids)))
            session.exec(delete(Turn).where(col(Turn.transcript_id).in_(ids)))
            session.exec(delete(Transcript).where(col(Transcript.id).in_(ids)))
    # Indexed look-ups per item (judgments can be many); assignments have no item index but are few.
    unused = and_(col(Item.id).not_in(select(Assignment.item_id)),
                  *(~exists().where(table.item_id == Item.id) for table in (Judgment, Transcript, RlaifLabel)))
    while True:
        with session_scope() as session:
            if not _unfinished(session, import_id):
                return
            ids = session.exec(select(Item.id).where(Item.import_id == import_id, unused)
                               .limit(size)).all()
            if not ids:
                break
            session.exec(delete(ItemGold).where(col(ItemGold.item_id).in_(ids)))
            session.exec(delete(Item).where(col(Item.id).in_(ids)))
    with session_scope() as session:
        record = _unfinished(session, import_id)
        if record is None:
            return
        kept = session.exec(select(func.count()).select_from(Item).where(Item.import_id == import_id)).one()
        kept_transcripts = session.exec(select(func.count()).select_from(Transcript)
                                        .where(Transcript.import_id == import_id)).one()
        if kept or kept_transcripts:
            record.state, record.n_items, record.n_transcripts = "done", kept, kept_transcripts
            bump_content_version(session)
            log_event(session, "import_kept_in_use", study_id=record.study_id, import_id=import_id,
                      n_items=kept, n_transcripts=kept_transcripts)
        else:
            session.delete(record)


def _unfinished(session, import_id: int) -> ImportBatch | None:
    """The import's row, locked, while it is unfinished; None once it is done or gone."""
    record = session.exec(select(ImportBatch).where(ImportBatch.id == import_id).with_for_update()).first()
    return record if record is not None and record.state != "done" else None


def discard_stale_imports() -> int:
    """Discard every dead import (see `is_dead`); returns how many. Never raises: a cleanup that fails is
    logged and tried again by the next import, which goes on."""
    cutoff = utcnow() - STALE_IMPORT
    try:
        with session_scope(write=False) as session:
            rows = session.exec(select(ImportBatch.id, ImportBatch.worker, func.coalesce(
                ImportBatch.heartbeat_at, ImportBatch.created_at) < cutoff).where(ImportBatch.state != "done")).all()
    except Exception:  # noqa: BLE001 - cleanup must never stop an import
        log.exception("could not look for dead imports")
        return 0
    discarded = 0
    for import_id, worker, quiet in rows:
        if not (quiet or _process_gone(worker)):
            continue
        try:
            discard_import(import_id)
            discarded += 1
        except Exception:  # noqa: BLE001
            log.exception("could not discard dead import %s", import_id)
    return discarded


def _process_gone(worker: str | None) -> bool:
    """Whether the process that wrote an import ("host:pid") is known to have ended: only on the same host."""
    host, _, pid = (worker or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # another user's process: alive
        return False
    return False


def _chunks(values: list, size: int) -> list[list]:
    return [values[i : i + size] for i in range(0, len(values), size)] if values else []
