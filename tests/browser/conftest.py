"""A real `streamlit run app.py` on a free port, and headless Chromium driven by Playwright."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("OVERSIGHT_CHROMIUM", "/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
ADMIN = ("admin", "browser-test-pass")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError("streamlit did not become healthy")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app on a fresh database holding the demo study and a known admin password."""
    tmp = tmp_path_factory.mktemp("browser")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "OVERSIGHT_DATABASE_URL": f"sqlite:///{tmp / 'app.db'}", "OVERSIGHT_DATA_DIR": str(tmp),
           "OVERSIGHT_PUBLIC_URL": url, "HF_HUB_OFFLINE": "1", "OVERSIGHT_LOGIN_MAX_DELAY_S": "0"}
    seed = subprocess.run([sys.executable, "-m", "oversight", "seed-demo", "--password-stdin", "--json"],
                          input=ADMIN[1] + "\n", env=env, cwd=REPO, capture_output=True, text=True, check=True)
    log = open(tmp / "streamlit.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.headless",
         "true", "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_healthy(url, proc)
        import json

        yield {"url": url, "env": env, "seed": json.loads(seed.stdout), "tmp": tmp}
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


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
    yield pg
    # Keep a screenshot of every browser test for people to look at.
    out = REPO / "test-artifacts"
    out.mkdir(exist_ok=True)
    pg.screenshot(path=str(out / f"{request.node.name}.png"), full_page=True)
    context.close()
