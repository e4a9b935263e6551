"""A small live session through the real server (`streamlit run serve.py`), on each database: participants as
websocket clients of the app (bench/wsclient.py) join by link, consent, judge extractive debates and answer
direct-QA tasks at once; every answer they saw confirmed is stored exactly once. `bench/load.py` is the same
session at full size, with the timings."""

from __future__ import annotations

import pytest

from bench.load import main as load_session
from oversight import settings as settings_mod

pytestmark = pytest.mark.slow  # a real server and websocket clients

PEOPLE, DIRECT_ITEMS, DEBATE_ITEMS = 4, 3, 2


def test_a_live_session_through_the_server_stores_every_answer_once(any_db, tmp_path, monkeypatch):
    for key in ("OVERSIGHT_DATABASE_URL", "OVERSIGHT_DATA_DIR", "OVERSIGHT_PUBLIC_URL"):
        monkeypatch.setenv(key, "")  # the session sets them; this restores them afterwards
    monkeypatch.setenv("OVERSIGHT_DATABASE_URL", any_db)
    result = load_session(["--participants", str(PEOPLE), "--think", "0.1", "--ramp", "0", "--staff", "1",
                           "--direct-items", str(DIRECT_ITEMS), "--debate-items", str(DEBATE_ITEMS),
                           "--database-url", any_db, "--json"])
    settings_mod.reset_settings()
    assert result["first_errors"] == [] and result["errors"] == 0
    assert result["finished"] == PEOPLE
    # Half answer direct-QA tasks, half judge two-round debates (a report after round 1, then the final answer).
    assert result["answers"] == PEOPLE // 2 * (DIRECT_ITEMS + DEBATE_ITEMS)
    assert result["confirmed"] == PEOPLE // 2 * (DIRECT_ITEMS + 2 * DEBATE_ITEMS)
    assert result["stored"] == result["confirmed"]
    assert (result["lost"], result["duplicates"]) == (0, 0)
    # Every answer, direct or in a debate, came through the one answer form (choose an option, then how sure).
    assert result["answer_forms"] == {"choice-confidence": result["stored"]}
    assert result["actions"]["continue"]["n"] == PEOPLE // 2 * DEBATE_ITEMS  # round 2's speeches were seen
    assert result["actions"]["staff_sign_in"]["n"] == 1


def test_the_floor_takes_the_same_session_and_the_server_cpu_is_measured():
    """The floor (bench/floor_app.py, plain Streamlit) is driven by the same clients through the same clicks, so
    app and floor figures compare action by action; both report the server's CPU per participant-minute."""
    result = load_session(["--floor", "--participants", str(PEOPLE), "--think", "0.1", "--ramp", "0",
                           "--direct-items", str(DIRECT_ITEMS), "--debate-items", str(DEBATE_ITEMS), "--json"])
    assert result["first_errors"] == [] and result["finished"] == PEOPLE
    assert result["answers"] == PEOPLE // 2 * (DIRECT_ITEMS + DEBATE_ITEMS)
    assert result["actions"]["continue"]["n"] == result["actions"]["first_speech"]["n"] == PEOPLE // 2 * DEBATE_ITEMS
    assert (result["lost"], result["duplicates"], result["database"]) == (None, None, None)  # nothing to check
    assert result["server_cpu_s_per_participant_minute"] > 0 and 0 < result["server_cores_busy"]
