"""Assisted QA in a real browser: the admin builds the strategy and deals it; a participant chats with the
assistant, the server restarts mid-chat, the participant resumes and answers."""

from __future__ import annotations

import json
import re
import sqlite3

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ADMIN, _free_port, app_env, choose_answer, cli, start_streamlit, stop_streamlit
from tests.browser.test_debate_in_browser import STORY

pytestmark = pytest.mark.browser


@pytest.fixture
def chat_server(tmp_path):
    port = _free_port()
    env = app_env(tmp_path, port)
    cli(env, "init-db")
    cli(env, "create-user", "--role", "admin", "--name", ADMIN[0], stdin=ADMIN[1] + "\n")
    study = cli(env, "study", "create", "--name", "Chat study").strip()
    items = tmp_path / "well.jsonl"
    items.write_text(json.dumps({"id": "well", "question": "How was the cistern refilled?",
                                 "options": ["Tomas dug a channel from the stream", "The autumn rains"],
                                 "gold": 0, "source_text": STORY}) + "\n")
    cli(env, "import", "--study", study, "--format", "jsonl", str(items))
    cli(env, "study", "open", "--study", study)  # a new study is a draft until the launch check opens it
    state = {"proc": start_streamlit(env, port, tmp_path / "streamlit.log"), "env": env, "port": port,
             "url": f"http://127.0.0.1:{port}", "study": study, "db": tmp_path / "app.db"}
    yield state
    stop_streamlit(state["proc"])


def choose(page: Page, label: str, option: str) -> None:
    """Pick an option of a Streamlit selectbox or multiselect, as a person would."""
    page.get_by_role("combobox", name=label).click()
    page.get_by_role("option", name=option).click()


def send(page: Page, text: str, messages_left: int) -> None:
    """Type a message, send it, and wait until the assistant's streamed reply is stored (the chat then opens
    again with one message fewer left)."""
    box = page.get_by_placeholder("Ask the assistant…")
    box.fill(text)
    box.press("Enter")
    expect(page.get_by_text(text, exact=True)).to_be_visible()
    expect(page.get_by_text(f"You can send {messages_left} more messages.")).to_be_visible()


def test_a_participant_chats_with_the_assistant_across_a_restart_and_answers(page, chat_server):
    # The first reply loads the sentence encoder in the server process: allow for it.
    page.set_default_timeout(90_000)
    expect.set_options(timeout=90_000)
    url, study = chat_server["url"], chat_server["study"]

    # The admin builds an assisted-QA strategy and deals it.
    page.goto(url)
    page.get_by_label("Name", exact=True).fill(ADMIN[0])
    page.get_by_label("Password", exact=True).fill(ADMIN[1])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="New study")).to_be_visible()
    page.get_by_role("link", name="Strategies").click()
    expect(page.get_by_role("heading", name="Strategies")).to_be_visible()
    page.get_by_role("tab", name="New strategy").click()
    page.get_by_label("Name", exact=True).fill("Chat help")
    choose(page, "Protocol", "Assisted QA")
    expect(page.get_by_text("Messages the participant may send")).to_be_visible()
    expect(page.get_by_text("Speeches after round 1")).to_have_count(0)  # debate rules are not shown for a chat
    page.get_by_label("Messages the participant may send").fill("5")
    page.get_by_role("button", name="Save version 1").click()
    expect(page.get_by_text(re.compile(r"Saved Chat help v1"))).to_be_visible()
    # It becomes the study's non-expert + model condition (Study settings, Conditions).
    page.get_by_role("link", name="Study settings").click()
    expect(page.get_by_role("heading", name="Conditions")).to_be_visible()
    for label, typed in (("Kind", "Non-expert + model"), ("Strategy version (none: direct QA)", "Chat help v1")):
        box = page.get_by_role("combobox", name=label)
        box.click()
        box.press_sequentially(typed)
        box.press("Enter")
    expect(page.get_by_role("combobox", name="Strategy version (none: direct QA)")).to_have_value(
        re.compile(r"Chat help v1 \(assisted-qa"))
    page.get_by_role("button", name="Add condition").click()
    expect(page.get_by_text("Added condition Non-expert + model: Chat help v1.")).to_be_visible()

    # A participant chats: two exchanges, each reply streamed in by the server's runner.
    link = cli(chat_server["env"], "invite", "--study", study, "--count", "1").strip()
    page.context.clear_cookies()
    page.goto(link)
    page.get_by_text("I have read this and agree").click()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text("An AI assistant can help you")).to_be_visible()
    expect(page.get_by_text("You can send 5 more messages.")).to_be_visible()
    send(page, "Where did the water come from?", 4)
    first_reply = page.get_by_test_id("stChatMessage").nth(1)
    expect(first_reply).to_contain_text("Passages relevant to your question")
    send(page, "What did Tomas dig?", 3)
    expect(page.get_by_test_id("stChatMessage")).to_have_count(4)

    # The server goes down mid-chat and comes back on the same database; the link resumes the chat.
    stop_streamlit(chat_server["proc"])
    chat_server["proc"] = start_streamlit(chat_server["env"], chat_server["port"],
                                          chat_server["db"].parent / "streamlit.log")
    page.goto(link)
    expect(page.get_by_text("Where did the water come from?", exact=True)).to_be_visible()
    expect(page.get_by_text("What did Tomas dig?", exact=True)).to_be_visible()
    expect(page.get_by_test_id("stChatMessage")).to_have_count(4)
    expect(page.get_by_text("You can send 3 more messages.")).to_be_visible()

    # The answer order is randomised per transcript: pick the answer by its text.
    choose_answer(page, re.compile(r"^[AB]\. Tomas dug a channel from the stream$"))
    page.get_by_role("button", name="Submit final answer").click()
    expect(page.get_by_text("Your final answer is saved.")).to_be_visible()
    expect(page.get_by_text(re.compile("The correct answer was [AB]: Tomas dug a channel"))).to_be_visible()

    db = sqlite3.connect(chat_server["db"])
    turns = db.execute("select round, role, text from turn order by position").fetchall()
    assert [(r, role) for r, role, _ in turns] == [(1, "participant"), (1, "assistant"), (2, "participant"),
                                                   (2, "assistant"), (3, "judge")]
    assert [t for _, role, t in turns if role == "participant"] == ["Where did the water come from?",
                                                                     "What did Tomas dig?"]
    assert "<quote>" in turns[1][2]  # the first reply quotes the story (verified quotes shown highlighted)
    [(probs, final, rnd)] = db.execute("select probabilities, is_final, round from judgment").fetchall()
    # Stored in the item's order: the stream answer at the default 70%.
    assert json.loads(probs) == pytest.approx([0.7, 0.3]) and final == 1 and rnd == 3
