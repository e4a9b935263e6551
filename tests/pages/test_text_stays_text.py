"""Text stays text: every page, for each role, renders the poisoned study (tests/poisoned.py) with no live Markdown
image, link or HTML in any element that Streamlit renders as Markdown (bodies, titles, captions, alerts, widget
labels and help, radio and pill options, tab and expander labels, metrics). Plain-text elements (st.text, st.code,
tables, select box options) show the payload as it is, which is what a person should see."""

from __future__ import annotations

import pytest
from google.protobuf.json_format import MessageToDict

from tests.pages.apptest import run_page
from tests.poisoned import LIVE, poisoned_study

# Elements Streamlit shows as plain text, and the plain-text fields of widgets whose labels are Markdown.
PLAIN = {"text", "code", "json", "arrow_data_frame", "dataframe", "arrow_table", "plotly_chart", "vega_lite_chart",
         "arrow_vega_lite_chart", "empty", "skeleton", "spinner", "balloons", "snow"}
PLAIN_FIELDS = {"selectbox": {"options", "default", "rawValue", "value", "placeholder", "rawDefault"},
                "multiselect": {"options", "default", "rawValues", "value", "placeholder", "rawDefault"},
                "text_area": {"value", "default", "placeholder", "rawValue"},
                "text_input": {"value", "default", "placeholder", "rawValue"},
                "chat_input": {"value", "default", "placeholder"}}


def _strings(value, skip: set[str]):
    if isinstance(value, dict):
        for k, v in value.items():
            if k not in skip:
                yield from _strings(v, skip)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v, skip)
    elif isinstance(value, str):
        yield value


def live_markdown(node) -> list[tuple[str, str]]:
    """(element type, text) for every Markdown-rendered string under `node` holding a live image, link or tag."""
    found = []
    proto = getattr(node, "proto", None)
    kind = getattr(node, "type", "?")
    if proto is not None and kind not in PLAIN and hasattr(proto, "DESCRIPTOR"):
        for text in _strings(MessageToDict(proto), PLAIN_FIELDS.get(kind, set())):
            if LIVE.search(text):
                found.append((kind, text))
    for child in getattr(node, "children", {}).values():
        found += live_markdown(child)
    return found


@pytest.fixture
def poisoned(db):
    return poisoned_study()


STAFF_PAGES = {"admin": ["studies", "study_settings", "study_items", "study_people", "monitor", "strategies", "results",
                         "transcripts", "reviews", "loops"],
               "expert": ["reviews", "results", "transcripts", "study_items"]}


@pytest.mark.parametrize("role, page", [(r, p) for r, pages in STAFF_PAGES.items() for p in pages])
def test_staff_pages_render_outside_text_as_text(poisoned, role, page):
    query = {"study": str(poisoned["study"])}
    if page == "transcripts":
        query["transcript"] = str(poisoned["transcript"])
    at = run_page(page, poisoned[role], **query)
    assert not at.exception, at.exception
    assert live_markdown(at._tree) == []


def test_the_participant_pages_render_outside_text_as_text(poisoned):
    """A new participant: the consent page, then each task (the answer buttons carry the item's options) to the end."""
    from oversight.access import auth
    from oversight.study.participation import record_consent

    uid = auth.create_invites(study_id=poisoned["study"], count=1)[0].user_id
    at = run_page("participant", uid)
    assert not at.exception and live_markdown(at._tree) == []
    record_consent(user_id=uid)
    at = run_page("participant", uid)
    assert not at.exception, at.exception
    assert at.radio, "a task with the answer buttons"
    assert live_markdown(at._tree) == []
