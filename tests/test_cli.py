"""`python -m oversight` as scripts use it: real subprocesses, JSON on stdout, errors on stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def cli(tmp_path):
    env = {**os.environ, "OVERSIGHT_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
           "OVERSIGHT_DATA_DIR": str(tmp_path), "OVERSIGHT_PUBLIC_URL": "https://lab.example"}

    def run(*args: str, stdin: str = "", ok: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([sys.executable, "-m", "oversight", *args], input=stdin, env=env, cwd=REPO,
                              capture_output=True, text=True, timeout=300)
        if ok:
            assert proc.returncode == 0, proc.stderr
        return proc

    run("init-db")
    return run


def test_init_db_is_idempotent(cli):
    first = json.loads(cli("init-db", "--json").stdout)
    second = json.loads(cli("init-db", "--json").stdout)
    assert first["revision"] == second["revision"] != ""


def test_study_import_invite_report_export_round_trip(cli, tmp_path):
    study_id = int(cli("study", "create", "--name", "CLI study").stdout.strip())
    items = tmp_path / "items.jsonl"
    items.write_text("\n".join(json.dumps(r) for r in [
        {"id": "a", "question": "Which is larger?", "options": ["2", "3"], "gold": 1},
        {"id": "b", "question": "Which is a fruit?", "options": ["apple", "brick"], "gold": 0},
    ]) + "\n")
    summary = json.loads(cli("import", "--study", str(study_id), "--format", "jsonl", str(items), "--json").stdout)
    assert summary["n_items"] == 2
    links = json.loads(cli("invite", "--study", str(study_id), "--count", "2", "--json").stdout)
    assert len(links) == 2 and all(l["link"].startswith("https://lab.example/?t=") for l in links)
    report = json.loads(cli("report", "--study", str(study_id), "--json").stdout)
    assert report["counts"]["items"] == 2 and report["counts"]["participants"] == 2
    out = tmp_path / "export"
    cli("export", "--study", str(study_id), "--out", str(out))
    assert (out / "manifest.json").exists()
    studies = json.loads(cli("study", "list", "--json").stdout)
    assert [s["name"] for s in studies] == ["CLI study"]


def test_create_user_reads_the_password_from_stdin(cli):
    made = json.loads(cli("create-user", "--role", "expert", "--name", "erin", "--json", stdin="a long password\n").stdout)
    assert made["role"] == "expert"
    again = cli("create-user", "--role", "expert", "--name", "erin", stdin="a long password\n", ok=False)
    assert again.returncode == 1 and "already exists" in again.stderr and again.stdout == ""


def test_errors_go_to_stderr_with_a_nonzero_exit(cli, tmp_path):
    missing = cli("import", "--study", "999", "--format", "csv", str(tmp_path / "x.csv"), ok=False)
    assert missing.returncode == 1 and "no study with id 999" in missing.stderr
    study_id = cli("study", "create", "--name", "s").stdout.strip()
    bad = tmp_path / "bad.csv"
    bad.write_text("question,options,gold\nWhat?,a|b,7\n")
    failed = cli("import", "--study", study_id, "--format", "csv", str(bad), ok=False)
    assert failed.returncode == 1 and "bad.csv" in failed.stderr and "line 2" in failed.stderr
    usage = cli("import", "--study", study_id, "--format", "nope", str(bad), ok=False)
    assert usage.returncode == 2


def test_seed_demo_prints_a_working_admin_sign_in_and_links(cli):
    seed = json.loads(cli("seed-demo", "--json").stdout)
    assert seed["admin_password"] and len(seed["invite_links"]) == 3
    again = json.loads(cli("seed-demo", "--json").stdout)
    assert again["study_id"] == seed["study_id"] and again["admin_password"] is None and not again["created"]
    report = json.loads(cli("report", "--study", str(seed["study_id"]), "--json").stdout)
    assert report["counts"]["items"] >= 8


def test_enrolment_limits_are_set_without_changing_the_link(cli, tmp_path):
    import hashlib
    import sqlite3

    study_id = int(cli("study", "create", "--name", "Capped").stdout.strip())
    link = json.loads(cli("enrolment", "--study", str(study_id), "--json").stdout)["link"]
    caps = json.loads(cli("enrolment", "--study", str(study_id), "--max-per-minute", "5", "--max-total", "40",
                          "--json").stdout)
    assert (caps["max_per_minute"], caps["max_total"]) == (5, 40)
    caps = json.loads(cli("enrolment", "--study", str(study_id), "--max-total", "none", "--json").stdout)
    assert (caps["max_per_minute"], caps["max_total"]) == (5, None)
    bad = cli("enrolment", "--study", str(study_id), "--max-total", "lots", ok=False)
    assert bad.returncode == 1 and "whole number" in bad.stderr
    # The link handed out before is still the study's: limits alone never re-issue it.
    token = link.split("enrol=")[1].split("&")[0]
    db = sqlite3.connect(tmp_path / "cli.db")
    stored = db.execute("select enrol_token_hash from study where id=?", (study_id,)).fetchone()[0]
    assert stored == hashlib.sha256(token.encode()).hexdigest()
    assert db.execute("select max_per_minute, max_total from enrolmentcap").fetchall() == [(5, None)]


def test_sign_out_ends_every_session_of_a_staff_member(cli):
    cli("create-user", "--role", "admin", "--name", "ada", stdin="correct horse\n")
    out = json.loads(cli("sign-out", "--name", "ada", "--json").stdout)
    assert out == {"name": "ada", "sessions_ended": 0}
    missing = cli("sign-out", "--name", "nobody", ok=False)
    assert missing.returncode == 1 and "no admin or expert named 'nobody'" in missing.stderr
