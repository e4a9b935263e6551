"""MMLU, BoolQ and Cosmos QA on small fixture files: mapping, validation, re-import."""

from __future__ import annotations

import pytest
from sqlmodel import select

from oversight.db import session_scope
from oversight.importers import import_path
from oversight.importers.common import ImportFailed
from storage.models import Item, ItemGold


def items(study_id: int) -> dict[str, tuple[Item, int]]:
    with session_scope(write=False) as s:
        rows = s.exec(select(Item, ItemGold.gold_index).join(ItemGold, ItemGold.item_id == Item.id)
                      .where(Item.study_id == study_id)).all()
    return {item.external_id: (item, gold) for item, gold in rows}


def test_mmlu_folder(study_id, data):
    summary = import_path(study_id=study_id, fmt="mmlu", path=data / "mmlu")
    assert summary.n_items == 5
    rows = items(study_id)
    item, gold = rows["mmlu/dev/arithmetic/1"]
    assert (item.question, item.options, gold) == ("What is 2+2?", ["3", "4", "5", "6"], 1)
    assert (item.split, item.tags, item.meta) == ("dev", ["mmlu", "arithmetic"], {"subject": "arithmetic"})
    item, gold = rows["mmlu/test/arithmetic/2"]
    assert item.question == 'Largest of these, "commas, too"?' and item.options[3] == "4, really" and gold == 3


def test_mmlu_single_file_then_folder_skips_the_overlap(study_id, data):
    assert import_path(study_id=study_id, fmt="mmlu", path=data / "mmlu" / "test" / "arithmetic_test.csv").n_items == 3
    again = import_path(study_id=study_id, fmt="mmlu", path=data / "mmlu")
    assert (again.n_items, again.n_items_skipped) == (2, 3)


@pytest.mark.parametrize("row,field,words", [
    ('"Q?",a,b,c,d,E', "answer", "must be one of A, B, C, D"),
    ('"Q?",a,b,c,d', None, "expected 6 columns"),
    (',a,b,c,d,A', "question", "must not be empty"),
])
def test_mmlu_bad_rows(study_id, tmp_path, counts, row, field, words):
    path = tmp_path / "physics_val.csv"
    path.write_text('"Fine?",a,b,c,d,A\n' + row + "\n")
    with pytest.raises(ImportFailed) as caught:
        import_path(study_id=study_id, fmt="mmlu", path=tmp_path)
    assert str(caught.value).startswith("physics_val.csv line 2" + (f", field '{field}'" if field else ""))
    assert words in str(caught.value)
    assert counts()["items"] == 0 and counts()["batches"] == 0


def test_mmlu_file_name_must_name_subject_and_split(study_id, tmp_path):
    path = tmp_path / "physics.csv"
    path.write_text('"Q?",a,b,c,d,A\n')
    with pytest.raises(ImportFailed, match="physics.csv: MMLU file names look like"):
        import_path(study_id=study_id, fmt="mmlu", path=path)


def test_boolq(study_id, data):
    assert import_path(study_id=study_id, fmt="boolq", path=data / "boolq_dev.jsonl").n_items == 2
    rows = items(study_id)
    item, gold = rows["boolq/boolq_dev/1"]
    assert (item.question, item.options, gold) == ("Is the sun a star?", ["Yes", "No"], 0)
    assert item.source_text.startswith("The Sun is the star") and item.source_title == "Sun"
    assert item.split == "dev" and item.meta["original_question"] == "is the sun a star"
    assert rows["boolq/boolq_dev/2"][1] == 1  # false -> "No"


@pytest.mark.parametrize("line,field,words", [
    ('{"question": "q", "passage": "p", "answer": "yes"}', "answer", "must be true or false"),
    ('{"question": "q", "answer": true}', "passage", "is required"),
    ('{"question": "q", "passage": "p", "answer": true', None, "not valid JSON"),
])
def test_boolq_bad_lines(study_id, tmp_path, counts, line, field, words):
    path = tmp_path / "dev.jsonl"
    path.write_text('{"question": "q", "passage": "p", "answer": true}\n' + line + "\n")
    with pytest.raises(ImportFailed) as caught:
        import_path(study_id=study_id, fmt="boolq", path=path)
    assert str(caught.value).startswith("dev.jsonl line 2" + (f", field '{field}'" if field else ""))
    assert words in str(caught.value)
    assert counts()["items"] == 0


def test_cosmos(study_id, data):
    assert import_path(study_id=study_id, fmt="cosmos", path=data / "cosmos_valid.csv").n_items == 3
    item, gold = items(study_id)["cosmos/c2"]
    assert item.options[1] == "It was half baked ." and gold == 1 and item.split == "val"
    assert item.source_text.startswith("We baked bread") and item.tags == ["cosmos_qa"]


@pytest.mark.parametrize("row,line,field,words", [
    ("c9,ctx,q,a,b,c,d,4", 3, "label", "must be an integer in 0..3"),
    ("c1,ctx,q,a,b,c,d,0", 3, "id", "duplicate id 'c1' (first used on line 2)"),
    ("c9,ctx,,a,b,c,d,0", 3, "question", "must not be empty"),
])
def test_cosmos_bad_rows(study_id, tmp_path, counts, row, line, field, words):
    path = tmp_path / "valid.csv"
    path.write_text("id,context,question,answer0,answer1,answer2,answer3,label\nc1,ctx,q,a,b,c,d,0\n" + row + "\n")
    with pytest.raises(ImportFailed) as caught:
        import_path(study_id=study_id, fmt="cosmos", path=path)
    assert str(caught.value).startswith(f"valid.csv line {line}, field '{field}'")
    assert words in str(caught.value)
    assert counts()["items"] == 0


def test_cosmos_missing_column(study_id, tmp_path):
    path = tmp_path / "valid.csv"
    path.write_text("id,context,question,answer0,answer1,answer2,answer3\n")
    with pytest.raises(ImportFailed, match="valid.csv line 1, field 'label': required column is missing"):
        import_path(study_id=study_id, fmt="cosmos", path=path)
