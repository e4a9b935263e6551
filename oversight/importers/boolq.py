"""BoolQ JSON lines: `fmt="boolq"`.

One object per line: `question` (lower-cased query), `passage`, `answer` (true/false), `title`.
Items: options `["Yes", "No"]`, gold 0 for true and 1 for false, source text = passage, source
title = title; the question is capitalised and ends with "?" (the original is kept in
`meta["original_question"]`). External id `boolq/<file stem>/<line>`; tags `["boolq"]`; the split is
guessed from the file name (dev, train, test, val).
"""

from __future__ import annotations

from pathlib import Path

from oversight.importers.common import ImportFailed, ParsedBatch, ParsedItem
from oversight.importers.generic import jsonl_records

OPTIONS = ["Yes", "No"]


def split_from_name(path: Path) -> str | None:
    stem = path.stem.lower()
    for word, split in (("train", "train"), ("dev", "dev"), ("valid", "val"), ("val", "val"), ("test", "test")):
        if word in stem:
            return split
    return None


def parse(path: Path) -> ParsedBatch:
    if not path.is_file():
        raise ImportFailed(path, None, None, "file not found")
    split = split_from_name(path)
    items = []
    for line_no, record in jsonl_records(path):
        for field in ("question", "passage"):
            value = record.get(field)
            if not isinstance(value, str) or not value.strip():
                raise ImportFailed(path, line_no, field, "is required and must be a non-empty string")
        answer = record.get("answer")
        if not isinstance(answer, bool):
            raise ImportFailed(path, line_no, "answer", f"must be true or false, got {answer!r}")
        title = record.get("title")
        if title is not None and not isinstance(title, str):
            raise ImportFailed(path, line_no, "title", "must be a string")
        original = record["question"].strip()
        question = original[:1].upper() + original[1:]
        if not question.endswith("?"):
            question += "?"
        items.append(
            ParsedItem(
                external_id=f"boolq/{path.stem}/{line_no}",
                question=question,
                options=list(OPTIONS),
                gold_index=0 if answer else 1,
                source_title=title or None,
                source_text=record["passage"].strip(),
                tags=["boolq"],
                split=split,
                meta={"original_question": original},
            )
        )
    if not items:
        raise ImportFailed(path, None, None, "no items found")
    return ParsedBatch(format="boolq", source=str(path), items=items)
