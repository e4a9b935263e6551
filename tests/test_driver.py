"""The one transcript driver with each bot finishes a transcript of every registered protocol: a protocol whose
next_step returns a step kind its bot_moves does not name fails here, not in a batch run or a simulation."""

from __future__ import annotations

import random

import pytest
from sqlmodel import select

from oversight.protocols import strategies
from oversight.db import session_scope
from oversight.protocols import live
from oversight.protocols.base import Report, Speaker, Step, TurnRecord
from oversight.protocols.bots import ModelBot, PersonBot
from oversight.protocols.direct_qa import DirectQA
from oversight.protocols.driver import NoMove, drive
from oversight.protocols.registry import PROTOCOLS
from oversight.vocab import CHOICE_CONFIDENCE, is_correct
from storage.models import Judgment
from tests.test_assisted_qa import echo_models  # noqa: F401  (a fixture: every role scripted)
from tests.test_debate import item  # noqa: F401  (a fixture: two options, a source, gold A)

# Rules that make each protocol go through every step kind it has: several rounds, answer first, a chat.
RULES = {"debate": {"rounds": 2}, "consultancy": {"rounds": 2, "judge_may_end_early": False},
         "assisted-qa": {"answer_first": True, "ai_questions": 2}}


def start(study_id: int, item_id: int, protocol: str) -> int:
    sid = strategies.create_strategy(study_id=study_id, name=protocol, protocol=protocol,
                                     rules=RULES.get(protocol, {})).id
    return live.start_transcript(item_id=item_id, strategy_id=sid, seed=3)


@pytest.mark.parametrize("protocol", sorted(PROTOCOLS))
def test_a_person_bot_finishes_every_protocol_through_the_one_answer_form(echo_models, item, study, protocol):
    bot = PersonBot(n_options=2, chosen=0, confidence=0.7)
    driven = drive(start(study.id, item.id, protocol), bot)
    assert driven.finished and driven.state.step.kind == "done"
    assert {move for move, _ in driven.moves} <= {"models", "report", "chat"}
    final = driven.state.reports[-1]
    assert final.probabilities == pytest.approx((0.7, 0.3)) and is_correct(final.probabilities, 0)  # item order
    with session_scope(write=False) as s:
        forms = s.exec(select(Judgment.answer_form).where(
            Judgment.transcript_id == driven.state.transcript_id)).all()
    assert forms and set(forms) == {CHOICE_CONFIDENCE}  # every report, as on the page
    if protocol == "assisted-qa":  # a person asks once, and answered first
        assert [t.role for t in driven.state.turns] == ["participant", "assistant"]
        assert driven.state.reports[0].round == 0


@pytest.mark.parametrize("protocol", sorted(PROTOCOLS))
def test_a_model_bot_finishes_every_protocol_reading_every_round(echo_models, item, study, protocol):
    driven = drive(start(study.id, item.id, protocol), ModelBot("scripted"))
    assert driven.finished and driven.state.step.kind == "done"
    if protocol in ("debate", "consultancy"):  # the AI judge reads every round the rules allow
        assert [r.round for r in driven.state.reports] == [1, 2]
    if protocol == "assisted-qa":
        assert [t.role for t in driven.state.turns] == ["participant", "assistant"] * 2


def test_a_step_kind_the_protocol_gives_no_move_fails_loudly(echo_models, item, study, monkeypatch):
    """A protocol that adds a step kind and forgets to name its move cannot be driven."""

    class Vote(DirectQA):
        def next_step(self, rules, speakers: tuple[Speaker, ...], turns: list[TurnRecord], reports: list[Report],
                      *, time_up: bool) -> Step:
            return Step("vote", 1)

    monkeypatch.setitem(PROTOCOLS, "direct-qa", Vote())
    with pytest.raises(NoMove, match="step kind 'vote'"):
        drive(start(study.id, item.id, "direct-qa"), PersonBot(2, 0, 0.7))


def test_a_planted_person_is_right_as_often_as_planted_and_calibrated():
    rng = random.Random(0)
    bots = [PersonBot.planted(rng, n_options=4, gold=1, accuracy=0.75, sd=0.05) for _ in range(4000)]
    assert sum(is_correct(b.probabilities, 1) for b in bots) / len(bots) == pytest.approx(0.75, abs=0.03)
    assert all(0.55 <= b.confidence <= 0.99 and b.answer(None, final=True).answer_form == CHOICE_CONFIDENCE
               for b in bots)
