"""Generic CSV and JSONL items: schema, validation messages, all-or-nothing landing, re-import."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from oversight.db import session_scope
from oversight.importers import import_path, parse_path
from oversight.importers.common import ImportFailed, ParsedTranscript, land
from storage.models import ImportBatch, Item, ItemGold

NOTHING = {"items": 0, "gold": 0, "batches": 0, "transcripts": 0, "turns": 0, "judgments": 0}


def items_by_id(study_id: int) -> dict[str, tuple[Item, ItemGold]]:
    with session_scope(write=False) as s:
        rows = s.exec(
            select(Item, ItemGold).join(ItemGold, ItemGold.item_id == Item.id).where(Item.study_id == study_id)
        ).all()
    return {item.external_id: (item, gold) for item, gold in rows}


def test_csv_with_pipe_separated_options(study_id, data, counts):
    summary = import_path(study_id=study_id, fmt="csv", path=data / "items.csv")
    assert (summary.n_items, summary.n_items_skipped) == (3, 0)
    items = items_by_id(study_id)
    item, gold = items["q1"]
    assert item.options == ["Mars", "Jupiter", "Venus"] and gold.gold_index == 1
    assert item.source_title == "Planets" and item.source_text.startswith("Jupiter is the largest")
    assert item.tags == ["astro", "easy"] and item.split == "train"
    assert gold.explanation == "Jupiter is largest"
    assert item.meta == {"difficulty": "easy"}  # unknown columns are kept in meta
    assert item.import_id == summary.import_id
    item, gold = items["q2"]
    assert item.question == 'Which word, in the text, means "happy"?' and gold.gold_index == 1  # letter B
    assert item.source_text is None and item.tags == []
    assert counts() == {**NOTHING, "items": 3, "gold": 3, "batches": 1}


def test_csv_with_letter_columns_and_letter_gold(study_id, data):
    import_path(study_id=study_id, fmt="csv", path=data / "items_letters.csv")
    items = items_by_id(study_id)
    item, gold = items["items_letters:2"]  # no id column: <file stem>:<line>
    assert item.options == ["4", "6", "7"] and gold.gold_index == 2  # trailing empty D dropped
    item, gold = items["items_letters:3"]
    assert item.options == ["3", "8", "9", "11"] and gold.gold_index == 1  # lower-case letter


def test_jsonl(study_id, data):
    summary = import_path(study_id=study_id, fmt="jsonl", path=data / "items.jsonl")
    assert summary.n_items == 3
    items = items_by_id(study_id)
    item, gold = items["j1"]
    assert (item.options, gold.gold_index, gold.explanation) == (["Red", "Blue"], 1, "It says blue.")
    assert item.tags == ["demo", "story"] and item.meta == {"author": "x"}
    item, gold = items["2"]  # numeric id becomes a string
    assert gold.gold_index == 3 and item.tags == ["a", "b"] and item.split == "test" and item.meta == {"level": 3}
    item, gold = items["items:4"]  # line 4 (blank line 2 still counts)
    assert gold.gold_index == 1


def test_reimport_skips_existing_items_and_says_so(study_id, data, counts):
    import_path(study_id=study_id, fmt="jsonl", path=data / "items.jsonl")
    again = import_path(study_id=study_id, fmt="jsonl", path=data / "items.jsonl")
    assert (again.n_items, again.n_items_skipped) == (0, 3)
    assert "skipped 3 already in the study" in again.message and str(again) == again.message
    assert counts()["items"] == 3 and counts()["batches"] == 2


def test_same_file_into_another_study_is_not_skipped(db, data):
    from tests.importers.conftest import make_study

    first, second = make_study("a"), make_study("b")
    import_path(study_id=first, fmt="csv", path=data / "items.csv")
    assert import_path(study_id=second, fmt="csv", path=data / "items.csv").n_items == 3


CSV_HEADER = "id,question,options,gold\n"
BAD_FILES = [
    # (file name, content, line, field, words in the message)
    ("items.csv", CSV_HEADER + "a,Q one?,x|y,0\nb,Q two?,x|y|z,7\n", 3, "gold", "must be an integer in 0..2"),
    ("items.csv", CSV_HEADER + "a,Q one?,x|y,0\nb,Q two?,x|y,Z\n", 3, "gold", "or a letter A..B"),
    ("items.csv", CSV_HEADER + "a,Q one?,x|y,\n", 2, "gold", "is required"),
    ("items.csv", CSV_HEADER + "a,,x|y,0\n", 2, "question", "must not be empty"),
    ("items.csv", CSV_HEADER + "a,Q?,only one,0\n", 2, "options", "at least 2 options"),
    ("items.csv", CSV_HEADER + "a,Q?,x||z,0\n", 2, "options", "an option is empty"),
    ("items.csv", CSV_HEADER + "a,Q?,x|y,0\nb,Q?,x|y,1\na,Q?,x|y,1\n", 4, "id", "duplicate id 'a' (first used on line 2)"),
    ("items.csv", "id,options,gold\na,x|y,0\n", 1, "question", "required column is missing"),
    ("items.csv", "question,A,B,C,gold\nQ?,x,,z,0\n", 2, "option_b", "option is empty"),
    ("items.csv", 'id,question,options,gold\na,"Q?\nmore",x|y,0\nb,Q2?,x|y,5\n', 4, "gold", "0..1"),
    ("items.jsonl", '{"question": "Q?", "options": ["x", "y"], "gold": 0}\n{"question": "Q?", "options": ["x", "y"], "gold": 0\n',
     2, None, "not valid JSON"),
    ("items.jsonl", '{"question": "Q?", "options": ["x", "y"], "gold": 0}\n{"options": ["x", "y"], "gold": 0}\n',
     2, "question", "is required"),
    ("items.jsonl", '{"question": "Q?", "options": ["x"], "gold": 0}\n', 1, "options", "at least 2 options"),
    ("items.jsonl", '{"question": "Q?", "options": "x|y", "gold": 0}\n', 1, "options", "must be a list"),
    ("items.jsonl", '{"question": "Q?", "options": ["x", "y"], "gold": true}\n', 1, "gold", "must be an integer"),
    ("items.jsonl", '{"question": "Q?", "options": ["x", "y"], "gold": -1}\n', 1, "gold", "0..1"),
    ("items.jsonl", '{"question": "Q?", "options": ["x", "y"]}\n', 1, "gold", "is required"),
    ("items.jsonl", '{"id": "a", "question": "Q?", "options": ["x", "y"], "gold": 0}\n\n'
                    '{"id": "a", "question": "R?", "options": ["x", "y"], "gold": 1}\n', 3, "id", "duplicate id 'a'"),
    ("items.jsonl", '{"question": "Q?", "options": ["x", "y"], "gold": 0, "tags": [1]}\n', 1, "tags", "list of strings"),
    ("items.jsonl", '[1, 2]\n', 1, None, "must be a JSON object"),
    ("items.jsonl", '{"question": "Q?", "options": ["x", "y"], "gold": 0, "answer": "x"}\n', 1, "answer",
     "looks like the gold answer"),
    ("items.jsonl", '{"question": "Q?", "options": ["x", "y"], "gold": 0, "meta": {"label": 0}}\n', 1, "meta.label",
     "looks like the gold answer"),
    ("items.csv", "question,options,gold,Correct\nQ?,x|y,0,x\n", 2, "correct", "looks like the gold answer"),
]


@pytest.mark.parametrize("name,content,line,field,words", BAD_FILES)
def test_bad_file_names_file_line_field_and_lands_nothing(study_id, tmp_path, counts, name, content, line, field, words):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ImportFailed) as caught:
        import_path(study_id=study_id, fmt=path.suffix[1:], path=path)
    error = caught.value
    expected = f"{name} line {line}" + (f", field '{field}'" if field else "") + ": "
    assert str(error).startswith(expected), str(error)
    assert words in str(error)
    assert (error.file, error.line, error.field) == (name, line, field)
    assert counts() == NOTHING


def test_message_reads_like_the_documented_example(study_id, tmp_path):
    path = tmp_path / "items.csv"
    path.write_text(CSV_HEADER + "".join(f"q{i},Q{i}?,a|b|c|d,0\n" for i in range(5)) + "q9,Q?,a|b|c|d,4\n")
    with pytest.raises(ImportFailed, match=r"^items\.csv line 7, field 'gold': must be an integer in 0\.\.3"):
        import_path(study_id=study_id, fmt="csv", path=path)


def test_empty_and_missing_files(study_id, tmp_path, counts):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    with pytest.raises(ImportFailed, match="empty.jsonl: no items found"):
        import_path(study_id=study_id, fmt="jsonl", path=empty)
    with pytest.raises(ImportFailed, match="nope.csv: file or folder not found"):
        import_path(study_id=study_id, fmt="csv", path=tmp_path / "nope.csv")
    with pytest.raises(ImportFailed, match="unknown format 'xml'"):
        import_path(study_id=study_id, fmt="xml", path=empty)
    assert counts() == NOTHING


def test_not_utf8_names_the_line(study_id, tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes(b"question,options,gold\nQ?,a|b,0\nQ\xe9?,a|b,0\n")
    with pytest.raises(ImportFailed, match=r"latin\.csv line 3: not valid UTF-8"):
        import_path(study_id=study_id, fmt="csv", path=path)


def test_unknown_study_lands_nothing(db, data, counts):
    with pytest.raises(ImportFailed, match="study 999 does not exist"):
        import_path(study_id=999, fmt="csv", path=data / "items.csv")
    assert counts() == NOTHING


def test_a_failure_while_landing_rolls_back_the_whole_batch(study_id, data, counts):
    batch = parse_path(fmt="csv", path=data / "items.csv")
    # A transcript pointing at an item that is not in the batch fails after the items were written.
    batch.transcripts.append(ParsedTranscript(item_external_id="missing", external_id="room", setting="x", status="complete"))
    with pytest.raises(KeyError):
        land(batch, study_id=study_id)
    assert counts() == NOTHING


def test_import_is_recorded(study_id, data):
    summary = import_path(study_id=study_id, fmt="csv", path=data / "items.csv", user_id=None)
    with session_scope(write=False) as s:
        record = s.get(ImportBatch, summary.import_id)
    assert (record.format, record.n_items, record.study_id) == ("csv", 3, study_id)
    assert Path(record.source).name == "items.csv"
