"""Jobs started from Study settings show their progress live and the page follows them, in a real browser, never
reloaded (issue 18): the model-alone run ends "done" and the Conditions table counts its items; a dry run with
simulated participants runs as a job, and its results open on the Results page of the dry-run copy."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ADMIN
from tests.browser.test_sandwich_in_browser import sign_in

pytestmark = pytest.mark.browser
SHOTS = Path("/tmp/shots/settings")


def _shot(page: Page, name: str, near: str | None = None) -> None:
    """The viewport (Streamlit scrolls inside the page), scrolled to the text `near` first."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    if near:
        page.get_by_text(near).first.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def _model_row(page: Page):
    """The model-alone row of the Conditions table (its cells are in the screen-reader table of the grid, which is
    drawn only while the grid is on screen: the caption under it is scrolled to)."""
    page.get_by_text("Items it can deal: real items").scroll_into_view_if_needed()
    return page.get_by_test_id("stDataFrame").locator("tbody tr").filter(has_text="Model alone")


def test_a_model_alone_run_ends_done_and_the_conditions_count_it_without_a_reload(page, server):
    sent: list[float] = []  # when the browser asked the server for a (fragment) rerun
    page.on("websocket", lambda ws: ws.on("framesent", lambda _: sent.append(time.monotonic())))
    study = server["seed"]["study_id"]
    sign_in(page, f"{server['url']}/study_settings?study={study}", *ADMIN)
    expect(page.get_by_role("heading", name="Conditions")).to_be_visible()
    # Before the run the model-alone row counts nothing: tasks dealt, answered, answered (results) are 0.
    expect(_model_row(page).locator("td").nth(4)).to_have_text("0")
    chooser = page.get_by_role("combobox", name="Change a condition")
    chooser.click()
    chooser.press_sequentially("Model alone")
    chooser.press("Enter")
    expect(chooser).to_have_value(re.compile(r"^Model alone"))
    page.get_by_role("button", name="Run the model alone over the items people are dealt").click()
    expect(page.get_by_text(re.compile(r"Started job #\d+"))).to_be_visible()
    _shot(page, "model-alone-started", "Started job")
    bar = page.get_by_test_id("stProgress").filter(has_text="model alone")
    expect(bar.first).to_contain_text(re.compile(r"queued|running"))
    started = time.monotonic()
    # No reload: the fragment polls until the job ends, then the page redraws its tables.
    expect(bar.first).to_contain_text(re.compile(r"done · (\d+)/\1 done"), timeout=120_000)
    assert [t for t in sent if t >= started], "the page polled while the job ran"
    cells = _model_row(page).locator("td")
    expect(cells.nth(4)).not_to_have_text("0", timeout=20_000)
    dealt, answered = cells.nth(4).inner_text(), cells.nth(5).inner_text()
    assert int(dealt) > 0 and answered == dealt
    # Once no job runs, the page stops polling: no rerun asked for in three quiet seconds (it polled every second).
    page.wait_for_timeout(1_000)
    quiet_from = time.monotonic()
    page.wait_for_timeout(3_000)
    assert not [t for t in sent if t >= quiet_from]
    _shot(page, "model-alone-done", "Items it can deal: real items")


def test_a_dry_run_starts_from_the_page_and_its_results_open(page, server):
    study = server["seed"]["study_id"]
    sign_in(page, f"{server['url']}/study_settings?study={study}", *ADMIN)
    expect(page.get_by_role("heading", name="Dry run: simulated participants")).to_be_visible()
    page.get_by_role("spinbutton", name="Simulated participants").fill("2")
    page.get_by_role("spinbutton", name="Simulated experts (answer and review)").fill("1")
    page.get_by_role("button", name="Start dry run").click()
    expect(page.get_by_text(re.compile(r"Started dry run job #\d+"))).to_be_visible()
    bar = page.get_by_test_id("stProgress").filter(has_text="Dry run job")
    expect(bar.first).to_be_visible()
    _shot(page, "dry-run-started", "Started dry run job")
    opener = page.get_by_role("button", name=re.compile(r"^Open the results of dry run #\d+"))
    expect(opener).to_be_visible(timeout=240_000)
    expect(bar.first).to_contain_text("done")
    _shot(page, "dry-run-done", "Open the results of dry run")
    copy = re.search(r"#(\d+)", opener.inner_text()).group(1)
    opener.click()
    expect(page.get_by_role("heading", name="Results")).to_be_visible()
    expect(page).to_have_url(re.compile(rf"/results\?study={copy}$"))
    expect(page.get_by_text(re.compile("simulated", re.IGNORECASE)).first).to_be_visible()
    _shot(page, "dry-run-results")
