"""The production start serves serve.py (the cookie routes), watches no files and runs no full garbage collection
after every page run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

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
