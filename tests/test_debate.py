"""Live debates end to end on the database: scripted models, the extractive model, AI judges, restarts."""

from __future__ import annotations

import threading
import time

import pytest
from sqlmodel import select

from oversight import models
from oversight.protocols import strategies, transcripts
from oversight.db import session_scope
from oversight.models.config import ModelsConfig, ScriptedConfig
from oversight.protocols import live
from oversight.protocols.ai_judge import judge_transcript
from oversight.protocols.batch import run_batch
from oversight.protocols.base import RuleViolation
from oversight.protocols.runner import SpeechRunner
from storage.models import Item, ItemGold, Judgment, Transcript, Turn

STORY = (
    "Mara kept the lighthouse on Gull Rock for eleven winters. Each night she climbed the ninety steps and trimmed "
    "the wick, because the supply boat had stopped bringing kerosene for the electric lamp's backup. "
    "In the spring of the twelfth year a letter came from the harbour board. It said the light would be automated "
    "and that her post was ended. Mara read it twice, folded it into her coat, and kept climbing the steps anyway, "
    "because the new machine had not yet arrived and ships still passed the rock at night."
)


@pytest.fixture
def scripted_models():
    cfg = ModelsConfig(
        models={"scripted": ScriptedConfig(name="scripted",
                                        responses=["I argue with <quote>ninety steps</quote> as proof."],
                                        choice_probs=[0.8, 0.2])},
        roles={r: "scripted" for r in ("debater", "consultant", "assistant", "judge", "feedback")})
    models.configure(cfg)
    yield cfg
    models.configure(None)


@pytest.fixture
def item(study):
    with session_scope() as s:
        row = Item(study_id=study.id, external_id="lh", question="Why did Mara keep climbing after the letter?",
                   options=["The new machine had not arrived and ships still passed", "She had not read the letter"],
                   source_text=STORY)
        s.add(row)
        s.flush()
        s.add(ItemGold(item_id=row.id, gold_index=0))
        return row


def make_strategy(study_id: int, protocol: str = "debate", **rules) -> int:
    return strategies.create_strategy(study_id=study_id, name=f"{protocol}-{len(rules)}-{sorted(rules)}",
                                      protocol=protocol, rules=rules).id


def test_a_full_debate_with_a_human_judge(scripted_models, item, study):
    sid = make_strategy(study.id, rounds=2, randomise_answer_order=False, judge_may_end_early=False)
    tid = live.start_transcript(item_id=item.id, strategy_id=sid)
    runner = SpeechRunner()
    view = live.judge_view(tid)
    assert view.step.kind == "speeches" and view.turns == []  # nothing revealed before both speak
    runner.run_until_judge(tid)
    view = live.judge_view(tid)
    assert view.step.kind == "judge" and [s.role for s in view.turns] == ["debater_a", "debater_b"]
    assert all(q["verified"] for s in view.turns for q in s.quotes)
    live.submit_report(transcript_id=tid, round_=1, display_probabilities=[0.6, 0.4], note="B, why?", judge_id=None)
    with pytest.raises(RuleViolation):  # not the judge's turn again before round 2's speeches
        live.submit_report(transcript_id=tid, round_=1, display_probabilities=[0.6, 0.4])
    runner.run_until_judge(tid)
    live.submit_report(transcript_id=tid, round_=2, display_probabilities=[0.9, 0.1], rationale="A quoted well")
    view = live.judge_view(tid)
    assert view.step.kind == "done"
    assert view.outcome.correct_position == 0 and view.outcome.probability_correct == pytest.approx(0.9)
    with session_scope(write=False) as s:
        judgments = s.exec(select(Judgment).where(Judgment.transcript_id == tid).order_by(Judgment.round)).all()
        assert [j.is_final for j in judgments] == [False, True]
        assert judgments[-1].rationale == "A quoted well"
        assert s.get(Transcript, tid).status == "complete"


def test_the_judge_sees_no_gold_and_no_source_before_the_end(scripted_models, item, study):
    sid = make_strategy(study.id, rounds=1)
    tid = live.start_transcript(item_id=item.id, strategy_id=sid)
    SpeechRunner().run_until_judge(tid)
    view = live.judge_view(tid)
    assert view.outcome is None
    assert STORY not in repr(view)


def test_answer_order_randomisation_maps_back_to_item_order(scripted_models, item, study):
    sid = make_strategy(study.id, rounds=1, randomise_answer_order=True)
    flipped = next(seed for seed in range(50)
                   if live.load_state(live.start_transcript(item_id=item.id, strategy_id=sid, seed=seed)).order == [1, 0])
    tid = live.start_transcript(item_id=item.id, strategy_id=sid, seed=flipped)
    state = live.load_state(tid)
    assert live.judge_view(tid).options == [item.options[1], item.options[0]]
    assert state.answer_of("debater_a") == 1  # debater A argues the first displayed answer
    SpeechRunner().run_until_judge(tid)
    live.submit_report(transcript_id=tid, round_=1, display_probabilities=[0.3, 0.7], rationale="B quoted")
    with session_scope(write=False) as s:
        j = s.exec(select(Judgment).where(Judgment.transcript_id == tid)).one()
    assert j.probabilities == pytest.approx([0.7, 0.3])  # stored in the item's order


def test_a_turn_generated_twice_is_stored_once(scripted_models, item, study):
    sid = make_strategy(study.id, rounds=1)
    tid = live.start_transcript(item_id=item.id, strategy_id=sid)
    assert live.add_speech(transcript_id=tid, round_=1, role="debater_a", text="first")
    assert not live.add_speech(transcript_id=tid, round_=1, role="debater_a", text="second")
    with session_scope(write=False) as s:
        texts = s.exec(select(Turn.text).where(Turn.transcript_id == tid)).all()
    assert texts == ["first"]


def test_simultaneous_speeches_read_a_before_b_whichever_finished_first(scripted_models, item, study):
    sid = make_strategy(study.id, rounds=2, randomise_answer_order=False)
    tid = live.start_transcript(item_id=item.id, strategy_id=sid)
    live.add_speech(transcript_id=tid, round_=1, role="debater_b", text="B finished first")
    live.add_speech(transcript_id=tid, round_=1, role="debater_a", text="A finished second")
    assert [t.text for t in live.judge_view(tid).turns] == ["A finished second", "B finished first"]
    live.submit_report(transcript_id=tid, round_=1, display_probabilities=[0.5, 0.5], note="Why?")
    state = live.load_state(tid)
    said = state.protocol.model_task(state, "debater_a").transcript
    assert [text for _, text in said] == ["A finished second", "B finished first", "Why?"]
    first = transcripts.transcript_detail(transcript_id=tid).rounds[0]
    assert [t.text for t in first.speeches] == ["A finished second", "B finished first"]


def test_a_restart_mid_round_resumes_without_losing_or_repeating_a_turn(scripted_models, item, study):
    sid = make_strategy(study.id, rounds=2, speeches="sequential")
    tid = live.start_transcript(item_id=item.id, strategy_id=sid)
    SpeechRunner().run_until_judge(tid)
    live.submit_report(transcript_id=tid, round_=1, display_probabilities=[0.5, 0.5])
    # Round 2 is sequential: debater A's speech is stored, then the server "dies" before B's.
    live.add_speech(transcript_id=tid, round_=2, role="debater_a", text="A's second speech")
    fresh = SpeechRunner()  # a new process has nothing in flight
    assert fresh.ensure(tid) == ["debater_b"]
    fresh.run_until_judge(tid)
    with session_scope(write=False) as s:
        roles = s.exec(select(Turn.role).where(Turn.transcript_id == tid, Turn.round == 2).order_by(Turn.position)).all()
    assert roles == ["debater_a", "debater_b"]


def test_a_failing_model_leaves_the_debate_resumable(item, study):
    cfg = ModelsConfig(models={"bad": ScriptedConfig(name="bad", responses=["!error server down"])},
                       roles={r: "bad" for r in ("debater", "consultant", "assistant", "judge", "feedback")})
    models.configure(cfg)
    try:
        sid = make_strategy(study.id, rounds=1)
        tid = live.start_transcript(item_id=item.id, strategy_id=sid)
        runner = SpeechRunner()
        with pytest.raises(models.ModelError, match="server down"):
            runner.run_until_judge(tid)
        # The first failure ends the run; the round's other speech may still be on its way to failing too.
        assert runner.wait(tid, 1, timeout_s=60)
        assert live.judge_view(tid).step.kind == "speeches"  # nothing half-stored; a retry can go on
        runner.ensure(tid)  # a page poll does not silently start a failed speech again...
        assert any(p.error for p in runner.partial(tid, 1).values())
        cfg.models["bad"].responses = ["now it works"]
        runner.retry(tid)  # ...the judge's "Try again" does
        runner.run_until_judge(tid)
        assert live.judge_view(tid).step.kind == "judge"
    finally:
        models.configure(None)


def test_consultancy_consultant_argues_the_recorded_side(scripted_models, item, study):
    sid = make_strategy(study.id, protocol="consultancy", rounds=1, consultant_honest_p=0.0)
    tid = live.start_transcript(item_id=item.id, strategy_id=sid)
    state = live.load_state(tid)
    assert [sp.role for sp in state.speakers] == ["consultant"] and state.answer_of("consultant") == 1
    with session_scope(write=False) as s:
        assert s.get(Transcript, tid).meta["roles"]["consultant"]["honest"] is False


def test_ai_judge_averages_both_orders(scripted_models, item, study):
    # The scripted judge always puts 0.8 on the first option shown: pure position bias, which must cancel.
    sid = make_strategy(study.id, rounds=1)
    tid = live.start_transcript(item_id=item.id, strategy_id=sid)
    SpeechRunner().run_until_judge(tid)
    judgment = judge_transcript(transcript_id=tid)
    assert judgment.probabilities == pytest.approx([0.5, 0.5]) and judgment.judge_kind == "ai-offline"


def test_batch_run_fills_the_same_tables(scripted_models, item, study):
    sid = make_strategy(study.id, rounds=2)
    seen = []
    result = run_batch(study_id=study.id, strategy_id=sid, progress=lambda d, n, m: seen.append((d, n)))
    assert result.to_dict()["n"] == 1 and seen[-1] == (1, 1)
    with session_scope(write=False) as s:
        finals = s.exec(select(Judgment).where(Judgment.is_final, Judgment.judge_kind == "ai")).all()
        assert len(finals) == 1 and finals[0].round == 2


def test_debate_with_the_extractive_model_quotes_the_story(item, study):
    models.configure(None)
    sid = strategies.create_strategy(study_id=study.id, name="extractive debate", protocol="debate",
                                     rules={"rounds": 2}, model_roles={"debater": "extractive", "judge": "extractive"}).id
    result = run_batch(study_id=study.id, strategy_id=sid)
    assert result.outcomes[0].error is None
    tid = result.outcomes[0].transcript_id
    with session_scope(write=False) as s:
        turns = s.exec(select(Turn).where(Turn.transcript_id == tid, Turn.role != "judge")).all()
    assert len(turns) == 4
    first = [t for t in turns if t.round == 1]
    for turn in first:
        assert turn.quotes and all(q["verified"] for q in turn.quotes)
        assert len(turn.text) <= 750
    # A later round brings new evidence or says it has none; it never repeats a quote already in the debate.
    earlier = {q["text"] for t in first for q in t.quotes}
    assert not earlier & {q["text"] for t in turns if t.round == 2 for q in t.quotes}


def test_the_total_time_limit_forces_a_final_answer(scripted_models, item, study):
    sid = make_strategy(study.id, rounds=3, total_time_limit_s=60, judge_may_end_early=False)
    tid = live.start_transcript(item_id=item.id, strategy_id=sid)
    assert not live.load_state(tid).time_up
    with session_scope() as s:  # the judge started 2 minutes ago
        from datetime import timedelta

        t = s.get(Transcript, tid)
        t.created_at = t.created_at - timedelta(minutes=2)
    step = live.judge_view(tid).step
    assert step.kind == "judge" and step.must_end and step.round == 1
    with pytest.raises(RuleViolation, match="say briefly why"):  # the rules ask a person for a reason
        live.submit_report(transcript_id=tid, round_=1, display_probabilities=[0.6, 0.4])
    # A person's final answer chooses one option: a 50/50 report is refused, nothing stored.
    with pytest.raises(RuleViolation, match="choose one answer"):
        live.submit_report(transcript_id=tid, round_=1, display_probabilities=[0.5, 0.5], rationale="out of time")
    live.submit_report(transcript_id=tid, round_=1, display_probabilities=[0.6, 0.4], rationale="out of time",
                       answer_form="choice-confidence")
    assert live.judge_view(tid).step.kind == "done"
    with session_scope(write=False) as s:
        [j] = s.exec(select(Judgment).where(Judgment.transcript_id == tid)).all()
    assert (j.is_final, j.answer_form) == (True, "choice-confidence")


def test_model_alone_reads_the_source_and_direct_qa_does_not(item, study):
    models.configure(None)
    alone = strategies.create_strategy(study_id=study.id, name="alone", protocol="model-alone").id
    blind = strategies.create_strategy(study_id=study.id, name="blind", protocol="direct-qa").id
    with_text = run_batch(study_id=study.id, strategy_id=alone).outcomes[0]
    without = run_batch(study_id=study.id, strategy_id=blind).outcomes[0]
    assert with_text.error is None and without.error is None
    assert with_text.p_correct > 0.5  # the answer is nearly verbatim in the story
    assert with_text.p_correct != without.p_correct


def test_a_report_sent_from_two_tabs_is_stored_once(scripted_models, item, study, monkeypatch):
    sid = make_strategy(study.id, rounds=2)
    tid = live.start_transcript(item_id=item.id, strategy_id=sid)
    SpeechRunner().run_until_judge(tid)
    before = live.load_state(tid)  # what the second tab saw before the first one submitted
    live.submit_report(transcript_id=tid, round_=1, display_probabilities=[0.6, 0.4])
    monkeypatch.setattr(live, "load_state", lambda _tid: before)
    with pytest.raises(RuleViolation, match="already submitted"):
        live.submit_report(transcript_id=tid, round_=1, display_probabilities=[0.1, 0.9])
    with session_scope(write=False) as s:
        stored = s.exec(select(Judgment.probabilities).where(Judgment.transcript_id == tid)).all()
    assert len(stored) == 1 and stored[0] in ([0.6, 0.4], [0.4, 0.6])


def test_best_of_n_keeps_the_candidate_the_preference_judge_finds_most_convincing(item, study, monkeypatch):
    cfg = ModelsConfig(
        models={"s": ScriptedConfig(name="s",
                                 responses=["A weak case.", "The strongest case: <quote>ninety steps</quote>.",
                                            "Another weak case."])},
        roles={r: "s" for r in ("debater", "consultant", "assistant", "judge", "feedback")})
    models.configure(cfg)
    try:
        from oversight.protocols import runner as runner_mod

        class PreferenceJudge:
            name = "pref"

            def score_choices(self, request, options):
                # Finds a speech convincing (for the speaker's own side) when it quotes the text.
                text = request.task.transcript[0][1]
                return [0.9, 0.1] if "<quote>" in text else [0.5, 0.5]

        real = runner_mod.model_for
        monkeypatch.setattr(runner_mod, "model_for",
                            lambda state, role: PreferenceJudge() if role == "judge" else real(state, role))
        sid = make_strategy(study.id, protocol="consultancy", rounds=1, best_of_n=3, consultant_honest_p=1.0,
                            randomise_answer_order=False)
        tid = live.start_transcript(item_id=item.id, strategy_id=sid)
        SpeechRunner().run_until_judge(tid)
        [speech] = live.load_state(tid).turns
        assert speech.text == "The strongest case: <quote>ninety steps</quote>."
    finally:
        models.configure(None)


def test_a_page_can_wait_for_a_fast_model_instead_of_polling(scripted_models, item, study, monkeypatch):
    """`wait` returns once the round's speeches are stored (so the page shows them at once), and returns False
    while a speech is still in flight."""
    import threading

    sid = make_strategy(study.id, rounds=1, randomise_answer_order=False)
    tid = live.start_transcript(item_id=item.id, strategy_id=sid)
    runner = SpeechRunner()
    release = threading.Event()
    real = live.add_speech

    def slow_add_speech(**kw):
        release.wait(10)  # the model has written its turn; storing it waits for the test
        return real(**kw)

    monkeypatch.setattr(live, "add_speech", slow_add_speech)
    runner.ensure(tid)
    assert runner.wait(tid, 1, timeout_s=0.2) is False  # both speeches still in flight
    release.set()
    assert runner.wait(tid, 1, timeout_s=10) is True
    assert live.load_state(tid).step.kind == "judge"
    assert [t.role for t in live.judge_view(tid).turns] == ["debater_a", "debater_b"]


def test_a_full_model_queue_turns_new_speeches_away_then_writes_each_once(scripted_models, item, study,
                                                                           monkeypatch):
    """A burst of debates waits its turn instead of piling up behind the model: past the bound nothing starts
    and the page is told the model is busy; once there is room the owed speeches start, and each slot gets one."""
    from oversight.protocols import runner as runner_mod

    release = threading.Event()
    write = runner_mod.generate_turn

    def slow(state, role, on_delta=None):
        release.wait(10)  # the model is busy writing
        return write(state, role, on_delta)

    monkeypatch.setattr(runner_mod, "generate_turn", slow)
    sid = make_strategy(study.id, rounds=1)  # two simultaneous speeches per debate
    first, second, third = (live.start_transcript(item_id=item.id, strategy_id=sid) for _ in range(3))
    both = ["debater_a", "debater_b"]
    runner = SpeechRunner(max_queued=2)
    assert runner.ensure(first) == both and not runner.busy(first)
    assert runner.ensure(second) == [] and runner.busy(second)  # full: nothing queued behind the first
    assert runner.ensure(third) == [] and runner.busy(third)
    assert runner.partial(second) == runner.partial(third) == {}
    runner._max_queued = 6  # room for two more debates: first come, first served
    assert runner.ensure(third) == [] and runner.busy(third)  # the second asked first
    assert runner.ensure(second) == both and runner.ensure(third) == both
    release.set()
    for tid in (first, second, third):
        runner.run_until_judge(tid)
    assert not any(runner.busy(t) for t in (first, second, third))
    with session_scope(write=False) as s:
        slots = s.exec(select(Turn.transcript_id, Turn.slot)
                       .where(Turn.transcript_id.in_([first, second, third]))).all()
    assert sorted(slots) == sorted((t, f"1:{r}") for t in (first, second, third) for r in both)  # one per slot


def test_a_turn_that_finishes_hands_its_place_to_the_first_one_waiting(scripted_models, item, study):
    sid = make_strategy(study.id, rounds=1)
    first, second = (live.start_transcript(item_id=item.id, strategy_id=sid) for _ in range(2))
    runner = SpeechRunner(max_queued=1)
    runner.ensure(first)
    runner.ensure(second)  # waits, unless the first was already done
    runner.run_until_judge(first)
    deadline = time.monotonic() + 30  # no one asks again for the second: the finished turns start it
    while live.load_state(second).step.kind == "speeches":
        assert time.monotonic() < deadline, "the waiting debate was never started"
        time.sleep(0.05)


def test_no_model_call_runs_inside_a_database_transaction(scripted_models, item, study, monkeypatch):
    """A model call can take seconds: inside a transaction it would hold a connection (and on SQLite the write
    lock) while participants wait to save. Speeches, their storing and the AI judge call the model outside."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from oversight.models.scripted import ScriptedBackend

    open_here = threading.local()
    calls: list[int] = []

    def began(conn):
        open_here.n = getattr(open_here, "n", 0) + 1

    def ended(conn):
        open_here.n = getattr(open_here, "n", 0) - 1

    def watched(method):
        def call(self, *args, **kwargs):
            calls.append(getattr(open_here, "n", 0))
            return method(self, *args, **kwargs)
        return call

    for name in ("stream", "complete", "score_choices"):
        monkeypatch.setattr(ScriptedBackend, name, watched(getattr(ScriptedBackend, name)))
    hooks = (("begin", began), ("commit", ended), ("rollback", ended))
    for name, fn in hooks:
        event.listen(Engine, name, fn)
    try:
        sid = make_strategy(study.id, rounds=2, randomise_answer_order=False, judge_may_end_early=False)
        tid = live.start_transcript(item_id=item.id, strategy_id=sid)
        runner = SpeechRunner()
        runner.run_until_judge(tid)
        live.submit_report(transcript_id=tid, round_=1, display_probabilities=[0.6, 0.4])
        runner.run_until_judge(tid)
        live.submit_report(transcript_id=tid, round_=2, display_probabilities=[0.9, 0.1], rationale="A quoted well")
        judge_transcript(transcript_id=tid)
    finally:
        for name, fn in hooks:
            event.remove(Engine, name, fn)
    assert len(calls) >= 5 and set(calls) == {0}  # four speeches and the judge, each outside any transaction


def test_a_studys_first_debate_has_its_speakers_read_the_other_stories_ahead(scripted_models, item, study,
                                                                             monkeypatch):
    """The first debate of a study in a process has its speaker model read the study's sources in the background,
    once: the next people's first speeches then find their story read instead of each waiting for it."""
    other = "A second story about a harbour, its pilot boats and the fog that came every autumn. " * 3
    with session_scope() as s:
        for n, text in enumerate([other, other, None]):  # a repeated story is read once; no source, nothing
            s.add(Item(study_id=study.id, external_id=f"more-{n}", question="?", options=["a", "b"],
                       source_text=text))
    read: list[list[str]] = []
    done = threading.Event()
    backend = models.get_model("scripted")
    monkeypatch.setattr(backend, "read_ahead", lambda sources: (read.append(list(sources)), done.set()),
                        raising=False)
    sid = make_strategy(study.id, rounds=1)
    runner = SpeechRunner()
    runner.run_until_judge(live.start_transcript(item_id=item.id, strategy_id=sid))
    assert done.wait(10)
    assert read == [[STORY, other]]
    runner.run_until_judge(live.start_transcript(item_id=item.id, strategy_id=sid, seed=2))
    time.sleep(0.3)
    assert len(read) == 1  # once per study and process
