"""The judge's page under AppTest: a whole debate, round by round, with every report stored on submit."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from oversight.access import auth
from oversight.sandwiching import conditions
from oversight import models
from oversight.protocols import strategies
from oversight.sandwiching.conditions import has_model_turns
from oversight.protocols.registry import get_protocol
from oversight.db import session_scope
from oversight.models.config import ModelsConfig, ScriptedConfig
from oversight.study.participation import record_consent
from oversight.protocols import live
from storage.models import Item, ItemGold, Judgment
from web.ui import escape_markdown, speech_markdown

REPO = Path(__file__).resolve().parents[2]
SOURCE = "The key was under the blue flowerpot by the door. Nobody had moved it for years."


@pytest.fixture
def debate_participant(study):
    models.configure(ModelsConfig(
        models={"s": ScriptedConfig(name="s",
                                 responses=["Look: <quote>under the blue flowerpot</quote>. <b>trust me</b>",
                                            "It was <quote>in the mailbox</quote>, clearly."])},
        roles={r: "s" for r in ("debater", "consultant", "assistant", "judge", "feedback")}))
    with session_scope() as s:
        item = Item(study_id=study.id, external_id="key", question="Where was the key?",
                    options=["Under the flowerpot", "In the mailbox"], source_text=SOURCE)
        s.add(item)
        s.flush()
        s.add(ItemGold(item_id=item.id, gold_index=0))
    arm = strategies.create_strategy(study_id=study.id, name="debate", protocol="debate",
                                     rules={"rounds": 2, "judge_questions": True, "randomise_answer_order": False})
    conditions.add_condition(study_id=study.id, kind="assisted", strategy_id=arm.id)
    pid = auth.create_invites(study_id=study.id, count=1)[0].user_id
    record_consent(user_id=pid)
    yield pid
    models.configure(None)


def run(pid: int, at: AppTest | None = None) -> AppTest:
    if at is None:
        at = AppTest.from_file(str(REPO / "views" / "participant.py"), default_timeout=60)
        at.session_state["user_id"] = pid
    return at.run()


def wait_for_judge_step(transcript_id: int) -> None:
    deadline = time.monotonic() + 30
    while live.load_state(transcript_id).step.kind != "judge":
        assert time.monotonic() < deadline, "speeches were never generated"
        time.sleep(0.05)


def test_a_judge_goes_through_a_whole_debate(debate_participant):
    at = run(debate_participant)
    assert not at.exception
    with session_scope(write=False) as s:
        tid = s.exec(select(live.Transcript.id)).one()
    wait_for_judge_step(tid)
    at = run(debate_participant, at)
    shown = " ".join(m.value for m in at.markdown)
    assert ":green-background[“under the blue flowerpot”]" in shown
    assert ":red-background[~~“in the mailbox”~~" in shown  # not in the text: marked unverified
    assert "\\<b\\>trust me\\</b\\>" in shown  # model text is text, never HTML
    assert SOURCE not in " ".join(t.value for t in at.text)

    # The per-round report is the one answer form (choose, then how sure), plus the note to the debaters.
    assert at.radio[0].label == "Your answer" and at.radio[0].value is None
    at.text_area[0].input("Debater B, where does the text say mailbox?")
    next(b for b in at.button if b.label.startswith("Continue to round 2")).click()
    at = run(debate_participant, at)
    assert any("Choose an answer first" in w.value for w in at.warning)  # nothing chosen: nothing stored
    with session_scope(write=False) as s:
        assert s.exec(select(Judgment)).all() == []
    at.radio[0].set_value(0)
    at.slider[0].set_value(70)
    next(b for b in at.button if b.label.startswith("Continue to round 2")).click()
    at = run(debate_participant, at)
    with session_scope(write=False) as s:
        first = s.exec(select(Judgment)).one()
    assert first.probabilities == pytest.approx([0.7, 0.3]) and not first.is_final and first.round == 1
    assert first.answer_form == "choice-confidence"

    wait_for_judge_step(tid)
    at = run(debate_participant, at)
    assert not [b for b in at.button if b.label.startswith("Continue")]  # last round: final only
    at.radio[0].set_value(0)
    at.slider[0].set_value(90)
    at.text_area[0].input("Only A's quote checked out.")
    next(b for b in at.button if b.label == "Submit final answer").click()
    at = run(debate_participant, at)
    texts = " ".join(t.value for t in at.text)
    assert "The correct answer was A" in texts
    # Correct and how sure (the study's default feedback), not a bare log score.
    assert "Correct — you were 90% sure." in [m.value for m in at.success] and "score" not in texts.lower()
    with session_scope(write=False) as s:
        final = s.exec(select(Judgment).where(Judgment.is_final)).one()
    assert final.probabilities == pytest.approx([0.9, 0.1]) and final.rationale == "Only A's quote checked out."
    assert final.answer_form == "choice-confidence"


def test_a_full_model_queue_shows_the_model_is_busy_and_the_debate_goes_on_once_there_is_room(
        debate_participant, monkeypatch):
    from oversight.protocols import runner as runner_mod

    full = runner_mod.SpeechRunner(max_queued=0)  # every place in the model queue is taken
    monkeypatch.setattr(runner_mod, "_runner", full)
    at = run(debate_participant)
    assert not at.exception and not at.error
    assert any("The model is busy" in i.value for i in at.info)  # a clear state, not an error
    with session_scope(write=False) as s:
        tid = s.exec(select(live.Transcript.id)).one()
    assert live.load_state(tid).turns == []
    full._max_queued = 64  # room again: the next poll starts the owed speeches
    at = run(debate_participant, at)
    wait_for_judge_step(tid)
    at = run(debate_participant, at)
    assert not any("The model is busy" in i.value for i in at.info)
    assert at.radio[0].label == "Your answer"
    assert sorted(t.role for t in live.load_state(tid).turns) == ["debater_a", "debater_b"]  # one per slot


def test_finishing_needs_a_reason(debate_participant):
    at = run(debate_participant)
    with session_scope(write=False) as s:
        tid = s.exec(select(live.Transcript.id)).one()
    wait_for_judge_step(tid)
    at = run(debate_participant, at)
    at.radio[0].set_value(1)
    next(b for b in at.button if b.label == "Submit final answer").click()
    at = run(debate_participant, at)
    assert any("say briefly why" in e.value for e in at.error)  # refused by the protocol, shown as text
    with session_scope(write=False) as s:
        assert s.exec(select(Judgment)).all() == []


def test_markdown_escaping_keeps_text_literal():
    assert escape_markdown("<script>x</script> **b** [l](http://e)") == \
        "\\<script\\>x\\</script\\> \\*\\*b\\*\\* \\[l\\]\\(http\\:\u2060//e\\)"
    # GFM links bare addresses whatever the escapes: a word joiner keeps them text.
    assert escape_markdown("see https://x.org, www.x.org or me@x.org") == \
        "see https\\:\u2060//x\\.org, www\u2060\\.x\\.org or me@\u2060x\\.org"
    quotes = [{"text": "a]b", "verified": True, "start": 0, "end": 18}]
    assert speech_markdown("<quote>a]b</quote> tail", quotes) == ":green-background[“a\\]b”] tail"


def participant_under(study, protocol: str, rules: dict, responses: list[str]) -> int:
    """A consented participant dealt one item under a strategy of `protocol`, with scripted models."""
    models.configure(ModelsConfig(
        models={"s": ScriptedConfig(name="s", responses=responses)},
        roles={r: "s" for r in ("debater", "consultant", "assistant", "judge", "questioner", "feedback")}))
    with session_scope() as s:
        item = Item(study_id=study.id, external_id="key", question="Where was the key?",
                    options=["Under the flowerpot", "In the mailbox"], source_text=SOURCE)
        s.add(item)
        s.flush()
        s.add(ItemGold(item_id=item.id, gold_index=0))
    arm = strategies.create_strategy(study_id=study.id, name=protocol, protocol=protocol,
                                     rules={"randomise_answer_order": False, **rules})
    kind = "assisted" if has_model_turns(get_protocol(protocol)) else "alone"
    conditions.add_condition(study_id=study.id, kind=kind, strategy_id=arm.id)
    pid = auth.create_invites(study_id=study.id, count=1)[0].user_id
    record_consent(user_id=pid)
    return pid


def test_a_consultancy_shows_one_consultant_and_what_it_argues(study):
    pid = participant_under(study, "consultancy", {"rounds": 1, "consultant_honest_p": 0.0},
                            ["Clearly <quote>in the mailbox</quote>."])
    try:
        at = run(pid)
        with session_scope(write=False) as s:
            tid = s.exec(select(live.Transcript.id)).one()
        wait_for_judge_step(tid)
        at = run(pid, at)
        assert not at.exception
        assert any("A consultant has read a text you cannot see" in c.value for c in at.caption)
        heads = [m.value for m in at.markdown if m.value.startswith("**")]
        assert heads == ["**Consultant** · argues for answer B"]  # dishonest: the wrong answer, shown as B
    finally:
        models.configure(None)


def test_a_failed_model_turn_can_be_tried_again(study):
    pid = participant_under(study, "consultancy", {"rounds": 1, "consultant_honest_p": 1.0},
                            ["!error the model server is down", "It is <quote>under the blue flowerpot</quote>."])
    try:
        at = run(pid)
        with session_scope(write=False) as s:
            tid = s.exec(select(live.Transcript.id)).one()
        deadline = time.monotonic() + 30
        while not [b for b in at.button if b.label == "Try again"]:
            assert time.monotonic() < deadline, "the failure was never shown"
            time.sleep(0.1)
            at = run(pid, at)
        assert any("could not write this turn" in e.value for e in at.error)
        next(b for b in at.button if b.label == "Try again").click()
        at = run(pid, at)
        wait_for_judge_step(tid)
        at = run(pid, at)
        assert any("under the blue flowerpot" in m.value for m in at.markdown)
        assert not [b for b in at.button if b.label == "Try again"]
    finally:
        models.configure(None)


def test_a_participant_chats_and_answers_with_a_confidence(study):
    pid = participant_under(study, "assisted-qa", {"max_messages": 2, "require_rationale": True}, [])
    try:
        at = run(pid)
        assert not at.exception and any("An AI assistant can help you" in c.value for c in at.caption)
        assert any("You can send 2 more messages." in c.value for c in at.caption)
        at.chat_input[0].set_value("Where is the key?").run()
        with session_scope(write=False) as s:
            tid = s.exec(select(live.Transcript.id)).one()
        deadline = time.monotonic() + 30
        while live.load_state(tid).step.kind != "chat":
            assert time.monotonic() < deadline, "the assistant never replied"
            time.sleep(0.05)
        at = run(pid, at)
        chat = [m.value for m in at.markdown]
        assert "Where is the key?" in " ".join(chat) and any("Scripted reply to" in m for m in chat)
        assert at.radio[0].value is None  # no answer is preselected
        next(b for b in at.button if b.label == "Submit final answer").click()
        at = run(pid, at)
        assert any("Choose an answer first: nothing was saved." in w.value for w in at.warning)
        at.radio[0].set_value(1)
        at.slider[0].set_value(80)
        next(b for b in at.button if b.label == "Submit final answer").click()
        at = run(pid, at)
        assert any("say briefly why" in e.value for e in at.error)  # the strategy asks for a reason
        at.text_area[0].input("The assistant quoted nothing about a flowerpot.")
        next(b for b in at.button if b.label == "Submit final answer").click()
        at = run(pid, at)
        assert any("Your final answer is saved." in s.value for s in at.success)
        with session_scope(write=False) as s:
            final = s.exec(select(Judgment).where(Judgment.is_final)).one()
        assert final.probabilities == pytest.approx([0.2, 0.8]) and final.round == 2
        assert final.answer_form == "choice-confidence"
        assert final.rationale == "The assistant quoted nothing about a flowerpot."
    finally:
        models.configure(None)
