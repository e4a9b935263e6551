"""MMLU (hendrycks/test) CSVs: `fmt="mmlu"`.

Layout: `data/{dev,val,test}/<subject>_<split>.csv`, UTF-8, no header, one question per row:
`question, A, B, C, D, answer letter`. The subject and the split come from the file name. Accepts
the data set folder, `data/`, one split folder, or one file (every `*.csv` below the path).

Items: four options, gold = the letter's index, tags `["mmlu", <subject>]`, split = dev/val/test,
`meta = {"subject": ...}`, external id `mmlu/<split>/<subject>/<row number>`.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from oversight.importers.common import ImportFailed, ParsedBatch, ParsedItem
from oversight.importers.generic import csv_rows, read_text

FILE_NAME = re.compile(r"^(?P<subject>.+)_(?P<split>dev|val|test)\.csv$")
LETTERS = "ABCD"


def parse(path: Path) -> ParsedBatch:
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.csv") if p.is_file())
        if not files:
            raise ImportFailed(path, None, None, "no MMLU *.csv files in this folder")
    elif path.is_file():
        files = [path]
    else:
        raise ImportFailed(path, None, None, "file or folder not found")
    items: list[ParsedItem] = []
    for file in files:
        items.extend(_parse_file(file))
    return ParsedBatch(format="mmlu", source=str(path), items=items)


def _parse_file(path: Path) -> list[ParsedItem]:
    match = FILE_NAME.match(path.name)
    if not match:
        raise ImportFailed(path, None, None, "MMLU file names look like <subject>_<dev|val|test>.csv")
    subject, split = match["subject"], match["split"]
    reader = csv.reader(io.StringIO(read_text(path), newline=""))
    items = []
    for row_no, (line, cells) in enumerate(csv_rows(path, reader), start=1):
        if len(cells) != 6:
            raise ImportFailed(path, line, None, f"expected 6 columns (question, A, B, C, D, answer), got {len(cells)}")
        question, *options, answer = cells
        if not question.strip():
            raise ImportFailed(path, line, "question", "must not be empty")
        answer = answer.strip().upper()
        if len(answer) != 1 or answer not in LETTERS:
            raise ImportFailed(path, line, "answer", f"must be one of A, B, C, D, got {cells[5]!r}")
        items.append(
            ParsedItem(
                external_id=f"mmlu/{split}/{subject}/{row_no}",
                question=question.strip(),
                options=[o.strip() for o in options],
                gold_index=LETTERS.index(answer),
                tags=["mmlu", subject],
                split=split,
                meta={"subject": subject},
            )
        )
    return items
