"""The production start serves serve.py (the cookie routes), watches no files and runs no full garbage collection
after every page run."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_the_project_config_turns_file_watching_and_run_on_save_off():
    shown = subprocess.run([sys.executable, "-m", "streamlit", "config", "show"], cwd=REPO, capture_output=True,
                           text=True, check=True).stdout
    assert re.search(r'^fileWatcherType = "none"$', shown, re.M)
    assert re.search(r"^runOnSave = false$", shown, re.M)
    # A full gc.collect() after every page run and poll was most of the server's time under load (bench/load.py).
    # The option is hidden from `config show`: ask Streamlit's config as the server reads it from this folder.
    gc_after_run = subprocess.run(
        [sys.executable, "-c", "from streamlit import config; config.get_config_options(force_reparse=True); "
                               "print(config.get_option('runner.postScriptGC'))"],
        cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
    assert gc_after_run == "False"


def test_start_script_runs_serve_py_without_a_watcher():
    command = (REPO / "scripts" / "start.sh").read_text().split("exec ", 1)[1]
    assert "streamlit run serve.py" in command and "--server.fileWatcherType none" in command


@pytest.mark.slow
def test_the_server_migrates_and_warms_up_at_start_and_says_when_it_is_ready(tmp_path):
    """serve.py starts the database and the models at process start, before anyone opens a page, and answers
    /oversight/ready with 200 only once that is done (a proxy's health check; bench/load.py waits for it)."""
    import sqlite3
    import time
    import urllib.error
    import urllib.request

    from bench.load import free_port, start_server, stop_server

    port, db = free_port(), tmp_path / "app.db"
    env = {**os.environ, "OVERSIGHT_DATABASE_URL": f"sqlite:///{db}", "OVERSIGHT_DATA_DIR": str(tmp_path),
           "OVERSIGHT_EMBEDDED_WORKER": "0", "HF_HUB_OFFLINE": "1"}
    server = start_server(env, port, tmp_path / "server.log")
    try:
        statuses = []
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/oversight/ready", timeout=5) as r:
                    statuses.append(r.status)
                    break
            except urllib.error.HTTPError as e:
                statuses.append(e.code)
                time.sleep(0.2)
        assert statuses[-1] == 200, (statuses, (tmp_path / "server.log").read_text()[-2000:])
        assert set(statuses) <= {503, 200}
        # No page was opened: the schema is there because the process made it at start.
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT version_num FROM alembic_version").fetchone()
    finally:
        stop_server(server)
