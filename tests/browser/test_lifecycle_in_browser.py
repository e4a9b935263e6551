"""A study's lifecycle in a real browser: open a study from its row on the Studies page, duplicate it, archive it,
and a participant's personal link is then refused with a clear message."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ADMIN, _free_port, app_env, choose_option, cli, start_streamlit, stop_streamlit
from tests.browser.test_app_in_browser import sign_in

pytestmark = pytest.mark.browser
SHOTS = Path(os.environ.get("OVERSIGHT_SHOTS", "/tmp/shots/lifecycle"))


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """One open study (two items, an alone condition) with one invited participant."""
    tmp = tmp_path_factory.mktemp("lifecycle")
    port = _free_port()
    env = app_env(tmp, port)
    cli(env, "init-db")
    cli(env, "create-user", "--role", "admin", "--name", ADMIN[0], stdin=ADMIN[1] + "\n")
    sid = cli(env, "study", "create", "--name", "Lifecycle study").strip()
    items = tmp / "items.jsonl"
    items.write_text("".join(json.dumps({"id": f"q{k}", "question": f"Question {k}?", "options": ["yes", "no"],
                                         "gold": 0}) + "\n" for k in range(2)))
    cli(env, "import", "--study", sid, "--format", "jsonl", str(items))
    cli(env, "conditions", "add", "--study", sid, "--kind", "alone")
    cli(env, "study", "open", "--study", sid)
    link = cli(env, "invite", "--study", sid, "--count", "1").strip()
    proc = start_streamlit(env, port, tmp / "streamlit.log")
    yield {"url": f"http://127.0.0.1:{port}", "study": sid, "link": link}
    stop_streamlit(proc)


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_open_from_the_row_duplicate_archive_and_the_link_is_refused(page, app):
    sign_in(page, app["url"], *ADMIN)
    expect(page.get_by_role("heading", name="Studies")).to_be_visible()
    grid = page.locator("[data-testid='stDataFrame']").first
    expect(grid).to_be_visible()
    page.wait_for_timeout(500)  # the grid draws on a canvas once its data arrived
    box = grid.bounding_box()
    # The row-selection marker of the first (only) row: left edge, below the header row (about 35 px each).
    page.mouse.click(box["x"] + 12, box["y"] + 35 + 17)
    expect(page.get_by_role("heading", name="Study settings")).to_be_visible()
    expect(page.get_by_label("Name", exact=True)).to_have_value("Lifecycle study")
    assert f"study={app['study']}" in page.url
    shot(page, "1-opened-from-row")

    page.get_by_role("link", name="Studies").first.click()
    expect(page.get_by_role("heading", name="Studies")).to_be_visible()
    page.get_by_role("button", name="Duplicate", exact=True).click()
    expect(page.get_by_text("Duplicated #")).to_be_visible()
    expect(page.get_by_text("Lifecycle study (copy)").first).to_be_visible()
    shot(page, "2-duplicated")

    # The picker keeps its choice across the duplicate (the original); choose it if it moved, as a person would.
    choose_option(page, "Study", f"Lifecycle study (#{app['study']}, open)")
    page.get_by_role("button", name="Archive", exact=True).click()
    expect(page.get_by_text(f"Archived study #{app['study']}")).to_be_visible()
    shot(page, "3-archived")

    page.context.clear_cookies()
    page.goto(app["link"])
    expect(page.get_by_text("This study has been archived: its links no longer work.")).to_be_visible()
    shot(page, "4-link-refused")
