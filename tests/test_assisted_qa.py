"""Assisted QA on the database: a participant chats with the assistant, then answers; rules, limits, prompts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from oversight.sandwiching import conditions
from oversight import models
from oversight.protocols import strategies
from oversight.db import session_scope
from oversight.models.config import ModelsConfig, ScriptedConfig
from oversight.study.participation import next_task
from oversight.protocols import live
from oversight.protocols.base import RuleViolation
from oversight.protocols.batch import run_batch
from oversight.protocols.runner import SpeechRunner, turn_request
from oversight.protocols.strategies import StrategyError
from storage.models import Assignment, Judgment, Transcript, Turn
from tests.test_debate import STORY, item  # noqa: F401  (the item fixture)


@pytest.fixture
def echo_models():
    """Every role scripted; the assistant echoes the participant's message, the judge prefers option A."""
    cfg = ModelsConfig(models={"scripted": ScriptedConfig(name="scripted", choice_probs=[0.7, 0.3])},
                       roles={r: "scripted" for r in ("debater", "consultant", "assistant", "judge", "questioner",
                                                      "feedback")})
    models.configure(cfg)
    yield cfg
    models.configure(None)


def assisted(study_id: int, **rules) -> int:
    return strategies.create_strategy(study_id=study_id, name=f"assisted {sorted(rules.items())}",
                                      protocol="assisted-qa", rules={"randomise_answer_order": False, **rules}).id


def chat(tid: int, text: str, runner: SpeechRunner) -> str:
    """Send a message and wait for the reply; returns the reply."""
    live.send_message(transcript_id=tid, text=text)
    runner.run_until_judge(tid)
    return live.load_state(tid).turns[-1].text


def test_a_participant_chats_then_answers_and_everything_is_stored(echo_models, item, study):
    tid = live.start_transcript(item_id=item.id, strategy_id=assisted(study.id, max_messages=3))
    runner = SpeechRunner()
    step = live.judge_view(tid).step
    assert step.kind == "chat" and step.messages_left == 3 and step.may_end
    assert chat(tid, "What did the letter say?", runner) == "Scripted reply to: What did the letter say?"
    assert chat(tid, "And the machine?", runner) == "Scripted reply to: And the machine?"
    view = live.judge_view(tid)
    assert [(t.role, t.round) for t in view.turns] == [("participant", 1), ("assistant", 1), ("participant", 2),
                                                       ("assistant", 2)]
    assert view.step == live.Step("chat", 3, may_end=True, messages_left=1)
    live.submit_report(transcript_id=tid, round_=3, display_probabilities=[0.8, 0.2], end=True, judge_id=None)
    assert live.judge_view(tid).step.kind == "done"
    with session_scope(write=False) as s:
        [final] = s.exec(select(Judgment).where(Judgment.transcript_id == tid)).all()
        texts = s.exec(select(Turn.text).where(Turn.transcript_id == tid).order_by(Turn.position)).all()
        assert s.get(Transcript, tid).status == "complete"
    assert final.is_final and final.probabilities == pytest.approx([0.8, 0.2]) and final.round == 3
    assert texts[0] == "What did the letter say?" and texts[2] == "And the machine?"


def test_the_assistant_sees_only_what_the_rules_allow_and_never_the_gold(echo_models, item, study):
    shown = live.start_transcript(item_id=item.id, strategy_id=assisted(study.id))
    hidden = live.start_transcript(item_id=item.id, strategy_id=assisted(study.id, assistant_sees_source=False))
    for tid, expect_source in ((shown, STORY), (hidden, None)):
        live.send_message(transcript_id=tid, text="Help?")
        task = turn_request(live.load_state(tid), "assistant").task
        assert task.source == expect_source
        assert task.chat == (("user", "Help?"),)
        rendered = "\n".join(m.content for m in turn_request(live.load_state(tid), "assistant").chat())
        assert ("Mara kept the lighthouse" in rendered) == (expect_source is not None)
        assert "gold" not in repr(task).lower()


def test_messages_run_out_and_then_the_participant_must_answer(echo_models, item, study):
    tid = live.start_transcript(item_id=item.id, strategy_id=assisted(study.id, max_messages=1))
    runner = SpeechRunner()
    chat(tid, "One question", runner)
    step = live.judge_view(tid).step
    assert step.kind == "judge" and step.must_end and step.messages_left == 0
    with pytest.raises(RuleViolation, match="chat is closed"):
        live.send_message(transcript_id=tid, text="Another?")
    with pytest.raises(RuleViolation, match="Write a message"):
        live.send_message(transcript_id=live.start_transcript(item_id=item.id, strategy_id=assisted(study.id)),
                          text="   ")


def test_a_message_cannot_be_sent_while_the_assistant_is_writing(echo_models, item, study):
    tid = live.start_transcript(item_id=item.id, strategy_id=assisted(study.id))
    live.send_message(transcript_id=tid, text="First")
    assert live.judge_view(tid).step.kind == "speeches"
    with pytest.raises(RuleViolation, match="Wait for the assistant"):
        live.send_message(transcript_id=tid, text="Second")


def test_a_message_sent_from_two_tabs_is_stored_once(echo_models, item, study, monkeypatch):
    tid = live.start_transcript(item_id=item.id, strategy_id=assisted(study.id))
    before = live.load_state(tid)  # what the second tab saw before the first one sent
    live.send_message(transcript_id=tid, text="From tab one")
    monkeypatch.setattr(live, "load_state", lambda _tid: before)
    with pytest.raises(RuleViolation, match="already sent"):
        live.send_message(transcript_id=tid, text="From tab two")
    with session_scope(write=False) as s:
        assert s.exec(select(Turn.text).where(Turn.transcript_id == tid)).all() == ["From tab one"]


def test_starting_over_makes_the_assistant_forget_but_keeps_the_transcript(echo_models, item, study):
    tid = live.start_transcript(item_id=item.id, strategy_id=assisted(study.id))
    runner = SpeechRunner()
    chat(tid, "Old question", runner)
    live.restart_chat(transcript_id=tid)
    live.restart_chat(transcript_id=tid)  # nothing new to forget: stored once
    live.send_message(transcript_id=tid, text="New question")
    task = turn_request(live.load_state(tid), "assistant").task
    assert task.chat == (("user", "New question"),)
    runner.run_until_judge(tid)
    roles = [t.role for t in live.load_state(tid).turns]
    assert roles == ["participant", "assistant", "restart", "participant", "assistant"]
    no_restart = live.start_transcript(item_id=item.id, strategy_id=assisted(study.id, allow_restart=False))
    chat(no_restart, "Q", runner)
    with pytest.raises(RuleViolation, match="do not allow"):
        live.restart_chat(transcript_id=no_restart)


def test_answer_first_stores_the_unassisted_answer_on_the_same_item(echo_models, item, study):
    tid = live.start_transcript(item_id=item.id, strategy_id=assisted(study.id, answer_first=True))
    step = live.judge_view(tid).step
    assert step.kind == "judge" and step.round == 0 and not step.may_end
    with pytest.raises(RuleViolation, match="Wait|chat"):
        live.send_message(transcript_id=tid, text="Can I ask first?")
    live.submit_report(transcript_id=tid, round_=0, display_probabilities=[0.3, 0.7])
    chat(tid, "Is it B?", SpeechRunner())
    live.submit_report(transcript_id=tid, round_=2, display_probabilities=[0.9, 0.1], end=True)
    view = live.judge_view(tid)
    assert view.first_answer == pytest.approx([0.3, 0.7]) and view.step.kind == "done"
    with session_scope(write=False) as s:
        rows = s.exec(select(Judgment.round, Judgment.is_final).where(Judgment.transcript_id == tid)
                      .order_by(Judgment.round)).all()
    assert rows == [(0, False), (2, True)]


def test_the_time_limit_is_enforced_by_the_server(echo_models, item, study, participant_with_assisted_arm):
    user_id, sid = participant_with_assisted_arm
    task = next_task(user_id=user_id)
    tid = task.transcript_id

    def age(seconds: float) -> None:
        with session_scope() as s:
            t = s.get(Transcript, tid)
            t.created_at = t.created_at - timedelta(seconds=seconds)

    age(61)  # the limit is 60 s, then 30 s to answer
    step = live.judge_view(tid).step
    assert step.kind == "judge" and step.must_end  # the answer form takes over
    with pytest.raises(RuleViolation, match="chat is closed"):
        live.send_message(transcript_id=tid, text="Late question")
    age(30)
    assert live.judge_view(tid).step.kind == "expired"
    with pytest.raises(RuleViolation, match="Time ran out"):
        live.submit_report(transcript_id=tid, round_=1, display_probabilities=[0.5, 0.5], end=True)
    with session_scope(write=False) as s:
        assert s.get(Transcript, tid).status == "timed-out"
        assert s.get(Assignment, task.assignment_id).state == "skipped"
        assert s.exec(select(Judgment).where(Judgment.transcript_id == tid)).all() == []
    assert next_task(user_id=user_id) is None  # the participant moves on (their only item)


@pytest.fixture
def participant_with_assisted_arm(item, study):
    from oversight.access.auth import create_invites

    sid = assisted(study.id, total_time_limit_s=60, answer_grace_s=30)
    conditions.add_condition(study_id=study.id, kind="assisted", strategy_id=sid)
    return create_invites(study_id=study.id, count=1)[0].user_id, sid


@pytest.mark.slow
def test_an_ai_participant_asks_the_assistant_before_it_answers(item, study):
    models.configure(None)  # the offline extractive model in every role
    sid = assisted(study.id, ai_questions=2)
    result = run_batch(study_id=study.id, strategy_id=sid)
    [outcome] = result.outcomes
    assert outcome.error is None and outcome.correct is not None
    state = live.load_state(outcome.transcript_id)
    assert [t.role for t in state.turns] == ["participant", "assistant"] * 2
    assert state.turns[0].text.startswith("What in the text supports")
    assert "<quote>" in state.turns[1].text  # the extractive assistant quotes the story
    assert state.reports[-1].end and state.reports[-1].round == 3


def test_strategies_store_complete_prompts_and_the_models_get_them(echo_models, item, study):
    row = strategies.create_strategy(study_id=study.id, name="custom", protocol="assisted-qa",
                                     prompts={"assistant": {"system": "Be terse. Limit {char_limit} characters."}})
    assert set(row.prompts) == {"assistant", "judge", "questioner"}
    assert row.prompts["assistant"]["template"]  # the default template filled in
    tid = live.start_transcript(item_id=item.id, strategy_id=row.id)
    live.send_message(transcript_id=tid, text="Hi")
    system = turn_request(live.load_state(tid), "assistant").chat()[0]
    assert system.role == "system" and system.content == "Be terse. Limit 1200 characters."
    with pytest.raises(StrategyError, match=r"unknown placeholder\(s\) \{gold\}"):
        strategies.create_strategy(study_id=study.id, name="leaky", protocol="assisted-qa",
                                   prompts={"assistant": {"system": "The answer is {gold}"}})
    with pytest.raises(StrategyError, match="do not take part"):
        strategies.create_strategy(study_id=study.id, name="wrong role", protocol="assisted-qa",
                                   model_roles={"debater": "scripted"})


def test_a_new_version_shows_what_it_changed_field_by_field(study):
    v1 = strategies.create_strategy(study_id=study.id, name="help", protocol="assisted-qa")
    v2 = strategies.new_version(parent_id=v1.id, reason="fewer messages, terser assistant",
                                rules={**v1.rules, "max_messages": 4},
                                prompts={**v1.prompts, "assistant": {**v1.prompts["assistant"], "system": "Terse."}})
    changes = {c.field: (c.old, c.new) for c in strategies.diff(v1, v2)}
    assert changes == {"rules.max_messages": (10, 4),
                       "prompts.assistant.system": (v1.prompts["assistant"]["system"], "Terse.")}
    with pytest.raises(StrategyError, match="nothing changed"):
        strategies.new_version(parent_id=v2.id, reason="again")
    with pytest.raises(StrategyError, match="do not apply to this protocol: rounds"):
        strategies.new_version(parent_id=v2.id, reason="debate rule", rules={**v2.rules, "rounds": 3})


def test_the_offline_assistant_answers_the_latest_message_with_new_passages_first():
    from oversight.models import Request, Task, get_model
    from oversight.protocols.quotes import extract_quotes

    models.configure(None)
    assistant = get_model("extractive")

    def reply(chat: list[tuple[str, str]]) -> str:
        task = Task(role="assistant", question="Why did Mara keep climbing after the letter?",
                    options=("The new machine had not arrived", "She had not read the letter"), source=STORY,
                    char_limit=600, chat=tuple(chat))
        return assistant.complete([Request(task=task)])[0].text

    def quotes(text: str) -> set[str]:
        return {q for q, _, _ in extract_quotes(text)}

    chat = [("user", "What did the letter from the harbour board say?")]
    first = reply(chat)
    assert first.startswith("Passages relevant to your question") and quotes(first)
    assert all(q in " ".join(STORY.split()) for q in quotes(first))  # verbatim from the story
    chat += [("assistant", first), ("user", "How many steps did she climb each night?")]
    second = reply(chat)
    assert quotes(second) and not quotes(second) & quotes(first)  # new evidence, not the same quotes again
    for _ in range(6):  # once everything was quoted, it points back to the best passage for the question
        chat += [("assistant", reply(chat)), ("user", "Anything else?")]
        if chat[-2][1].startswith("The passage that bears on this most (quoted before)"):
            break
    else:
        raise AssertionError("the assistant never ran out of new passages")
    assert len(quotes(chat[-2][1])) == 1


def test_critique_revision_rewrites_each_model_turn_before_it_is_stored(item, study):
    """Constitutional AI's loop as a rule of any protocol whose models write turns: the assistant's reply is
    critiqued against a principle and the revision is what is stored."""
    models.configure(ModelsConfig(models={"s": ScriptedConfig(
        name="s", responses=["First draft, rude.", "It is rude.", "A polite, revised answer."])},
        roles={r: "s" for r in ("debater", "consultant", "assistant", "judge", "questioner", "feedback")}))
    try:
        with pytest.raises(StrategyError, match="critique_principles"):
            assisted(study.id, critique_rounds=1)
        tid = live.start_transcript(item_id=item.id, strategy_id=assisted(
            study.id, critique_rounds=1, critique_principles="Be polite.\nBe honest."))
        assert chat(tid, "Help?", SpeechRunner()) == "A polite, revised answer."
        debate = strategies.create_strategy(study_id=study.id, name="critiqued debate", protocol="debate",
                                            rules={"critique_rounds": 2, "critique_principles": "Quote exactly."})
        assert debate.rules["critique_rounds"] == 2
    finally:
        models.configure(None)
