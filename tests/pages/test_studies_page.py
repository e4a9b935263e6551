"""The Studies page's lifecycle: a row opens its study on Study settings; Duplicate, Archive (hidden unless shown,
Study settings read-only), Unarchive; Delete only after an export and with the name typed exactly."""

from __future__ import annotations

import pytest
from sqlmodel import select

from oversight.access import auth
from oversight.db import session_scope
from oversight.study.studies import get_study, list_studies
from storage.models import Event
from tests import factories
from tests.pages.apptest import run_page


@pytest.fixture
def setup(db):
    sid = factories.four_option_study(4, name="Sky study", kinds=("alone",))
    other = factories.four_option_study(4, name="Other study", kinds=("alone",))
    admin = auth.create_user(role="admin", name="ada", password="long enough").id
    return {"study": sid, "other": other, "admin": admin}


def _button(at, label: str):
    return next(b for b in at.button if b.label == label)


def _table_ids(at) -> list[int]:
    return list(at.dataframe[0].value["id"])


def test_picking_a_row_opens_the_study_on_study_settings(setup, monkeypatch):
    import streamlit as st

    opened = []

    def switch_page(page, *, query_params=None):  # AppTest runs one page: record where it goes, then stop
        opened.append((page, dict(query_params or {})))
        st.stop()

    monkeypatch.setattr(st, "switch_page", switch_page)
    at = run_page("studies", setup["admin"])
    assert not at.exception and not opened
    row = _table_ids(at).index(setup["study"])
    at.session_state["studies_table"] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    at.run()
    assert not at.exception
    assert opened == [("views/study_settings.py", {"study": str(setup["study"])})]
    # Study settings reads the study from the URL (web.ui.pick_study) and shows its form.
    settings = run_page("study_settings", setup["admin"], **opened[0][1])
    assert not settings.exception and settings.text_input[0].value == "Sky study"


def test_duplicate_archive_unarchive_from_the_page(setup):
    sid = setup["study"]
    at = run_page("studies", setup["admin"], study=str(sid))
    assert at.selectbox(key="lifecycle_study").value == sid
    _button(at, "Duplicate").click()
    at.run()
    assert not at.exception
    copy = next(s for s in list_studies() if s.name == "Sky study (copy)")
    assert copy.status == "draft" and copy.n_items == 6  # 4 items, a practice and a catch item
    assert any("Duplicated" in m.value for m in at.success)

    at = run_page("studies", setup["admin"], study=str(sid))
    _button(at, "Archive").click()
    at.run()
    assert not at.exception and get_study(sid).status == "archived"
    assert sid not in _table_ids(at)  # hidden by default
    at.toggle(key="show_archived").set_value(True)
    at.run()
    assert sid in _table_ids(at)

    settings = run_page("study_settings", setup["admin"], study=str(sid))
    assert not settings.exception
    assert any("archived" in w.value for w in settings.warning)
    assert not settings.text_input  # no settings form to change

    at.selectbox(key="lifecycle_study").set_value(sid)
    at.run()
    _button(at, "Unarchive").click()
    at.run()
    assert not at.exception and get_study(sid).status == "draft"
    with session_scope(write=False) as s:
        kinds = {e.kind for e in s.exec(select(Event).where(Event.user_id == setup["admin"])).all()}
    assert {"study.duplicate", "study.archive", "study.unarchive"} <= kinds


def test_delete_needs_an_export_and_the_exact_name(setup):
    sid = setup["study"]
    at = run_page("studies", setup["admin"], study=str(sid))
    assert any("export the study first" in i.value for i in at.info)
    at.text_input(key=f"delete-name-{sid}").input("Sky study")
    _button(at, "Delete the study for good").click()
    at.run()
    assert any("export the study first" in e.value for e in at.error) and get_study(sid) is not None

    _button(at, "Export this study first").click()
    at.run()
    assert not at.exception and get_study(sid).exported_at is not None
    assert any(b.label.startswith("Download study-") for b in at.get("download_button"))
    at.text_input(key=f"delete-name-{sid}").input("sky study")
    _button(at, "Delete the study for good").click()
    at.run()
    assert any("type the study" in e.value for e in at.error) and get_study(sid) is not None

    at.text_input(key=f"delete-name-{sid}").input("Sky study")
    _button(at, "Delete the study for good").click()
    at.run()
    assert not at.exception and get_study(sid) is None and get_study(setup["other"]) is not None
    assert any("Deleted study" in m.value for m in at.success)
    assert sid not in _table_ids(at)
