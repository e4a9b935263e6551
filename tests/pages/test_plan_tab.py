"""The Plan section of the Study settings page: power before paying, for admins only."""

from __future__ import annotations

from sqlmodel import func, select

from oversight.access import auth
from oversight.db import session_scope
from storage.models import Assignment, Study, User
from tests.pages.apptest import run_page
from tests import factories


def _study(with_conditions: bool = True) -> int:
    return factories.four_option_study(12, name="To plan", practice=0, catch=0, items_per_participant=6,
                                       kinds=("alone", "assisted") if with_conditions else ())


def _counts() -> tuple[int, int, int]:
    with session_scope(write=False) as s:
        return tuple(s.exec(select(func.count()).select_from(t)).one() for t in (Study, User, Assignment))


def test_the_plan_section_simulates_power_and_shows_a_plot_and_a_table(db):
    sid = _study()
    admin = auth.create_user(role="admin", name="ada", password="long enough").id
    at = run_page("study_settings", admin, study=str(sid))
    assert not at.exception
    assert any("12 items the design can deal, 6 per participant, within subject" in t.value for t in at.text)
    before = _counts()
    next(t for t in at.text_input if t.label.startswith("Participant counts")).set_value("8, 24")
    fields = {n.label: n for n in at.number_input}
    fields["Simulated studies per count"].set_value(20)
    fields["Accuracy alone"].set_value(0.5)
    fields["Accuracy with the model"].set_value(0.8)
    next(b for b in at.button if b.label == "Simulate power").click()
    at.run()
    assert not at.exception and not at.error
    table = at.dataframe[-1].value
    assert list(table["participants"]) == [8, 24] and list(table["simulated studies"]) == [20, 20]
    assert {"power", "coverage", "median interval width"} <= set(table.columns)
    assert at.get("plotly_chart")
    assert any("Planted gap closed 0.60 (the gold stands in for experts)" in t.value for t in at.text)
    assert _counts() == before  # planning writes nothing


def test_the_plan_section_says_what_is_missing_and_refuses_bad_counts(db):
    admin = auth.create_user(role="admin", name="ada", password="long enough").id
    empty = run_page("study_settings", admin, study=str(_study(with_conditions=False)))
    assert any("Nothing to plan yet" in i.value and "non-expert alone" in i.value for i in empty.info)
    at = run_page("study_settings", admin, study=str(_study()))
    next(t for t in at.text_input if t.label.startswith("Participant counts")).set_value("ten")
    next(b for b in at.button if b.label == "Simulate power").click()
    at.run()
    assert any("whole numbers separated by commas" in e.value for e in at.error)


def test_the_plan_section_is_for_admins_only(db):
    sid = _study()
    expert = auth.create_user(role="expert", name="eve", password="long enough").id
    at = run_page("study_settings", expert, study=str(sid))
    assert at.error and "not available to you" in at.error[0].value
    assert not any(b.label == "Simulate power" for b in at.button)
