"""The bundled demo item set: valid, original, passage-dependent questions."""

from __future__ import annotations

import json
from collections import Counter

from oversight.importers import demo_items_path, import_path, parse_path


def test_demo_items_parse_and_import(study_id):
    batch = parse_path(fmt="jsonl", path=demo_items_path())
    checks = [i for i in batch.items if i.split == "catch"]
    questions = [i for i in batch.items if i.split != "catch"]
    # Attention checks name their answer in the question and need no text.
    assert len(checks) == 3 and all(i.source_text is None and i.options[i.gold_index] in i.question for i in checks)
    passages = Counter(item.source_text for item in questions)
    assert 8 <= len(passages) and all(1 <= n <= 2 for n in passages.values())
    for text in passages:
        assert 150 <= len(text.split()) <= 400
    for item in questions:
        assert "demo" in item.tags and item.source_title and item.explanation
        assert len(item.options) in (2, 4) and 0 <= item.gold_index < len(item.options)
    assert {len(i.options) for i in batch.items} == {2, 4}
    assert len({i.gold_index for i in batch.items}) > 1  # the gold is not always the same position
    summary = import_path(study_id=study_id, fmt="jsonl", path=demo_items_path())
    assert summary.n_items == len(batch.items)


def test_demo_file_is_one_json_object_per_line():
    lines = demo_items_path().read_text(encoding="utf-8").splitlines()
    assert all(isinstance(json.loads(line), dict) for line in lines)
