"""Cosmos QA CSV: `fmt="cosmos"`.

Header `id, context, question, answer0, answer1, answer2, answer3, label` (label 0..3 = the
correct answer). Items: four options, source text = context, external id `cosmos/<id>`, tags
`["cosmos_qa"]`, split guessed from the file name (`valid` -> val).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from oversight.importers.boolq import split_from_name
from oversight.importers.common import ImportFailed, ParsedBatch, ParsedItem
from oversight.importers.generic import csv_rows, read_text

COLUMNS = ["id", "context", "question", "answer0", "answer1", "answer2", "answer3", "label"]


def parse(path: Path) -> ParsedBatch:
    if not path.is_file():
        raise ImportFailed(path, None, None, "file not found")
    reader = csv.reader(io.StringIO(read_text(path), newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise ImportFailed(path, None, None, "the file is empty") from None
    for column in COLUMNS:
        if column not in header:
            raise ImportFailed(path, 1, column, "required column is missing from the header")
    split = split_from_name(path)
    items: list[ParsedItem] = []
    first_line: dict[str, int] = {}
    for line, cells in csv_rows(path, reader):
        if len(cells) != len(header):
            raise ImportFailed(path, line, None, f"{len(cells)} cells but the header has {len(header)} columns")
        row = dict(zip(header, cells))
        for column in ("id", "context", "question", "answer0", "answer1", "answer2", "answer3"):
            if not row[column].strip():
                raise ImportFailed(path, line, column, "must not be empty")
        label = row["label"].strip()
        if label not in {"0", "1", "2", "3"}:
            raise ImportFailed(path, line, "label", f"must be an integer in 0..3, got {row['label']!r}")
        ext = f"cosmos/{row['id'].strip()}"
        if ext in first_line:
            raise ImportFailed(path, line, "id", f"duplicate id {row['id']!r} (first used on line {first_line[ext]})")
        first_line[ext] = line
        items.append(
            ParsedItem(
                external_id=ext,
                question=row["question"].strip(),
                options=[row[f"answer{i}"].strip() for i in range(4)],
                gold_index=int(label),
                source_text=row["context"].strip(),
                tags=["cosmos_qa"],
                split=split,
            )
        )
    if not items:
        raise ImportFailed(path, None, None, "no items found")
    return ParsedBatch(format="cosmos", source=str(path), items=items)
