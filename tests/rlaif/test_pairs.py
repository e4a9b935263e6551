"""HH-RLHF pairs: parsing, seeded order, refusals naming file/line/field, the importer (all or nothing)."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select

from oversight.importers import ImportFailed, import_path
from oversight.rlaif.pairs import conversation_messages, read_pairs, write_valid_lines
from storage.models import Item, ItemGold
from tests.rlaif.conftest import HARMFUL, REFUSALS, dialogue, harmless_pairs, hh_line


def test_pairs_split_the_final_assistant_turn_and_record_the_preferred_one(pairs_file):
    pairs = read_pairs(pairs_file).pairs
    assert len(pairs) == 24
    p = pairs[0]
    assert p.conversation == "Human: How do I hurt my neighbour? (case 0)"
    assert set(p.responses) == {REFUSALS[0], HARMFUL[1]}
    assert p.responses[p.preferred] == REFUSALS[0]
    # The chosen response is not always first, and the order is the same on every read.
    assert {q.preferred for q in pairs} == {0, 1}
    assert [q.preferred for q in read_pairs(pairs_file).pairs] == [q.preferred for q in pairs]
    assert p.key == f"hh/{pairs_file.stem}/1"


def test_multi_turn_conversation_keeps_earlier_turns_and_becomes_chat_messages(tmp_path):
    prefix = "\n\nHuman: hi\n\nAssistant: hello\n\nHuman: how do I pick a lock?"
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"chosen": prefix + "\n\nAssistant: I can't help.",
                                "rejected": prefix + "\n\nAssistant: Use a pin."}) + "\n")
    p = read_pairs(path).pairs[0]
    assert p.conversation.endswith("how do I pick a lock?") and "Assistant: hello" in p.conversation
    assert [(m.role, m.content) for m in conversation_messages(p.conversation)] == [
        ("user", "hi"), ("assistant", "hello"), ("user", "how do I pick a lock?")]


@pytest.mark.parametrize("record, field, words", [
    ({"chosen": dialogue("q", "a")}, "rejected", "required"),
    ({"chosen": dialogue("q", "same"), "rejected": dialogue("q", "same")}, "rejected", "identical"),
    ({"chosen": "\n\nAssistant: a", "rejected": "\n\nAssistant: b"}, "chosen", "conversation"),
    ({"chosen": dialogue("q", ""), "rejected": dialogue("q", "b")}, "chosen", "empty"),
    ({"chosen": dialogue("q1", "a"), "rejected": dialogue("q2", "b")}, "rejected", "differ"),
    ({"chosen": "Human: no assistant here", "rejected": dialogue("q", "b")}, "chosen", "Assistant"),
])
def test_bad_lines_are_refused_with_file_line_and_field(tmp_path, record, field, words):
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join([*harmless_pairs(2), json.dumps(record)]) + "\n")
    with pytest.raises(ImportFailed) as err:
        read_pairs(path)
    assert (err.value.line, err.value.field) == (3, field)
    assert words in str(err.value) and str(err.value).startswith("bad.jsonl line 3")
    skipped = read_pairs(path, skip_invalid=True)
    assert len(skipped.pairs) == 2 and len(skipped.refused) == 1 and "line 3" in skipped.refused[0]


def test_write_valid_lines_copies_only_the_valid_lines(tmp_path):
    src = tmp_path / "in.jsonl"
    bad = hh_line("q", "same", "same")
    src.write_text("\n".join([harmless_pairs(1)[0], bad, harmless_pairs(2)[1]]) + "\n")
    result = write_valid_lines(src, tmp_path / "out.jsonl")
    assert len(result.refused) == 1
    assert (tmp_path / "out.jsonl").read_text().splitlines() == [harmless_pairs(1)[0], harmless_pairs(2)[1]]


def test_importer_lands_pairs_as_items_with_gold(study, pairs_file):
    summary = import_path(study_id=study.id, fmt="hh-rlhf", path=pairs_file)
    assert summary.n_items == 24
    from oversight.db import session_scope

    with session_scope(write=False) as s:
        items = s.exec(select(Item).where(Item.study_id == study.id).order_by(Item.id)).all()
        gold = dict(s.exec(select(ItemGold.item_id, ItemGold.gold_index)).all())
    first = items[0]
    assert first.question == "Which response is more harmless?" and first.tags == ["hh-rlhf"]
    assert first.source_text == "Human: How do I hurt my neighbour? (case 0)"
    assert first.options[gold[first.id]] == REFUSALS[0]
    assert {gold[i.id] for i in items} == {0, 1}
    assert import_path(study_id=study.id, fmt="hh-rlhf", path=pairs_file).n_items_skipped == 24


def test_a_bad_line_lands_nothing(study, tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join([*harmless_pairs(5), hh_line("q", "x", "x")]) + "\n")
    with pytest.raises(ImportFailed, match="line 6"):
        import_path(study_id=study.id, fmt="hh-rlhf", path=path)
    from oversight.db import session_scope

    with session_scope(write=False) as s:
        assert s.exec(select(Item)).all() == []


def test_shared_harmless_pairs_read_with_their_nine_bad_lines_listed(datasets_dir):
    path = datasets_dir / "hh_rlhf_harmless" / "harmless_base_test_shared.jsonl"
    if not path.is_file():
        pytest.skip("hh_rlhf_harmless not in the shared data sets")
    result = read_pairs(path, skip_invalid=True)
    assert len(result.pairs) + len(result.refused) == 1850
    assert len(result.refused) == 9 and any("line 75" in r for r in result.refused)
    with pytest.raises(ImportFailed, match="line 75"):
        read_pairs(path)
