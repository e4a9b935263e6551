"""The study picker every staff page shares (web.ui.pick_study): the chosen study follows the researcher from page
to page even when the sidebar's links drop `?study=` from the address, and a dry run's copy (newer than its study)
is not what a page opens on by itself (issue 18's walk: after a dry run, the Participants page opened on the copy)."""

from __future__ import annotations

from oversight.access import auth
from oversight.db import session_scope
from storage.models import Study
from tests import factories
from streamlit.testing.v1 import AppTest

from tests.pages.apptest import REPO, run_page


def _picked(at) -> str:
    return next(s for s in at.selectbox if s.label == "Study").value


def test_the_chosen_study_follows_the_sidebar_and_a_dry_run_copy_is_not_the_default(db):
    first = factories.four_option_study(2, name="First study", kinds=("alone",))
    mine = factories.four_option_study(2, name="My study", kinds=("alone",))
    copy = factories.four_option_study(2, name="Dry run of My study", kinds=("alone",))
    with session_scope() as s:
        s.get(Study, copy).dry_run_of = mine
    admin = auth.create_user(role="admin", name="ada", password="long enough").id

    # Nothing chosen yet: the newest study that is not a dry-run copy.
    at = run_page("study_people", admin)
    assert not at.exception and _picked(at) == mine

    # The first study chosen on one page; a sidebar link opens the next page with no ?study= in the address.
    at = run_page("study_people", admin, study=str(first))
    assert _picked(at) == first
    del at.query_params["study"]
    at.run()
    assert not at.exception and _picked(at) == first


def test_the_studies_page_acts_on_the_study_chosen_on_another_page(db):
    mine = factories.four_option_study(2, name="My study", kinds=("alone",))
    copy = factories.four_option_study(2, name="Dry run of My study", kinds=("alone",))
    with session_scope() as s:
        s.get(Study, copy).dry_run_of = mine
    admin = auth.create_user(role="admin", name="ada", password="long enough").id
    at = run_page("study_people", admin, study=str(mine))
    del at.query_params["study"]
    # The Studies page in the same tab (AppTest runs one page: the tab's session carries over).
    at = AppTest.from_file(str(REPO / "views" / "studies.py"), default_timeout=60)
    at.session_state["user_id"] = admin
    at.session_state["picked_study"] = mine
    at.run()
    assert not at.exception
    assert next(s for s in at.selectbox if s.label == "Study").value == mine  # Archive acts on it, not the copy
