"""The protocols' step functions and the shared round engine, rule by rule."""

from __future__ import annotations

import random

import pytest

from oversight.protocols.base import Report, RuleViolation, RulesError, Speaker, Step
from oversight.protocols.base import TurnRecord as Speech
from oversight.protocols.engine import check_report, enforce_limits
from oversight.protocols.registry import PROTOCOLS
from oversight.protocols.scoring import judge_score
from oversight.protocols.quotes import quoted_length

A, B = "debater_a", "debater_b"


DEBATE, CONSULTANCY, DIRECT_QA = PROTOCOLS["debate"], PROTOCOLS["consultancy"], PROTOCOLS["direct-qa"]


def speakers_for(rules, *, order, correct_index, rng):
    protocol = CONSULTANCY if hasattr(rules, "consultant_honest_p") else DEBATE
    return protocol.speakers(rules, order=order, correct_index=correct_index, rng=rng)


def next_step(rules, speakers, turns, reports, *, time_up=False):
    protocol = CONSULTANCY if hasattr(rules, "consultant_honest_p") else DIRECT_QA if not hasattr(rules, "rounds") \
        else DEBATE
    return protocol.next_step(rules, speakers, turns, reports, time_up=time_up)


def debate(**rules) -> tuple:
    r = DEBATE.parse_rules(rules)
    return r, speakers_for(r, order=[0, 1], correct_index=0, rng=random.Random(0))


def test_first_round_is_simultaneous_and_the_judge_waits_for_both():
    rules, sp = debate(rounds=3, speeches="sequential")
    assert next_step(rules, sp, [], []) == Step("speeches", 1, (A, B))
    assert next_step(rules, sp, [Speech(1, A, "x")], []) == Step("speeches", 1, (B,))
    step = next_step(rules, sp, [Speech(1, A, "x"), Speech(1, B, "y")], [])
    assert step.kind == "judge" and step.round == 1 and not step.must_end


def test_sequential_rounds_let_a_speak_before_b():
    rules, sp = debate(rounds=3, speeches="sequential")
    history = [Speech(1, A, "a"), Speech(1, B, "b")]
    reports = [Report(1, (0.5, 0.5))]
    assert next_step(rules, sp, history, reports) == Step("speeches", 2, (A,))
    assert next_step(rules, sp, history + [Speech(2, A, "a2")], reports) == Step("speeches", 2, (B,))


def test_simultaneous_rounds_ask_both_at_once():
    rules, sp = debate(rounds=3, speeches="simultaneous")
    history = [Speech(1, A, "a"), Speech(1, B, "b")]
    assert next_step(rules, sp, history, [Report(1, (0.5, 0.5))]) == Step("speeches", 2, (A, B))


def test_the_last_round_report_is_final_and_ending_early_follows_the_rules():
    rules, sp = debate(rounds=2, judge_may_end_early=False)
    history = [Speech(1, A, "a"), Speech(1, B, "b")]
    step = next_step(rules, sp, history, [])
    assert not step.may_end
    with pytest.raises(RuleViolation, match="do not allow ending"):
        check_report(step, Report(1, (0.6, 0.4), end=True), 2)
    history += [Speech(2, A, "a"), Speech(2, B, "b")]
    last = next_step(rules, sp, history, [Report(1, (0.6, 0.4))])
    assert last.must_end and check_report(last, Report(2, (3, 1)), 2).end


def test_a_judge_who_ends_early_finishes_the_debate():
    rules, sp = debate(rounds=5, judge_may_end_early=True)
    history = [Speech(1, A, "a"), Speech(1, B, "b")]
    report = check_report(next_step(rules, sp, history, []), Report(1, (0.9, 0.1), end=True), 2)
    assert next_step(rules, sp, history, [report]).kind == "done"


def test_reports_are_refused_out_of_turn_and_normalised():
    rules, sp = debate()
    with pytest.raises(RuleViolation, match="have not all spoken"):
        check_report(next_step(rules, sp, [], []), Report(1, (1, 1)), 2)
    step = next_step(rules, sp, [Speech(1, A, "a"), Speech(1, B, "b")], [])
    with pytest.raises(RuleViolation, match="round 2"):
        check_report(step, Report(2, (1, 1)), 2)
    with pytest.raises(RuleViolation, match="every answer"):
        check_report(step, Report(1, (1,)), 2)
    assert check_report(step, Report(1, (1, 3)), 2).probabilities == (0.25, 0.75)


def test_consultancy_has_one_speaker_honest_or_not_as_the_rules_say():
    always = CONSULTANCY.parse_rules({"consultant_honest_p": 1.0})
    never = CONSULTANCY.parse_rules({"consultant_honest_p": 0.0})
    honest = speakers_for(always, order=[0, 1, 2], correct_index=1, rng=random.Random(0))
    liars = {speakers_for(never, order=[0, 1, 2], correct_index=1, rng=random.Random(k))[0].answer_index
             for k in range(20)}
    assert honest == (Speaker("consultant", 1),) and liars == {0, 2}
    assert next_step(always, honest, [], []) == Step("speeches", 1, ("consultant",))
    with pytest.raises(RuleViolation, match="gold answer"):
        speakers_for(always, order=[0, 1], correct_index=None, rng=random.Random(0))


def test_debater_a_argues_the_first_answer_shown():
    sp = speakers_for(DEBATE.parse_rules({}), order=[1, 0], correct_index=0, rng=random.Random(0))
    assert sp == (Speaker("debater_a", 1), Speaker("debater_b", 0))


def test_direct_qa_is_one_final_judge_report():
    rules = DIRECT_QA.parse_rules({})
    step = next_step(rules, (), [], [])
    assert step.kind == "judge" and step.must_end


def test_debate_needs_two_options():
    with pytest.raises(RuleViolation, match="two answer options"):
        speakers_for(DEBATE.parse_rules({}), order=[0, 1, 2, 3], correct_index=0, rng=random.Random(0))


def test_rules_are_validated_with_the_field_named():
    with pytest.raises(RulesError, match="rounds"):
        DEBATE.parse_rules({"rounds": 0})
    with pytest.raises(RulesError, match="do not apply to this protocol: roundz"):
        DEBATE.parse_rules({"roundz": 3})
    with pytest.raises(RulesError, match="quote_limit"):
        DEBATE.parse_rules({"char_limit": 100, "quote_limit": 500})
    with pytest.raises(RulesError, match="consultant_honest_p"):  # a consultancy rule is not a debate rule
        DEBATE.parse_rules({"consultant_honest_p": 0.5})
    with pytest.raises(RulesError, match="rounds"):  # direct QA is one answer: no rounds to set
        DIRECT_QA.parse_rules({"rounds": 2})
    with pytest.raises(RulesError, match="scoring"):
        DIRECT_QA.parse_rules({"scoring": "brier"})
    with pytest.raises(RulesError, match="true or false"):
        DEBATE.parse_rules({"judge_questions": "yes"})


def test_limits_cut_quotes_past_the_budget_and_never_leave_a_quote_open():
    text = "Look: <quote>abcdefghij</quote> and <quote>klmnopqrst</quote> end."
    out = enforce_limits(text, char_limit=1000, quote_limit=12)
    assert quoted_length(out) == 10 and '"klmnopqrst"' in out
    cut = enforce_limits("Intro <quote>" + "x" * 50 + "</quote>", char_limit=30, quote_limit=100)
    assert "<quote>" not in cut and len(cut) <= 30


def test_scores_follow_the_rule_and_penalise_turns():
    assert judge_score(probabilities=[0.5, 0.5], correct_index=0, rule="log", turns=0, penalty=0.05) == -1.0
    assert judge_score(probabilities=[1.0, 0.0], correct_index=0, rule="log", turns=2, penalty=0.05) == pytest.approx(-0.1)
    assert judge_score(probabilities=[1.0, 0.0], correct_index=0, rule="quadratic", turns=0, penalty=0) == 1.0
    assert judge_score(probabilities=[0.0, 1.0], correct_index=0, rule="quadratic", turns=0, penalty=0) == -1.0
    # a confident mistake is costly but finite
    assert judge_score(probabilities=[0.0, 1.0], correct_index=0, rule="log", turns=0, penalty=0) == pytest.approx(-6.64, abs=0.01)


def test_when_time_is_up_the_judge_must_decide_now():
    rules, sp = debate(rounds=5, judge_may_end_early=False)
    step = next_step(rules, sp, [], [], time_up=True)
    assert step.kind == "judge" and step.must_end
    assert check_report(step, Report(1, (0.5, 0.5)), 2).end
