"""A real `streamlit run serve.py` on a free port, and headless Chromium driven by Playwright."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.load import free_port, start_server, stop_server

CHROMIUM = os.environ.get("OVERSIGHT_CHROMIUM", "/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
ADMIN = ("admin", "browser-test-pass")


# One way to start the app for every test and bench: the production start, on a free port, waited for until healthy.
_free_port = free_port
start_streamlit = start_server
stop_streamlit = stop_server


def app_env(tmp: Path, port: int) -> dict:
    return {**os.environ, "OVERSIGHT_DATABASE_URL": f"sqlite:///{tmp / 'app.db'}", "OVERSIGHT_DATA_DIR": str(tmp),
            "OVERSIGHT_PUBLIC_URL": f"http://127.0.0.1:{port}", "HF_HUB_OFFLINE": "1",
            "OVERSIGHT_LOGIN_MAX_DELAY_S": "0"}


def cli(env: dict, *args: str, stdin: str = "") -> str:
    """Run `python -m oversight` against the test server's database; returns stdout."""
    return subprocess.run([sys.executable, "-m", "oversight", *args], input=stdin, env=env, cwd=REPO,
                          capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app on a fresh database holding the demo study and a known admin password."""
    import json

    tmp = tmp_path_factory.mktemp("browser")
    port = _free_port()
    env = app_env(tmp, port)
    seed = json.loads(cli(env, "seed-demo", "--password-stdin", "--json", "--simulated", "0", stdin=ADMIN[1] + "\n"))
    proc = start_streamlit(env, port, tmp / "streamlit.log")
    try:
        yield {"url": f"http://127.0.0.1:{port}", "env": env, "seed": seed, "tmp": tmp, "port": port}
    finally:
        stop_streamlit(proc)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"browser tests need Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield b
        b.close()


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(20_000)
    # CI machines are small and busy: give assertions as long as actions.
    from playwright.sync_api import expect

    expect.set_options(timeout=20_000)
    yield pg
    # Keep a screenshot of every browser test for people to look at.
    out = REPO / "test-artifacts"
    out.mkdir(exist_ok=True)
    pg.screenshot(path=str(out / f"{request.node.name}.png"), full_page=True)
    context.close()


def choose_answer(page, pattern) -> None:
    """Click the answer whose label matches `pattern` and wait until it is checked. The page may re-render while
    it settles (a reload, a streamed turn just stored), which can swallow a click: a person would click again."""
    import re

    from playwright.sync_api import expect

    option = page.get_by_test_id("stRadioGroup").get_by_text(pattern)
    radio = page.get_by_role("radio", name=re.compile(pattern.pattern.lstrip("^").replace(r"[AB]\. ", "")))
    expect(option).to_be_visible()
    for _ in range(3):
        option.click()
        try:
            expect(radio).to_be_checked(timeout=5_000)
            return
        except AssertionError:
            continue
    expect(radio).to_be_checked()


def set_confidence(page, percent: int) -> None:
    """Move the answer form's confidence slider to `percent` with the keyboard, as a person using arrow keys
    would (it starts at 70 %)."""
    from playwright.sync_api import expect

    thumb = page.get_by_role("slider")
    expect(thumb).to_be_visible()
    now = int(float(thumb.evaluate("e => e.value ?? e.getAttribute('aria-valuenow')")))
    thumb.focus()
    for _ in range(abs(percent - now)):
        thumb.press("ArrowRight" if percent > now else "ArrowLeft")
    expect(thumb).to_have_value(str(percent))


def give_answer(page, pattern, percent: int) -> None:
    """The one answer form: choose the option matching `pattern`, then say how sure (percent)."""
    choose_answer(page, pattern)
    set_confidence(page, percent)


def choose_option(page, label: str, option: str) -> None:
    """Choose `option` in the select box labelled `label`, as a person would: again if a rerun of the page closed
    the list before the click landed (busy machines), until the box shows it."""
    from playwright.sync_api import expect

    box = page.get_by_role("combobox", name=label, exact=True)
    for _ in range(3):
        try:
            expect(box).to_have_value(option, timeout=2_000)
            return
        except AssertionError:
            box.click()
            try:
                page.get_by_role("option", name=option, exact=True).click(timeout=5_000)
            except Exception:  # the list closed under the pointer: try again
                page.keyboard.press("Escape")
    expect(box).to_have_value(option)


def type_into(box, text: str) -> None:
    """Fill `box` with `text` and see it there: again if a rerun redrew the form and dropped what was typed."""
    from playwright.sync_api import expect

    for _ in range(3):
        box.fill(text)
        try:
            expect(box).to_have_value(text, timeout=2_000)
            return
        except AssertionError:
            continue
    expect(box).to_have_value(text)


def settled(page) -> None:
    """Wait until the page's run has finished drawing: nothing left over from the previous run, no run going. A
    person waits for the page to stop changing before typing into it; a form filled while a rerun is still drawing
    can lose what was typed."""
    from playwright.sync_api import expect

    expect(page.locator('[data-stale="true"]')).to_have_count(0)
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0)
