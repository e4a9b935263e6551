"""Generic item files: CSV (`fmt="csv"`) and JSON lines (`fmt="jsonl"`), one item per row / line.

Schema (field names are case-insensitive in CSV headers):

| field | required | meaning |
| --- | --- | --- |
| `question` | yes | the question text; must not be empty |
| `options` | yes | the answer options, at least 2. JSONL: a list of strings. CSV: either one column `options` with the options separated by `\\|`, or one column per option named `option_a`, `option_b`, ... (up to `option_z`) or `A`, `B`, `C`, `D`, ...; trailing empty option cells are ignored |
| `gold` | yes | the correct option: a 0-based index (`0`, `1`, ...) or the option letter (`A`, `b`, ...) |
| `id` | no | a stable id, unique within the file; default `<file stem>:<line>` |
| `source_text` | no | the passage the question is about (shown to debaters, hidden from debate judges) |
| `source_title` | no | the passage's title |
| `tags` | no | JSONL: a list of strings or a `;`-separated string. CSV: `;`-separated |
| `split` | no | e.g. `train`, `dev`, `test` |
| `explanation` | no | why the gold answer is right (kept with the gold, visible to experts and admins only) |
| `meta` | no | JSONL only: an object of extra data kept with the item |

Any other column / key is kept in the item's `meta` (visible with the question, so a column that
looks like the answer, e.g. `answer`, `label`, `correct`, `target`, is refused). Blank JSONL lines are skipped. Files are UTF-8
(a byte-order mark is fine). Re-importing a file skips the items whose id the study already has.

Example JSONL line:
`{"id": "q1", "question": "Who wins?", "options": ["Ann", "Bo"], "gold": "A", "source_text": "...", "tags": ["demo"]}`

Example CSV:
```
id,question,option_a,option_b,option_c,gold,tags
q1,Who wins?,Ann,Bo,Cy,B,demo;easy
```
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from oversight.importers import bounds
from oversight.importers.common import ImportFailed, ParsedBatch, ParsedItem, option_index

KNOWN = {"id", "question", "options", "gold", "source_text", "source_title", "tags", "split", "explanation", "meta"}
# Extra fields are kept in Item.meta, which participant-facing code may read: a field that looks like
# the answer is refused rather than stored beside the question.
GOLDISH = {"answer", "answer_index", "answer_letter", "answer_idx", "correct", "correct_answer", "correct_index",
           "label", "gold_index", "gold_answer", "target"}


def read_text(path: Path) -> str:
    """A UTF-8 text file (a byte-order mark is fine) within the import bounds (see `bounds.check_text`)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ImportFailed(path, None, None, "file not found") from None
    except IsADirectoryError:
        raise ImportFailed(path, None, None, "is a folder, not a file") from None
    if raw.startswith(bounds.ZIP_MAGIC):
        bounds.check_text(path, raw, "")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ImportFailed(path, line, None, "not valid UTF-8 text") from None
    bounds.check_text(path, raw, text)
    return text


def jsonl_records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Each non-blank line as (line number, object); a line that is not a JSON object names its line."""
    for line_no, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = bounds.load_json(line, path, line_no)
        except json.JSONDecodeError as exc:
            raise ImportFailed(path, line_no, None, f"not valid JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(record, dict):
            raise ImportFailed(path, line_no, None, "each line must be a JSON object")
        yield line_no, record


def csv_rows(path: Path, reader) -> Iterator[tuple[int, list[str]]]:
    """The reader's remaining non-blank rows as (line the row starts on, cells); bad CSV names its line."""
    start = reader.line_num + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ImportFailed(path, start, None, f"not valid CSV ({exc})") from None
        line, start = start, reader.line_num + 1
        if any(c.strip() for c in cells):
            yield line, cells


def parse_jsonl(path: Path) -> ParsedBatch:
    rows = list(jsonl_records(path))
    return ParsedBatch(format="jsonl", source=str(path), items=_items(path, rows, csv_mode=False))


def parse_csv(path: Path) -> ParsedBatch:
    reader = csv.reader(io.StringIO(read_text(path), newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise ImportFailed(path, None, None, "the file is empty (a header row is required)") from None
    except csv.Error as exc:
        raise ImportFailed(path, 1, None, f"not valid CSV ({exc})") from None
    names = [_column_name(h) for h in header]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ImportFailed(path, 1, name, "column appears twice in the header")
        seen.add(name)
    if "question" not in seen:
        raise ImportFailed(path, 1, "question", "required column is missing from the header")

    rows: list[tuple[int, dict[str, Any]]] = []
    for line, cells in csv_rows(path, reader):
        if len(cells) > len(names):
            raise ImportFailed(path, line, None, f"{len(cells)} cells but the header has {len(names)} columns")
        rows.append((line, dict(zip(names, cells))))
    return ParsedBatch(format="csv", source=str(path), items=_items(path, rows, csv_mode=True))


def _column_name(header: str) -> str:
    name = header.strip()
    if len(name) == 1 and name.isalpha():
        return "option_" + name.lower()
    return name.lower()


def _items(path: Path, rows: list[tuple[int, dict[str, Any]]], *, csv_mode: bool) -> list[ParsedItem]:
    if not rows:
        raise ImportFailed(path, None, None, "no items found")
    items: list[ParsedItem] = []
    first_line: dict[str, int] = {}
    for line, record in rows:
        item = _item(path, line, record, csv_mode=csv_mode)
        if item.external_id in first_line:
            raise ImportFailed(
                path, line, "id", f"duplicate id {item.external_id!r} (first used on line {first_line[item.external_id]})"
            )
        first_line[item.external_id] = line
        items.append(item)
    return items


def _item(path: Path, line: int, record: dict[str, Any], *, csv_mode: bool) -> ParsedItem:
    def fail(field: str, message: str) -> ImportFailed:
        return ImportFailed(path, line, field, message)

    def text(field: str, *, required: bool = False) -> str | None:
        value = record.get(field)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                raise fail(field, "is required and must not be empty")
            return None
        if not isinstance(value, str):
            if isinstance(value, (int, float)) and not isinstance(value, bool) and field == "id":
                return str(value)
            raise fail(field, f"must be a string, got {type(value).__name__}")
        return value.strip()

    question = text("question", required=True)
    options = _options(record, csv_mode=csv_mode, fail=fail)
    bounds.check_options(path, line, "options", len(options))
    if "gold" not in record or record["gold"] is None or record["gold"] == "":
        raise fail("gold", "is required (a 0-based option index or an option letter)")
    try:
        gold = option_index(record["gold"], len(options))
    except ValueError as exc:
        raise fail("gold", str(exc)) from None

    tags_value = record.get("tags")
    if tags_value is None or tags_value == "":
        tags: list[str] = []
    elif isinstance(tags_value, str):
        tags = [t.strip() for t in tags_value.split(";") if t.strip()]
    elif isinstance(tags_value, list) and all(isinstance(t, str) for t in tags_value):
        tags = [t.strip() for t in tags_value if t.strip()]
    else:
        raise fail("tags", "must be a list of strings or a ';'-separated string")

    meta_value = record.get("meta") if not csv_mode else None
    if meta_value is not None and not isinstance(meta_value, dict):
        raise fail("meta", "must be a JSON object")
    meta = dict(meta_value or {})
    extra_fields = {k: v for k, v in record.items() if k not in KNOWN and not k.startswith("option_")}
    if not csv_mode:
        extra_fields = {k: v for k, v in record.items() if k not in KNOWN}
    for key in extra_fields:
        if key.lower() in GOLDISH:
            raise fail(key, "looks like the gold answer: put it in 'gold' (other fields are stored with the "
                            "item, where participants may see them)")
    for key in meta:
        if key.lower() in GOLDISH:
            raise fail(f"meta.{key}", "looks like the gold answer: put it in 'gold', not in meta")
    meta.update({k: v for k, v in extra_fields.items() if v not in (None, "")})

    return ParsedItem(
        external_id=text("id") or f"{path.stem}:{line}",
        question=question or "",
        options=options,
        gold_index=gold,
        explanation=text("explanation"),
        source_title=text("source_title"),
        source_text=text("source_text"),
        tags=tags,
        split=text("split"),
        meta=meta,
    )


def _options(record: dict[str, Any], *, csv_mode: bool, fail) -> list[str]:
    value = record.get("options")
    letter_columns = sorted(k for k in record if k.startswith("option_") and len(k) == 8)
    if csv_mode and value in (None, "") and letter_columns:
        cells = [(k, (record[k] or "").strip()) for k in letter_columns]
        while cells and not cells[-1][1]:
            cells.pop()
        for k, cell in cells:
            if not cell:
                raise fail(k, "option is empty (only trailing options may be left blank)")
        options = [cell for _, cell in cells]
        field = letter_columns[0] if letter_columns else "options"
        if len(options) < 2:
            raise fail(field, f"at least 2 options are required, got {len(options)}")
        return options
    if value is None or value == "":
        raise fail("options", "is required (at least 2 answer options)")
    if isinstance(value, str):
        if not csv_mode:
            raise fail("options", "must be a list of strings")
        options = [o.strip() for o in value.split("|")]
    elif isinstance(value, list) and not csv_mode:
        if not all(isinstance(o, (str, int, float)) and not isinstance(o, bool) for o in value):
            raise fail("options", "must be a list of strings")
        options = [str(o).strip() for o in value]
    else:
        raise fail("options", "must be a list of strings")
    if any(not o for o in options):
        raise fail("options", "an option is empty")
    if len(options) < 2:
        raise fail("options", f"at least 2 options are required, got {len(options)}")
    return options
