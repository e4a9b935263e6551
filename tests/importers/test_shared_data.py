"""The licensed data sets in the shared folder (skipped where it is absent): MMLU, BoolQ, Cosmos QA."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlmodel import select

from oversight.db import session_scope
from oversight.importers import import_path
from storage.models import Item, ItemGold


def _dataset(datasets_dir, name):
    path = datasets_dir / name
    if not path.is_dir():
        pytest.skip(f"{name} not found in {datasets_dir}")
    return path


def _splits_and_gold(study_id):
    with session_scope(write=False) as s:
        rows = s.exec(select(Item.split, ItemGold.gold_index).join(ItemGold, ItemGold.item_id == Item.id)
                      .where(Item.study_id == study_id)).all()
    return Counter(split for split, _ in rows), Counter(gold for _, gold in rows)


def test_mmlu_folder_counts(study_id, datasets_dir):
    path = _dataset(datasets_dir, "mmlu")
    summary = import_path(study_id=study_id, fmt="mmlu", path=path)
    assert summary.n_items == 285 + 1542 + 11263
    splits, gold = _splits_and_gold(study_id)
    assert splits == {"dev": 285, "val": 1542, "test": 11263}
    assert set(gold) == {0, 1, 2, 3}
    with session_scope(write=False) as s:
        subjects = {tags[1] for tags in s.exec(select(Item.tags).where(Item.study_id == study_id)).all()}
        item = s.exec(select(Item).where(Item.external_id == "mmlu/val/astronomy/1")).one()
    assert len(subjects) == 57 and "astronomy" in subjects
    assert len(item.options) == 4 and item.meta == {"subject": "astronomy"}


def test_mmlu_one_split_folder(study_id, datasets_dir):
    path = _dataset(datasets_dir, "mmlu") / "data" / "val"
    assert import_path(study_id=study_id, fmt="mmlu", path=path).n_items == 1542


def test_boolq(study_id, datasets_dir):
    path = _dataset(datasets_dir, "boolq") / "dev_shared.jsonl"
    assert import_path(study_id=study_id, fmt="boolq", path=path).n_items == 2616
    splits, gold = _splits_and_gold(study_id)
    assert splits == {"dev": 2616} and set(gold) == {0, 1} and gold[0] > gold[1]  # more "yes" than "no"
    with session_scope(write=False) as s:
        item = s.exec(select(Item).where(Item.external_id == "boolq/dev_shared/1")).one()
    assert item.question.startswith("Does ethanol") and item.options == ["Yes", "No"]
    assert item.source_title == "Ethanol fuel" and item.source_text.startswith("All biomass goes through")


def test_cosmos(study_id, datasets_dir):
    path = _dataset(datasets_dir, "cosmos_qa") / "valid_shared.csv"
    assert import_path(study_id=study_id, fmt="cosmos", path=path).n_items == 2388
    splits, gold = _splits_and_gold(study_id)
    assert gold == {0: 590, 1: 581, 2: 613, 3: 604}  # the README's label counts
    assert splits == {"val": 2388}
