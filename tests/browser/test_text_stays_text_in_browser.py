"""Text stays text, in a real browser: a study whose every outside text (study name, items, options, source title,
conditions, strategies, people, chat and model speeches, reviews) carries Markdown and HTML images and links to a
local listener. A participant answers it, an expert and an admin open every page of theirs; the listener must hear
nothing, and the browser must ask it for nothing."""

from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import _free_port, app_env, give_answer, start_streamlit, stop_streamlit
from tests.poisoned import poisoned_study

pytestmark = pytest.mark.browser

ADMIN_PAGES = {"": "Studies", "study_settings": "Study settings", "study_items": "Items",
               "study_people": "Participants", "monitor": "Monitor", "strategies": "Strategies", "results": "Results",
               "transcripts": "Transcripts", "reviews": "Review queue", "loops": "Loops", "rlaif": "RLAIF lab",
               "w2s": "Weak-to-strong lab", "admin_models": "Models"}
EXPERT_PAGES = {"": "Review queue", "results": "Results", "transcripts": "Transcripts", "study_items": "Items"}


class Listener:
    """An HTTP server on 127.0.0.1 that records every request it gets (and answers each with a 1x1 GIF)."""

    def __init__(self) -> None:
        heard = self.heard = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                heard.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/gif")
                self.end_headers()
                self.wfile.write(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;")

            do_POST = do_HEAD = do_GET  # noqa: N815

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener():
    it = Listener()
    yield it
    it.close()


@pytest.fixture
def poisoned_server(db, tmp_path, listener):
    """The app on a database holding the poisoned study, its images and links pointing at the listener."""
    world = poisoned_study(listener.host)
    port = _free_port()
    env = {**app_env(tmp_path, port), "OVERSIGHT_DATABASE_URL": db}
    proc = start_streamlit(env, port, tmp_path / "streamlit.log")
    try:
        yield {"url": f"http://127.0.0.1:{port}", "world": world}
    finally:
        stop_streamlit(proc)


def _watch(page: Page, host: str) -> list[str]:
    """Every request the browser makes to `host` (a second witness beside the listener)."""
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url) if host in request.url else None)
    return asked


def _settled(page: Page, heading: str) -> None:
    """The page's title is shown and the script has finished its run (the status widget says nothing)."""
    expect(page.get_by_role("heading", name=heading).first).to_be_visible()
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=30_000)
    page.wait_for_timeout(500)  # images in what was just drawn would be requested now


def _answer(page: Page, name: re.Pattern, percent: int) -> None:
    """The one answer form, as a person uses it: click the option's label (again if a rerun swallowed the click),
    then say how sure (tests/browser/conftest.py)."""
    give_answer(page, name, percent)


def _sign_in(page: Page, url: str, name: str) -> None:
    page.goto(url)
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Password", exact=True).fill("long enough")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text(re.compile(r"^Signed in as "))).to_be_visible()
    for _ in range(100):  # the session cookie (set by a route after the sign-in) keeps it across page loads
        if any(c["name"] == "oversight_staff" for c in page.context.cookies()):
            return
        page.wait_for_timeout(200)
    raise AssertionError("the session cookie was never set")


def _walk_staff(page: Page, url: str, world: dict, listener: Listener, role: str, pages: dict) -> list[str]:
    """Sign in as the study's expert or admin in a fresh browser context and open each of `pages` (the Review
    queue with its source title, the transcript with its chat and speeches); returns what the browser asked the
    listener for."""
    staff = page.context.browser.new_context().new_page()
    asked = _watch(staff, listener.host)
    study = f"study={world['study']}"
    _sign_in(staff, f"{url}/?{study}", f"{role} {world['payload']}")
    for path, heading in pages.items():
        extra = f"&transcript={world['transcript']}" if path == "transcripts" else ""
        staff.goto(f"{url}/{path}?{study}{extra}")
        _settled(staff, heading)
        if heading == "Review queue":
            expect(staff.get_by_text(re.compile(r"^Source: Source title !\[x\]")).first).to_be_visible()
    staff.context.close()
    assert listener.heard == [], f"the {role.lower()}'s pages fetched {listener.heard}"
    return asked


def test_no_page_fetches_an_image_or_follows_a_link_from_outside_text(page, poisoned_server, listener):
    url, world = poisoned_server["url"], poisoned_server["world"]
    asked = _watch(page, listener.host)
    payload_shown = page.get_by_text(re.compile(r"!\[x\]\(http://127\.0\.0\.1:\d+/md-image\.png\)"))

    # A participant: consent, then every task, answered at 40 % as people do.
    from oversight.access import auth

    link = auth.create_invites(study_id=world["study"], count=1)[0].link
    page.goto(f"{url}/?{link.split('?', 1)[1]}")
    expect(page.get_by_text("I have read this and agree to take part")).to_be_visible()
    expect(payload_shown.first).to_be_visible()  # the study's name and consent, as text
    page.wait_for_timeout(1_000)
    assert listener.heard == [], f"the consent page fetched {listener.heard}"
    page.get_by_text("I have read this and agree to take part").click()
    page.get_by_role("button", name="Continue").click()
    finished = page.get_by_text("You have finished every task")
    for k in range(3):
        expect(page.get_by_text(f"Task {k + 1} of 3")).to_be_visible()
        # The options are shown literally, image syntax and all, and nothing is fetched.
        expect(page.get_by_test_id("stRadioGroup").get_by_text(re.compile(r"^A\. Option \d !\[x\]"))).to_be_visible()
        _answer(page, re.compile(r"^B\. Option \d"), 40)
        page.get_by_role("button", name=re.compile(r"^Submit (final )?answer$")).click()
        next_task = page.get_by_role("button", name="Next task")  # after a task with the assistant: its outcome
        expect(next_task.or_(page.get_by_text(f"Task {k + 2} of 3")).or_(finished).first).to_be_visible()
        if next_task.count():
            next_task.click()
    expect(finished).to_be_visible()
    assert listener.heard == [], f"the participant's tasks fetched {listener.heard}"
    page.context.clear_cookies()

    # The expert, then the admin, each on every page of theirs (this study is open, so both see the real names).
    staff_asked = [_walk_staff(page, url, world, listener, role, pages)
                   for role, pages in (("Expert", EXPERT_PAGES), ("Admin", ADMIN_PAGES))]
    assert listener.heard == [] and asked == [] and staff_asked == [[], []]
