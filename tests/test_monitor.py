"""The Monitor: statuses, answers per minute and model errors as an admin sees them during a session."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlmodel import select

from oversight.access import auth
from oversight import models
from oversight.study import monitor, participation
from oversight.protocols import strategies
from oversight.db import session_scope
from oversight.models.config import ModelsConfig, ScriptedConfig
from oversight.protocols import live
from oversight.protocols.runner import SpeechRunner
from storage.models import Item, ItemGold, User, utcnow
from tests.pages.apptest import run_page


def _items(study_id: int, n: int = 2) -> None:
    with session_scope() as s:
        for k in range(n):
            item = Item(study_id=study_id, external_id=f"q{k}", question=f"Q{k}?", options=["a", "b"],
                        source_text="The answer is a, as the text says plainly.")
            s.add(item)
            s.flush()
            s.add(ItemGold(item_id=item.id, gold_index=0))


def _join(study_id: int) -> int:
    uid = auth.create_invites(study_id=study_id, count=1)[0].user_id
    participation.record_consent(user_id=uid)
    return uid


def _answer(uid: int) -> None:
    task = participation.next_task(user_id=uid)
    participation.submit_answer(user_id=uid, assignment_id=task.assignment_id, probabilities=[0.7, 0.3])


def test_statuses_of_a_live_session(study):
    _items(study.id)
    finished, working, gone, waiting, withdrawn = (_join(study.id) for _ in range(5))
    _answer(finished), _answer(finished)
    _answer(working)
    participation.next_task(user_id=working)  # on their second task now
    _answer(gone)
    with session_scope() as s:  # `gone` was last seen an hour ago
        s.get(User, gone).last_seen_at = utcnow() - timedelta(hours=1)
    auth.revoke_participant(user_id=withdrawn)
    snap = monitor.snapshot(study_id=study.id, now=utcnow() + timedelta(minutes=20))
    by_id = {p.user_id: p for p in snap.people}
    assert by_id[finished].status == "finished" and by_id[finished].done == 2
    assert by_id[waiting].status == "not started"
    assert by_id[withdrawn].status == "withdrawn"
    # Twenty minutes on: everyone who had started and not finished is counted as dropped out.
    assert by_id[gone].status == by_id[working].status == "dropped out"
    now = monitor.snapshot(study_id=study.id)
    mine = {p.user_id: p for p in now.people}[working]
    assert mine.status == "active" and mine.task == "2 of 2" and mine.on_task_s is not None
    assert now.answers_last_10_min == 4


def test_a_failed_model_turn_shows_on_the_monitor(study):
    _items(study.id, 1)
    models.configure(ModelsConfig(models={"bad": ScriptedConfig(name="bad", responses=["!error server down"])},
                                  roles={r: "bad" for r in ("debater", "consultant", "assistant", "judge",
                                                            "feedback")}))
    try:
        sid = strategies.create_strategy(study_id=study.id, name="debate", protocol="debate").id
        with session_scope(write=False) as s:
            item_id = s.exec(select(Item.id)).first()
        tid = live.start_transcript(item_id=item_id, strategy_id=sid)
        runner = SpeechRunner()
        with pytest.raises(Exception, match="server down"):
            runner.run_until_judge(tid, timeout_s=30)
        # Both debaters' turns fail; wait for the second too before the models are reset under it.
        deadline = time.monotonic() + 30
        while not (len(runner.partial(tid)) == 2 and all(p.error for p in runner.partial(tid).values())):
            assert time.monotonic() < deadline, runner.partial(tid)
            time.sleep(0.02)
    finally:
        models.configure(None)
    errors = monitor.snapshot(study_id=study.id).model_errors
    assert sorted(e["role"] for e in errors) == ["debater_a", "debater_b"]
    assert all(e["transcript"] == tid and "server down" in e["error"] for e in errors)


def test_the_monitor_page_shows_the_session_to_admins_only(study):
    _items(study.id)
    _answer(_join(study.id))
    admin = auth.create_user(role="admin", name="boss", password="correct horse battery")
    at = run_page("monitor", admin.id, study=str(study.id))
    assert not at.exception
    assert [m.value for m in at.metric][:2] == ["1", "0"]  # one active, none finished
    expert = auth.create_user(role="expert", name="prof", password="correct horse battery")
    denied = run_page("monitor", expert.id, study=str(study.id))
    assert "not available to you" in denied.error[0].value and not denied.metric
