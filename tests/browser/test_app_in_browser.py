"""The app as people use it: a real server, a real browser."""

from __future__ import annotations

import re
import sqlite3

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ADMIN

pytestmark = pytest.mark.browser


def sign_in(page: Page, url: str, name: str, password: str) -> None:
    page.goto(url)
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_a_wrong_password_is_refused(page, server):
    sign_in(page, server["url"], ADMIN[0], "not the password")
    expect(page.get_by_text("wrong name or password")).to_be_visible()
    expect(page.get_by_role("heading", name="Studies")).not_to_be_visible()


def test_admin_creates_a_study_imports_items_and_makes_an_invite(page, server, tmp_path):
    sign_in(page, server["url"], *ADMIN)
    expect(page.get_by_role("heading", name="New study")).to_be_visible()
    page.get_by_test_id("stForm").get_by_label("Name", exact=True).fill("Browser study")
    page.get_by_role("button", name="Create study").click()
    expect(page.get_by_text(re.compile(r"Created study #\d+"))).to_be_visible()
    expect(page.get_by_test_id("stDataFrame").first).to_contain_text("Browser study")  # listed at once

    csv = tmp_path / "browser_items.csv"
    csv.write_text("id,question,options,gold\nb1,Which is a colour?,red|seven,0\nb2,Which is a number?,blue|nine,1\n")
    page.get_by_role("link", name="Items").click()
    expect(page.get_by_role("heading", name="Items")).to_be_visible()
    page.locator('input[type="file"]').set_input_files(str(csv))
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.get_by_text(re.compile(r"^Imported"))).to_be_visible()

    page.get_by_role("link", name="Participants").click()
    page.get_by_role("button", name="Create links").click()
    expect(page.get_by_text("Copy these now")).to_be_visible()
    links = page.locator("code").first.inner_text()
    assert "?t=" in links

    db = sqlite3.connect(server["env"]["OVERSIGHT_DATABASE_URL"].removeprefix("sqlite:///"))
    study_id = db.execute("select id from study where name='Browser study'").fetchone()[0]
    assert db.execute("select count(*) from item where study_id=?", (study_id,)).fetchone()[0] == 2
    assert db.execute("select count(*) from user where role='participant' and study_id=?", (study_id,)).fetchone()[0] == 5


def test_a_participant_link_opens_the_participant_view_and_resumes(page, server):
    link = server["seed"]["invite_links"][0]
    page.goto(link)
    expect(page.get_by_role("heading", name="Before you begin")).to_be_visible()
    page.get_by_text("I have read this and agree").click()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text(re.compile(r"Task 1 of 7"))).to_be_visible()
    expect(page.get_by_role("heading", name="Question")).to_be_visible()
    question = page.locator('[data-testid="stText"]').filter(has_text="?").first.inner_text()
    page.reload()  # the personal link resumes at the same task
    expect(page.get_by_text(re.compile(r"Task 1 of 7"))).to_be_visible()
    expect(page.get_by_text(question, exact=True)).to_be_visible()
    expect(page.get_by_text("Before you begin")).not_to_be_visible()  # consent is remembered

    db = sqlite3.connect(server["env"]["OVERSIGHT_DATABASE_URL"].removeprefix("sqlite:///"))
    states = db.execute("select a.state from assignment a join user u on u.id = a.participant_id "
                        "where u.consented_at is not null").fetchall()
    assert len(states) == 7 and states.count(("active",)) == 1  # the demo's 6 items and 1 attention check


def test_a_participant_link_cannot_reach_admin_pages(page, server):
    link = server["seed"]["invite_links"][1]
    token = link.split("?t=")[1]
    for path in ("studies", "study_items", "study_people", "strategies", "results", "transcripts", "admin_models"):
        page.goto(f"{server['url']}/{path}?t={token}")
        # What the participant gets at an admin address is their own first step, the consent form...
        expect(page.get_by_role("heading", name="Before you begin")).to_be_visible()
        body = page.locator("body").inner_text()
        # ...and none of the admin page's controls or data.
        assert "Create study" not in body and "Create links" not in body and "Import items" not in body
        assert "Save version 1" not in body and "Judge final p(correct)" not in body


def test_an_unknown_link_is_told_so(page, server):
    page.goto(f"{server['url']}/?t=forged-token")
    expect(page.get_by_text("not valid or has been withdrawn")).to_be_visible()


def test_a_prolific_enrolment_link_creates_then_resumes_the_participant(page, server):
    from tests.browser.conftest import cli

    link = cli(server["env"], "enrolment", "--study", str(server["seed"]["study_id"])).strip()
    mine = (link.replace("{{%PROLIFIC_PID%}}", "5f00aa11").replace("{{%STUDY_ID%}}", "S1")
            .replace("{{%SESSION_ID%}}", "X1"))
    page.goto(mine)
    expect(page.get_by_role("heading", name="Before you begin")).to_be_visible()
    page.get_by_text("I have read this and agree").click()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text(re.compile(r"Task 1 of 7"))).to_be_visible()
    page.goto(mine.replace("X1", "X2"))  # a new Prolific session of the same participant resumes
    expect(page.get_by_text(re.compile(r"Task 1 of 7"))).to_be_visible()
    page.goto(mine.replace("PROLIFIC_PID=5f00aa11", "PROLIFIC_PID="))
    expect(page.get_by_text("valid participant id")).to_be_visible()

    db = sqlite3.connect(server["env"]["OVERSIGHT_DATABASE_URL"].removeprefix("sqlite:///"))
    rows = db.execute("select external_study_id, external_session_id, consented_at is not null from user "
                      "where external_id='5f00aa11'").fetchall()
    assert rows == [("S1", "X2", 1)]
