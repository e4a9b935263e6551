"""Items as examples: the importers' readers, fixed test subsets, per-seed halves, clear errors."""

from __future__ import annotations

import pytest

from oversight.w2s.config import W2SConfig
from oversight.w2s.errors import W2SError
from oversight.w2s.data import halves, read_examples, train_test
from tests.w2s.conftest import write_boolq


def test_boolq_items_are_two_way_texts_in_the_reference_format(boolq_file):
    [first, *_] = read_examples("boolq", boolq_file)
    assert first.text.startswith("Passage: In the shed there is a kettle.") and "\nQuestion: Is the kettle" in first.text
    assert first.choices == ("Yes", "No") and not first.pair


def test_cosmos_and_mmlu_items_are_scored_per_choice(cosmos_file, tmp_path):
    [first, *_] = read_examples("cosmos", cosmos_file)
    assert first.pair and len(first.choices) == 4 and first.text.startswith("Context: I painted")
    (tmp_path / "mmlu").mkdir()
    (tmp_path / "mmlu" / "astronomy_dev.csv").write_text("What orbits the Earth?,The Moon,Mars,The Sun,Venus,A\n")
    [item] = read_examples("mmlu", tmp_path / "mmlu")
    assert item.pair and item.label == 0 and item.text == "What orbits the Earth?"


def test_the_test_items_are_fixed_and_never_trained_on(tmp_path):
    path = write_boolq(tmp_path / "b.jsonl", 30)
    train, test = train_test("boolq", str(path), "", 12, 6)
    again_train, again_test = train_test("boolq", str(path), "", 20, 6)
    assert [e.key for e in test] == [e.key for e in again_test]  # more training items, same test items
    assert not {e.key for e in train} & {e.key for e in test}
    first, second = halves(train, seed=0)
    assert len(first) == len(second) == 6 and not {e.key for e in first} & {e.key for e in second}
    assert [e.key for e in halves(train, seed=1)[0]] != [e.key for e in first]  # seeds vary the split


def test_a_separate_test_file_is_used_as_given(tmp_path):
    train_path = write_boolq(tmp_path / "train.jsonl", 20, seed=1)
    test_path = write_boolq(tmp_path / "dev.jsonl", 8, seed=2)
    train, test = train_test("boolq", str(train_path), str(test_path), 100, 5)
    assert len(train) == 20 and len(test) == 5
    assert all(e.key.startswith("boolq/dev/") for e in test)


def test_bad_input_gets_clear_messages(tmp_path, cosmos_file):
    with pytest.raises(W2SError, match="file not found"):
        read_examples("boolq", tmp_path / "missing.jsonl")
    with pytest.raises(W2SError, match="cannot read boolq data"):
        read_examples("boolq", cosmos_file)
    with pytest.raises(W2SError, match="dataset must be one of"):
        W2SConfig(dataset="sciq", train_path="x").validate()
    with pytest.raises(W2SError, match="unknown experiment settings"):
        W2SConfig.from_dict({"dataset": "boolq", "colour": "red"})
    assert W2SConfig.for_dataset("cosmos", seeds=None).n_train == 80  # None keeps the data set's default


def test_hh_rlhf_pairs_are_binary_items_scored_per_response_with_the_context(hh_file):
    from oversight.w2s.data import HH_CONTEXT_CHARS

    examples = read_examples("hh-rlhf", hh_file)
    assert len(examples) == 16  # the bad line (identical responses) is left out, not the whole file refused
    for e in examples:
        assert e.pair and len(e.choices) == 2
        assert e.text.startswith("Conversation: ") and "How do I steal a" in e.text  # the context is included
        assert e.choices[e.label].startswith("I won't help")  # gold: the chosen response, wherever it went
    assert {e.label for e in examples} == {0, 1}  # the order is randomised per pair
    long = "x" * 5000
    from oversight.w2s.data import make_example

    tail = make_example("hh-rlhf", key="k", question="", options=["a", "b"], gold=0,
                        source_text=long + "\n\nHuman: the last turn?").text
    assert tail.endswith("the last turn?") and len(tail) <= len("Conversation: ") + HH_CONTEXT_CHARS
    config = W2SConfig.for_dataset("hh-rlhf", train_path=str(hh_file))
    assert config.validate().weak == "bow" and config.strong == "minilm-frozen" and config.weak_fraction == 0.04
    with pytest.raises(W2SError, match="cannot read hh-rlhf data"):
        read_examples("hh-rlhf", hh_file.with_name("missing.jsonl"))


def test_weak_fraction_gives_the_weak_supervisor_a_smaller_share_and_the_student_the_rest(tmp_path):
    path = write_boolq(tmp_path / "b.jsonl", 60)
    train, _ = train_test("boolq", str(path), "", 40, 6)
    weak, student = halves(train, seed=0, weak_fraction=0.25)
    assert (len(weak), len(student)) == (10, 30)
    assert not {e.key for e in weak} & {e.key for e in student} and len({e.key for e in weak + student}) == 40
    assert [len(p) for p in halves(train, seed=0)] == [20, 20]  # the default still halves
    assert [len(p) for p in halves(train[:3], seed=0, weak_fraction=0.01)] == [1, 2]  # never an empty side


@pytest.mark.parametrize("fraction", [0, 1, 1.5, -0.2])
def test_a_weak_fraction_outside_0_1_is_refused(fraction):
    with pytest.raises(W2SError, match="weak_fraction"):
        W2SConfig(dataset="boolq", train_path="x", weak_fraction=fraction).validate()
