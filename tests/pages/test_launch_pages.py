"""The launch pages: a draft shows participants a 'not open yet' page; Study settings shows the launch check and
opens the study only when it passes; Participants makes a preview link, and a preview shows its banner."""

from __future__ import annotations

import pytest

from oversight.access import auth
from oversight.sandwiching import conditions
from oversight.protocols import strategies
from oversight.db import session_scope
from oversight.study.studies import create_study, get_study
from storage.models import Item, ItemGold
from tests.pages.apptest import run_page


def _item(study_id: int, options: list[str]) -> None:
    with session_scope() as s:
        item = Item(study_id=study_id, external_id=f"q{len(options)}", question="Which door?", options=options,
                    source_text="The treasure is behind the right door.")
        s.add(item)
        s.flush()
        s.add(ItemGold(item_id=item.id, gold_index=1))


@pytest.fixture
def draft(db):
    study = create_study(name="Draft study", user_id=None)
    admin = auth.create_user(role="admin", name="ada", password="long enough")
    person = auth.create_invites(study_id=study.id, count=1)[0].user_id
    return {"study": study.id, "admin": admin.id, "participant": person}


def test_a_participant_of_a_draft_sees_that_it_is_not_open_yet(draft):
    _item(draft["study"], ["left", "right"])
    at = run_page("participant", draft["participant"])
    assert not at.exception
    assert any("not open yet" in i.value for i in at.info) and not at.checkbox  # no consent asked, nothing dealt


def test_study_settings_refuse_to_open_a_design_that_deals_nothing_then_open_it(draft):
    _item(draft["study"], ["north", "south", "east", "west"])
    debate = strategies.create_strategy(study_id=draft["study"], name="debate", protocol="debate")
    cond = conditions.add_condition(study_id=draft["study"], kind="assisted", strategy_id=debate.id)
    at = run_page("study_settings", draft["admin"], study=str(draft["study"]))
    assert not at.exception
    assert any("can deal no item" in e.value and "two answer options" in e.value for e in at.error)
    assert next(b for b in at.button if b.label == "Open the study").disabled
    conditions.remove_condition(condition_id=cond.id)
    at = run_page("study_settings", draft["admin"], study=str(draft["study"]))
    next(b for b in at.button if b.label == "Open the study").click()
    at.run()
    assert not at.exception and get_study(draft["study"]).status == "open"


def test_a_preview_link_from_the_participants_page_shows_the_banner_on_a_draft(draft):
    _item(draft["study"], ["left", "right"])
    at = run_page("study_people", draft["admin"], study=str(draft["study"]))
    next(b for b in at.button if b.label == "Preview as a participant").click()
    at.run()
    assert not at.exception
    link = at.code[-1].value
    preview = auth.participant_for_token(link.split("?t=")[1])
    assert preview.preview_by == draft["admin"]
    page = run_page("participant", preview.id)
    assert not page.exception
    assert any("Preview: not counted, not paid" in w.value for w in page.warning)
    assert not any("not open yet" in i.value for i in page.info) and page.checkbox  # consent: the study runs


def test_an_expert_previews_a_draft_from_answer_items(draft):
    """Experts are staff too: "Answer items" offers them a preview link of the study (a draft included)."""
    _item(draft["study"], ["left", "right"])
    expert = auth.create_user(role="expert", name="eve", password="long enough")
    at = run_page("participant", expert.id, study=str(draft["study"]))
    assert not at.exception
    assert any("not open yet" in i.value for i in at.info)  # the expert cannot answer a draft's items
    next(b for b in at.button if b.label == "Preview as a participant").click()
    at.run()
    preview = auth.participant_for_token(at.code[-1].value.split("?t=")[1])
    assert preview.preview_by == expert.id and preview.study_id == draft["study"]
