"""Attention checks on the admin's pages: the settings fields, the flags and status on the Monitor, and the flags,
the override and held pay on the Participants page; participants and experts see none of it."""

from __future__ import annotations

from sqlmodel import select

from oversight.access import auth
from oversight.study.attention import attention
from oversight.db import session_scope
from oversight.study.studies import get_study, update_study
from storage.models import Event, Study, User
from tests.pages.apptest import run_page
from tests.test_attention import _answer_all, _person, _study


def _admin() -> int:
    return auth.create_user(role="admin", name="ada", password="long enough").id


def test_attention_settings_are_edited_on_the_settings_page(db):
    sid = _study(catch=0)
    with session_scope() as s:  # no catch items left: the page warns when catch items are asked for
        from storage.models import Item

        for item in s.exec(select(Item).where(Item.split == "catch")).all():
            item.split = None
    admin = _admin()
    at = run_page("study_settings", admin, study=str(sid))
    assert not at.exception
    field = {n.label.split(" (")[0]: n for n in at.number_input}
    field["Catch items per participant"].set_value(1)
    field["Minimum seconds per item"].set_value(8.0)
    field["Warn at flags"].set_value(2)
    field["Exclude at flags"].set_value(3)
    next(b for b in at.button if b.label == "Save settings").click()
    at.run()
    assert any("Saved: catch items, min seconds per item, attention warn, attention exclude." in s.value.replace("\\", "")
               for s in at.success)
    study = get_study(sid)
    assert (study.catch_items, study.min_seconds_per_item, study.attention_warn, study.attention_exclude) == (
        1, 8.0, 2, 3)
    with session_scope(write=False) as s:
        fields = {e.detail["field"] for e in s.exec(select(Event).where(Event.kind == "study.setting")).all()}
    assert {"catch_items", "min_seconds_per_item", "attention_warn", "attention_exclude"} <= fields
    assert any("has none" in w.value for w in at.warning)


def test_the_monitor_and_participants_pages_show_flags_status_and_the_override(db):
    sid = _study(catch=1, attention_warn=1, attention_exclude=2)
    with session_scope() as s:
        row = s.get(Study, sid)
        row.base_pay = 1.5
    slip = _person(sid, "PID_SLIP")
    _answer_all(slip, catch_right=False)
    admin = _admin()

    monitor = run_page("monitor", admin, study=str(sid))
    assert not monitor.exception
    [row] = monitor.dataframe[0].value.to_dict("records")
    assert (row["participant"], row["flags"], row["attention"]) == (get_name(slip), 1, "warn")
    assert any("warn at 1 flag(s), exclude at 2 flag(s)" in c.value and "1 warned, 0 excluded" in c.value
               for c in monitor.caption)

    people = run_page("study_people", admin, study=str(sid))
    assert not people.exception
    table = next(d for d in people.dataframe if "flags" in d.value.columns).value.to_dict("records")
    assert [(r["catch wrong"], r["flags"], r["status"]) for r in table] == [("1/1", 1, "warn")]
    next(b for b in people.button if b.label.startswith("Exclude ")).click()
    people.run()
    assert not people.exception
    assert [a.status for a in attention(study_id=sid)[1]] == ["excluded"]
    # An admin's Exclude is a decision: not held, but listed to reject on Prolific, with the reason.
    def on_prolific() -> list[str]:
        pay = next(d for d in people.dataframe if "on Prolific" in d.value.columns).value
        return list(pay["on Prolific"])

    assert on_prolific() == ["reject: screened out by the attention checks"]
    next(b for b in people.button if b.label.startswith("Include ")).click()
    people.run()
    assert [(a.status, a.override) for a in attention(study_id=sid)[1]] == [("warn", "include")]
    assert not any("Pay held" in w.value for w in people.warning) and on_prolific() == ["approve"]

    expert = auth.create_user(role="expert", name="eve", password="long enough").id
    for page in ("monitor", "study_people", "study_settings"):
        for who in (expert, slip):
            denied = run_page(page, who, study=str(sid))
            assert denied.error and "not available to you" in denied.error[0].value and not denied.dataframe


def get_name(user_id: int) -> str:
    with session_scope(write=False) as s:
        return s.get(User, user_id).name


def test_a_threshold_change_on_the_settings_page_shows_on_the_monitor(db):
    sid = _study(catch=1, attention_warn=1, attention_exclude=0)
    _answer_all(_person(sid), catch_right=False)
    update_study(study_id=sid, user_id=None, attention_exclude=1)
    monitor = run_page("monitor", _admin(), study=str(sid))
    [row] = monitor.dataframe[0].value.to_dict("records")
    assert (row["flags"], row["attention"]) == (1, "excluded")
