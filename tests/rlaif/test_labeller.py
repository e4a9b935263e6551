"""Both-order labelling: averaging, position flips, length preference, agreement; labeller versions; storage."""

from __future__ import annotations

import pytest

from oversight.rlaif.config import LabellerError, LabellerSpec, create_labeller, list_labellers, revise_labeller
from oversight.rlaif.labeller import ChoiceLabeller, Labeller, bias_summary, label_pair, label_pairs, make_labeller
from oversight.rlaif.pairs import Pair
from tests.rlaif.conftest import HARMFUL, REFUSALS


class LongerFirstBiased(Labeller):
    """Prefers the longer response (0.9), plus a position lean towards whatever is shown first."""

    def __init__(self, lean: float):
        self.spec, self.lean = LabellerSpec(), lean

    def prefer(self, conversation, first, second):
        base = 0.9 if len(first) > len(second) else 0.1
        return min(1.0, base + self.lean)


PAIRS = [Pair("p1", "Human: q", ("a long answer", "short"), preferred=0),
         Pair("p2", "Human: q", ("tiny", "a much longer answer"), preferred=0),
         Pair("p3", "Human: q", ("x" * 10, "y" * 3), preferred=1),
         Pair("p4", "Human: q", ("same", "four"), preferred=0)]


def test_both_orders_are_averaged_and_a_pure_position_preference_cancels(models):
    spec = LabellerSpec(model="first-lover")  # the scripted model gives the first-shown response 0.8 always
    labeller = make_labeller(spec)
    assert isinstance(labeller, ChoiceLabeller)
    lab = label_pair(labeller, PAIRS[0])
    assert lab.p_forward == pytest.approx(0.8) and lab.p_backward == pytest.approx(0.2)
    assert lab.p_first == pytest.approx(0.5) and lab.choice is None and lab.flipped


def test_flip_rate_length_preference_and_agreement_on_a_scripted_labeller():
    labels = label_pairs(LongerFirstBiased(lean=0.3), PAIRS)
    # p1: fwd min(1, .9+.3)=1.0, bwd 1-(.1+.3)=.6 -> no flip, picks 0 (longer)
    # p2: fwd .1+.3=.4, bwd 1-min(1,.9+.3)=0 -> no flip, picks 1 (longer)
    # p3: fwd 1.0, bwd .6 -> picks 0 (longer); p4 equal lengths: fwd .4, bwd 1-.4=.6 -> flips, tie on average
    assert [lab.choice for lab in labels] == [0, 1, 0, None]
    assert [lab.flipped for lab in labels] == [False, False, False, True]
    s = bias_summary(PAIRS, labels)
    assert s["n"] == 4
    assert (s["agreement"]["k"], s["agreement"]["n"]) == (1, 4)  # p1 agrees; p2, p3 disagree; the tie counts wrong
    assert s["position_flip_rate"]["estimate"] == 0.25
    assert (s["longer_preferred_rate"]["k"], s["longer_preferred_rate"]["n"]) == (3, 3)
    assert (s["dataset_longer_preferred_rate"]["k"], s["dataset_longer_preferred_rate"]["n"]) == (1, 3)
    assert 0 < s["agreement"]["ci_low"] < 0.25 < s["agreement"]["ci_high"] < 1


def test_extractive_labeller_prefers_refusals_cannot_flip_and_is_fooled_by_topic(models):
    labeller = make_labeller(LabellerSpec(model="extractive"))
    pairs = [Pair(f"p{i}", "Human: q", (HARMFUL[i], REFUSALS[i]), preferred=1) for i in range(4)]
    labels = label_pairs(labeller, pairs)
    assert [lab.choice for lab in labels[:3]] == [1, 1, 1]
    # Weak on purpose: similarity is about topic, not stance. A response full of insults is close to the
    # principle "contains no insults, slurs or offensive content" and wins against a refusal.
    assert labels[3].choice == 0
    assert all(lab.p_forward == pytest.approx(lab.p_backward) for lab in labels)
    assert bias_summary(pairs, labels)["position_flip_rate"]["k"] == 0


def test_chain_of_thought_and_few_shot_reach_the_prompt(models):
    spec = LabellerSpec(model="first-lover", chain_of_thought=True, constitution=("Be kind.",),
                        few_shot=({"conversation": "Human: hi", "response_a": "hey", "response_b": "go away",
                                   "answer": "A"},))
    labeller = make_labeller(spec)
    msgs = labeller.messages("Human: q", "one", "two")
    assert "1. Be kind." in msgs[0].content
    assert [m.role for m in msgs] == ["system", "user", "assistant", "user"] and msgs[2].content == "A"
    assert "step by step" in msgs[-1].content
    assert labeller.prefer("Human: q", "one", "two") == pytest.approx(0.8)  # reasoning, then the scored verdict


def test_labeller_versions_are_immutable_with_parent_and_reason(db):
    v1 = create_labeller(name="harmless", model="extractive")
    with pytest.raises(LabellerError, match="exists"):
        create_labeller(name="harmless")
    with pytest.raises(LabellerError, match="reason"):
        revise_labeller(parent_id=v1.id, reason=" ", constitution=["Be brief."])
    v2 = revise_labeller(parent_id=v1.id, reason="shorter constitution", constitution=["Be kind."],
                         options={"chain_of_thought": True})
    assert (v2.version, v2.parent_id, v2.constitution, v2.model) == (2, v1.id, ["Be kind."], "extractive")
    assert v2.options["chain_of_thought"] is True
    assert [(r.name, r.version) for r in list_labellers()] == [("harmless", 1), ("harmless", 2)]
    assert list_labellers()[0].constitution == list(LabellerSpec().constitution)
    with pytest.raises(LabellerError, match="principle"):
        create_labeller(name="empty", constitution=["  "])
    with pytest.raises(LabellerError, match="few-shot"):
        create_labeller(name="bad-shots", options={"few_shot": [{"conversation": "x"}]})


def test_an_hf_model_scores_the_choice_tokens_in_both_orders(tiny_lm, pairs_file):
    from oversight.models import ModelsConfig, configure
    from oversight.models.config import HFConfig
    from oversight.rlaif.pairs import read_pairs

    configure(ModelsConfig(models={"tiny": HFConfig(name="tiny", model=str(tiny_lm), device="cpu",
                                                       max_seq_len=1024, batch_wait_ms=5)}, roles={}))
    try:
        labeller = make_labeller(LabellerSpec(model="tiny"))
        assert isinstance(labeller, ChoiceLabeller)
        pairs = read_pairs(pairs_file).pairs[:3]
        labels = label_pairs(labeller, pairs)
        for lab, pair in zip(labels, pairs):
            assert 0 < lab.p_forward < 1 and 0 < lab.p_backward < 1
            # The backward probability is the model's own score with the responses swapped, not a copy.
            swapped = labeller.prefer(pair.conversation, pair.responses[1], pair.responses[0])
            assert lab.p_backward == pytest.approx(1 - swapped)
        assert lab.p_forward != pytest.approx(lab.p_backward)  # a random model is not order-invariant
    finally:
        configure(None)


def test_few_shot_rules_are_one_for_cli_and_page():
    """`check_few_shot` is the rule the CLI's JSON file and the page's form both meet: a non-object example or an
    empty text gets a message naming the example (a list of strings used to crash with AttributeError)."""
    from oversight.rlaif.config import check_few_shot

    good = {"conversation": "Human: hi", "response_a": "hey", "response_b": "go away", "answer": " a "}
    assert check_few_shot([good]) == [{**good, "answer": "A"}]
    for bad, match in ((["just text"], "example 1 must be an object"),
                       ([good, {**good, "response_b": "  "}], "example 2 needs a non-empty response_b"),
                       ([{**good, "answer": "C"}], "answer A or B"),
                       ([{**good, "extra": "x"}], "unknown field")):
        with pytest.raises(LabellerError, match=match):
            check_few_shot(bad)
