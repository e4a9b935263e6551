"""Pages under Streamlit's AppTest: each page checks the role itself, and shows what its role needs."""

from __future__ import annotations


import pytest
from sqlmodel import select

from oversight.access import auth
from oversight.study.studies import get_study
from oversight.db import session_scope
from storage.models import Item, ItemGold
from tests.pages.apptest import run_page

ADMIN_PAGES = ["studies", "study_items", "study_people", "strategies", "results", "transcripts", "admin_models", "study_settings"]


@pytest.fixture
def people(study):
    with session_scope() as s:
        item = Item(study_id=study.id, external_id="q1", question="Which door?", options=["left", "right"],
                    source_text="The treasure is behind the right door.")
        s.add(item)
        s.flush()
        s.add(ItemGold(item_id=item.id, gold_index=1))
    admin = auth.create_user(role="admin", name="ada", password="long enough")
    expert = auth.create_user(role="expert", name="eve", password="long enough")
    participant = auth.create_invites(study_id=study.id, count=1)[0]
    return {"admin": admin.id, "expert": expert.id, "participant": participant.user_id, "study": study.id}


@pytest.mark.parametrize("page", ADMIN_PAGES)
def test_admin_pages_refuse_participants_and_anonymous_visitors(people, page):
    for user_id in (people["participant"], None):
        at = run_page(page, user_id)
        assert at.error and "not available to you" in at.error[0].value
        assert not at.dataframe and not at.button


@pytest.mark.parametrize("page", ["studies", "study_settings", "study_people", "strategies"])
def test_admin_only_pages_refuse_experts(people, page):
    at = run_page(page, people["expert"])
    assert at.error and "not available to you" in at.error[0].value


def test_participant_page_refuses_staff(people):
    at = run_page("participant", people["admin"])
    assert at.error and "not available to you" in at.error[0].value


def test_admin_sees_items_with_gold(people):
    at = run_page("study_items", people["admin"], study=str(people["study"]))
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["gold"]) == ["right"] and list(table["question"]) == ["Which door?"]


def test_expert_sees_items_but_no_import_form(people):
    at = run_page("study_items", people["expert"], study=str(people["study"]))
    assert not at.exception and at.dataframe
    assert not [b for b in at.button if b.label == "Import"]
    assert list(at.dataframe[0].value["gold"]) == ["right"]


def test_experts_who_answer_as_a_condition_do_not_see_the_gold(people):
    from oversight.sandwiching.conditions import add_condition

    add_condition(study_id=people["study"], kind="expert")
    at = run_page("study_items", people["expert"], study=str(people["study"]))
    assert any("Gold answers are hidden" in c.value for c in at.caption)
    assert list(at.dataframe[0].value["question"]) == ["Which door?"] and "gold" not in at.dataframe[0].value


def test_participant_page_asks_for_consent_then_shows_a_task_without_gold_or_source(people):
    at = run_page("participant", people["participant"])
    assert not at.exception
    assert at.checkbox[0].label.startswith("I have read this")
    at.checkbox[0].check().run()
    at.button[0].click().run()
    texts = " ".join(t.value for t in at.text)
    assert "Which door?" in texts and "A. left" in texts and "B. right" in texts
    assert "treasure" not in texts  # the source stays hidden from the judge


def shown(at) -> list[str]:
    """Everything a page shows as text, in order."""
    return [str(el.value) for kind in ("title", "header", "subheader", "markdown", "caption", "text", "info",
                                       "success", "warning", "error") for el in getattr(at, kind)]


def test_what_a_participant_sees_does_not_depend_on_the_gold_answer(people):
    """Render the task, flip the item's gold answer (and its explanation), render again: the page must be the
    same, whatever form a leak would take (a mark on an option, an explanation, an order)."""
    from oversight.study.participation import record_consent

    record_consent(user_id=people["participant"])
    first = shown(run_page("participant", people["participant"]))
    with session_scope() as s:
        gold = s.exec(select(ItemGold)).one()
        gold.gold_index, gold.explanation = 0, "Left, because the map says so."
    again = shown(run_page("participant", people["participant"]))
    assert "Which door?" in " ".join(first) and again == first
    assert not any("map says so" in t for t in again)


def test_studies_page_creates_a_study(people):
    at = run_page("studies", people["admin"])
    at.text_input[0].input("From the page")
    at.button[0].click().run()
    assert not at.exception
    assert any("Created study" in s.value for s in at.success)
    assert "From the page" in list(at.dataframe[0].value["name"])  # the table above the form lists it at once


def test_results_page_has_a_clear_empty_state(people):
    from oversight.study.studies import update_study

    update_study(study_id=people["study"], user_id=None, blind_review=False)  # (blind: see test_reviews_page)
    at = run_page("results", people["expert"], study=str(people["study"]))
    assert not at.exception
    assert any("No final judgments yet" in i.value for i in at.info)


def test_admin_withdraws_and_reissues_a_link_and_closes_the_study(people):
    from oversight.study.studies import get_study

    at = run_page("study_people", people["admin"], study=str(people["study"]))
    assert not at.exception
    next(b for b in at.button if b.label == "Issue a new link").click()
    at.run()
    link = at.code[-1].value
    assert auth.participant_for_token(link.split("?t=")[1]).id == people["participant"]
    next(b for b in at.button if b.label == "Withdraw their link").click()
    at.run()
    assert auth.participant_for_token(link.split("?t=")[1]) is None
    next(b for b in at.button if b.label == "Close the study").click()
    at.run()
    assert get_study(people["study"]).status == "closed"


@pytest.mark.parametrize("page", ["study_items", "study_people", "strategies", "results", "transcripts"])
def test_study_pages_without_a_study_say_how_to_make_one(db, page):
    admin = auth.create_user(role="admin", name="ada", password="long enough")
    at = run_page(page, admin.id)
    assert not at.exception
    assert [i.value for i in at.info] == ["No studies yet. Create one on the Studies page."]
    assert not at.dataframe and not at.selectbox


def test_opening_enrolment_shows_at_once_that_it_is_open(people):
    at = run_page("study_people", people["admin"], study=str(people["study"]))
    assert "Enrolment is closed." in [t.value for t in at.text]
    next(b for b in at.button if b.label == "Open enrolment").click()
    at.run()
    assert not at.exception
    texts = [t.value for t in at.text]
    assert "Enrolment is open." in texts and "Enrolment is closed." not in texts
    assert "enrol=" in at.code[-1].value  # the link is shown once, after the rerun too


def test_enrolment_limits_are_set_on_the_participants_page(people):
    from oversight.access.auth import enrolment_cap

    at = run_page("study_people", people["admin"], study=str(people["study"]))
    inputs = {n.label: n for n in at.number_input}
    inputs["Per minute"].set_value(5)
    inputs["In total"].set_value(40)
    next(b for b in at.button if b.label == "Save limits").click()
    at.run()
    assert not at.exception and any("Saved." in s.value for s in at.success)
    cap = enrolment_cap(people["study"])
    assert (cap.max_per_minute, cap.max_total) == (5, 40)


def test_study_settings_are_edited_on_their_page_and_logged(people):
    from storage.models import Event

    at = run_page("study_settings", people["admin"], study=str(people["study"]))
    assert not at.exception
    at.text_area[2].input("Please read each question twice.")  # consent text
    at.number_input[0].set_value(1)
    next(b for b in at.button if b.label == "Save settings").click()
    at.run()
    assert any("Saved: consent text, items per participant." in s.value.replace("\\", "") for s in at.success)
    with session_scope(write=False) as s:
        events = s.exec(select(Event).where(Event.kind == "study.setting")).all()
    assert {e.detail["field"]: e.detail["new"] for e in events} == {
        "consent_text": "Please read each question twice.", "items_per_participant": 1}
    participant = run_page("participant", people["participant"])
    assert any(t.value == "Please read each question twice." for t in participant.text)
    at.number_input[0].set_value(0)
    at.text_input[1].input("   ")  # an empty completion code is refused, and nothing is saved
    next(b for b in at.button if b.label == "Save settings").click()
    at.run()
    assert any("completion code" in e.value for e in at.error)


def test_the_design_and_conditions_are_set_on_the_settings_page(people):
    """Design settings are saved and audited; conditions are added (a wrong strategy is refused with a message,
    nothing stored), shown with their counts, and removed while unused."""
    from oversight.protocols import strategies
    from oversight.sandwiching.conditions import list_conditions
    from storage.models import Event

    model = strategies.create_strategy(study_id=people["study"], name="m", protocol="model-alone")
    at = run_page("study_settings", people["admin"], study=str(people["study"]))
    assert not at.exception and any("No conditions yet" in i.value for i in at.info)
    next(r for r in at.radio if r.label == "Conditions per participant").set_value("between")
    next(n for n in at.number_input if n.label.startswith("Practice items")).set_value(2)
    next(n for n in at.number_input if n.label.startswith("Mean confidence")).set_value(0.7)
    next(b for b in at.button if b.label == "Save settings").click()
    at.run()
    study = get_study(people["study"])
    assert (study.design, study.practice_items, study.convergence) == ("between", 2, {"min_confidence": 0.7})
    with session_scope(write=False) as s:
        fields = {e.detail["field"] for e in s.exec(select(Event).where(Event.kind == "study.setting")).all()}
    assert fields == {"design", "practice_items", "convergence"}
    history = next(d.value for d in at.dataframe if "setting" in d.value)  # listed under the form
    assert set(history["setting"]) == {"design", "practice items", "convergence"} and set(history["by"]) == {"ada"}

    # A kind is offered only the versions it accepts: the model-alone version is no non-expert + model one.
    next(s for s in at.selectbox if s.label == "Kind").set_value("assisted").run()
    assert next(s for s in at.selectbox if s.label.startswith("Strategy version")).options == []
    assert next(b for b in at.button if b.label == "Add condition").disabled
    next(s for s in at.selectbox if s.label == "Kind").set_value("model").run()
    next(b for b in at.button if b.label == "Add condition").click()
    at.run()
    [cond] = list_conditions(study_id=people["study"])
    assert (cond.kind, cond.strategy_id) == ("model", model.id)
    conditions = next(d.value for d in at.dataframe if "condition" in d.value)
    assert any(r["condition"] == "Model alone" for r in conditions.to_dict("records"))
    next(b for b in at.button if b.label == "Remove condition").click()
    at.run()
    assert not at.exception and list_conditions(study_id=people["study"]) == []


def test_a_practice_item_shows_its_answer_after_submitting_then_the_real_items_follow(people):
    """Practice first (marked), the answer and explanation only once it is submitted, then Continue to a real
    item, whose answer is never shown."""
    from oversight.study.participation import record_consent
    from oversight.study.studies import update_study

    with session_scope() as s:
        s.add(Item(study_id=people["study"], external_id="q2", question="Which key?", options=["brass", "iron"]))
        s.get(ItemGold, 1).explanation = "The text says so."
    update_study(study_id=people["study"], user_id=None, practice_items=1)
    record_consent(user_id=people["participant"])
    at = run_page("participant", people["participant"])
    assert any("practice question" in c.value for c in at.caption)
    before = " ".join(t.value for t in at.text)
    assert "Practice: the answer was" not in before and "The text says so." not in before
    next(b for b in at.button if b.label == "Submit answer").click()
    at.run()  # nothing chosen: refused, nothing stored, the practice answer not shown
    assert any("Choose an answer first" in w.value for w in at.warning)
    assert not any("Practice: the answer was" in t.value for t in at.text)
    at.radio[0].set_value(0)
    next(b for b in at.button if b.label == "Submit answer").click()
    at.run()
    texts = [t.value for t in at.text]
    practice_q = "Which door?" if "Which door?" in before else "Which key?"
    answer = {"Which door?": "right", "Which key?": "(this item has no recorded answer)"}[practice_q]
    assert f"Practice: the answer was {answer}" in texts
    next(b for b in at.button if b.label == "Continue").click()
    at.run()
    texts = " ".join(t.value for t in at.text)
    assert practice_q not in texts and ("Which key?" if practice_q == "Which door?" else "Which door?") in texts
    assert not any(c.value.startswith("A practice") for c in at.caption)
    at.radio[0].set_value(1)
    next(b for b in at.button if b.label == "Submit answer").click()
    at.run()
    assert not any("Practice: the answer was" in t.value for t in at.text)
