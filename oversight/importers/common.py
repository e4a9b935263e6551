"""What every importer shares: the error type, the parsed records, and `land`, which writes a batch.

Importers parse and validate a whole file (or folder) into a `ParsedBatch` first; only then does
`land` write it: an `ImportBatch` row, the new `Item`s with their `ItemGold`, and for transcript data
sets the `Transcript`s with their `Turn`s and `Judgment`s, in bounded transactions (participants'
writes go on between them). A bad file raises `ImportFailed` before anything is written, and an error
while writing deletes what this import had written (`discard_import`).

Re-importing: an item whose `external_id` already exists in the study is skipped (counted in
`ImportSummary.n_items_skipped`), and so is an imported transcript whose `external_id` already
exists in the study; nothing is updated in place.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import delete
from sqlmodel import col, select

from oversight.audit import log_event
from oversight.db import session_scope
from oversight.settings import get_settings
from storage.models import ImportBatch, Item, ItemGold, Judgment, Study, Transcript, Turn


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


# An import still "importing" after this long belongs to a process that died; its rows are discarded.
STALE_IMPORT = timedelta(hours=1)


def land(batch: ParsedBatch, *, study_id: int, user_id: int | None = None) -> ImportSummary:
    """Write a parsed batch; skip items and transcripts the study already has.

    The rows are written in transactions of `import_batch_items` items (or transcripts with their turns
    and judgments), so that no participant's write waits behind a whole import. All or nothing still
    holds: the `ImportBatch` row is "importing" until the last batch landed and "done" after; if any
    batch fails, every row of this import is deleted again and the error is raised."""
    started = time.perf_counter()
    size = max(1, get_settings().import_batch_items)
    discard_stale_imports()
    with session_scope(write=False) as session:
        if session.get(Study, study_id) is None:
            raise ImportFailed(batch.source, None, None, f"study {study_id} does not exist")
        item_ids: dict[str, int] = {}
        for chunk in _chunks([item.external_id for item in batch.items], 500):
            rows = session.exec(select(Item.external_id, Item.id).where(
                Item.study_id == study_id, col(Item.external_id).in_(chunk))).all()
            item_ids.update({ext: item_id for ext, item_id in rows})
        existing_transcripts: set[str] = set()
        for chunk in _chunks([t.external_id for t in batch.transcripts], 500):
            existing_transcripts.update(session.exec(select(Transcript.external_id).where(
                Transcript.study_id == study_id, Transcript.origin == "imported",
                col(Transcript.external_id).in_(chunk))).all())
    skipped_items = len(item_ids)
    new_items = [parsed for parsed in batch.items if parsed.external_id not in item_ids]
    new_transcripts = [parsed for parsed in batch.transcripts if parsed.external_id not in existing_transcripts]

    with session_scope() as session:
        record = ImportBatch(study_id=study_id, format=batch.format, source=batch.source, created_by=user_id,
                             state="importing")
        session.add(record)
        session.flush()
        import_id = record.id
    try:
        for chunk in _chunks(new_items, size):
            with session_scope() as session:
                rows = [_item_row(parsed, study_id, import_id) for parsed in chunk]
                session.add_all(rows)
                session.flush()
                session.add_all([ItemGold(item_id=row.id, gold_index=parsed.gold_index,
                                          explanation=parsed.explanation) for parsed, row in zip(chunk, rows)])
                item_ids.update({row.external_id: row.id for row in rows})
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
        with session_scope() as session:
            record = session.get(ImportBatch, import_id)
            record.n_items, record.n_transcripts, record.state = len(new_items), len(new_transcripts), "done"
            log_event(session, "import", user_id=user_id, study_id=study_id, import_id=import_id,
                      format=batch.format, source=batch.source, n_items=len(new_items),
                      n_items_skipped=skipped_items, n_transcripts=len(new_transcripts))
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
    """Delete every row an import wrote (children first), in batches, then its ImportBatch row."""
    size = max(1, get_settings().import_batch_items)
    while True:
        with session_scope() as session:
            ids = session.exec(select(Transcript.id).where(Transcript.import_id == import_id).limit(size)).all()
            if not ids:
                break
            session.exec(delete(Judgment).where(col(Judgment.transcript_id).in_(ids)))
            session.exec(delete(Turn).where(col(Turn.transcript_id).in_(ids)))
            session.exec(delete(Transcript).where(col(Transcript.id).in_(ids)))
    while True:
        with session_scope() as session:
            ids = session.exec(select(Item.id).where(Item.import_id == import_id).limit(size)).all()
            if not ids:
                break
            session.exec(delete(ItemGold).where(col(ItemGold.item_id).in_(ids)))
            session.exec(delete(Item).where(col(Item.id).in_(ids)))
    with session_scope() as session:
        session.exec(delete(ImportBatch).where(ImportBatch.id == import_id))


def discard_stale_imports() -> int:
    """Discard imports left "importing" by a process that died (older than STALE_IMPORT)."""
    with session_scope(write=False) as session:
        stale = session.exec(select(ImportBatch.id).where(
            ImportBatch.state == "importing", ImportBatch.created_at < datetime.now(timezone.utc) - STALE_IMPORT)).all()
    for import_id in stale:
        discard_import(import_id)
    return len(stale)


def _chunks(values: list, size: int) -> list[list]:
    return [values[i : i + size] for i in range(0, len(values), size)] if values else []
