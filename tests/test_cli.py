"""`python -m oversight` as scripts use it: JSON on stdout, errors on stderr, the exit code. Commands run in this
process through `main(argv)`; the test of errors and exit codes runs real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _runner(env: dict[str, str], *, subprocesses: bool = False):
    """`python -m oversight ARGS` with `env` as its environment: a CompletedProcess (exit code, stdout, stderr).
    In this process by default, through the same `main(argv)` that `python -m oversight` calls (a real process
    costs seconds of imports per command); `subprocesses=True` for the tests of the process itself."""
    def run(*args: str, stdin: str = "", ok: bool = True, extra_env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess:
        if subprocesses:
            proc = subprocess.run([sys.executable, "-m", "oversight", *args], input=stdin,
                                  env={**env, **(extra_env or {})}, cwd=REPO, capture_output=True, text=True,
                                  timeout=300)
        else:
            proc = _in_process(list(args), {**env, **(extra_env or {})}, stdin)
        if ok:
            assert proc.returncode == 0, proc.stderr
        return proc

    return run


def _in_process(args: list[str], env: dict[str, str], stdin: str) -> subprocess.CompletedProcess:
    """One command in this process, its environment exactly `env` (settings and engines read afresh before and
    after, so neither the command nor the test sees the other's), stdin/stdout/stderr its own."""
    import io
    from contextlib import redirect_stderr, redirect_stdout

    from oversight import read_cache, settings
    from oversight.cli import main
    from oversight.models.registry import fresh_registry
    from storage import db as storage_db

    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        for key in [k for k in os.environ if k not in env]:
            mp.delenv(key)
        for key, value in env.items():
            mp.setenv(key, value)
        mp.setattr(sys, "stdin", io.StringIO(stdin))
        settings.reset_settings()
        storage_db.dispose_engines()
        try:
            with fresh_registry(), redirect_stdout(out), redirect_stderr(err):
                try:
                    code = main(args)
                except SystemExit as exc:  # argparse's usage errors (2), a command's own exit
                    code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            storage_db.dispose_engines()
            read_cache.clear()
    settings.reset_settings()  # the test's own environment again
    return subprocess.CompletedProcess(["python", "-m", "oversight", *args], code, out.getvalue(), err.getvalue())


def _cli_env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "OVERSIGHT_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
            "OVERSIGHT_DATA_DIR": str(tmp_path), "OVERSIGHT_PUBLIC_URL": "https://lab.example"}


@pytest.fixture
def cli(tmp_path, migrated_sqlite):
    """The command line on a database of its own (a copy of the session's migrated one: `init-db` has run)."""
    from tests.conftest import _copy_sqlite

    _copy_sqlite(migrated_sqlite, tmp_path / "cli.db")
    return _runner(_cli_env(tmp_path))


@pytest.fixture
def cli_process(tmp_path):
    """The command line as real processes (`python -m oversight`), on a database of its own."""
    run = _runner(_cli_env(tmp_path), subprocesses=True)
    run("init-db")
    return run


@pytest.fixture
def cli_here(db):
    """The command line on this test's own database (the `db` fixture's), so the test can read what it stored;
    models only as the test configures them."""
    return _runner({k: v for k, v in os.environ.items()
                    if not k.startswith(("OVERSIGHT_MODELS_FILE", "OVERSIGHT_MODEL__", "OVERSIGHT_ROLE__"))})


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


def test_errors_go_to_stderr_with_a_nonzero_exit(cli_process, tmp_path):
    cli = cli_process
    missing = cli("import", "--study", "999", "--format", "csv", str(tmp_path / "x.csv"), ok=False)
    assert missing.returncode == 1 and "no study with id 999" in missing.stderr
    study_id = cli("study", "create", "--name", "s").stdout.strip()
    bad = tmp_path / "bad.csv"
    bad.write_text("question,options,gold\nWhat?,a|b,7\n")
    failed = cli("import", "--study", study_id, "--format", "csv", str(bad), ok=False)
    assert failed.returncode == 1 and "bad.csv" in failed.stderr and "line 2" in failed.stderr
    usage = cli("import", "--study", study_id, "--format", "nope", str(bad), ok=False)
    assert usage.returncode == 2


@pytest.mark.slow
def test_seed_demo_prints_a_working_admin_sign_in_and_links(cli):
    seed = json.loads(cli("seed-demo", "--json").stdout)
    assert seed["admin_password"] and len(seed["invite_links"]) == 3
    again = json.loads(cli("seed-demo", "--json").stdout)
    assert again["study_id"] == seed["study_id"] and again["admin_password"] is None and not again["created"]
    report = json.loads(cli("report", "--study", str(seed["study_id"]), "--json").stdout)
    assert report["counts"]["items"] >= 8


@pytest.mark.slow
def test_an_assisted_qa_strategy_is_made_and_run_from_the_command_line(cli, tmp_path):
    study = cli("study", "create", "--name", "Chat").stdout.strip()
    items = tmp_path / "items.jsonl"
    items.write_text(json.dumps({"id": "k", "question": "Where was the key?", "options": ["flowerpot", "mailbox"],
                                 "gold": 0, "source_text": "The key was under the blue flowerpot by the door."})
                     + "\n")
    cli("import", "--study", study, "--format", "jsonl", str(items))
    made = json.loads(cli("strategy", "create", "--study", study, "--protocol", "assisted-qa", "--json",
                          "--rules", '{"max_messages": 3, "ai_questions": 1}',
                          "--prompts", '{"assistant": {"system": "Be brief."}}').stdout)
    assert made["protocol"] == "assisted-qa" and made["rules"]["max_messages"] == 3
    assert made["prompts"]["assistant"]["system"] == "Be brief." and "judge" in made["prompts"]
    run = json.loads(cli("run", "--study", study, "--strategy", str(made["id"]), "--quiet", "--json").stdout)
    assert run["n"] == 1 and run["errors"] == 0 and run["items"][0]["rounds"] == 1
    listed = json.loads(cli("strategy", "list", "--study", study, "--json").stdout)
    assert listed[0]["prompts"]["assistant"]["system"] == "Be brief."

    bad = cli("strategy", "create", "--study", study, "--protocol", "assisted-qa", "--rounds", "2", ok=False)
    assert bad.returncode == 1 and "do not apply to this protocol: rounds" in bad.stderr
    bad = cli("strategy", "create", "--study", study, "--protocol", "assisted-qa", "--prompts", "{nope", ok=False)
    assert bad.returncode == 1 and "--prompts is not valid JSON" in bad.stderr


def test_set_password_replaces_the_old_one(cli_here):
    from oversight.access.auth import AuthError, authenticate

    cli_here("create-user", "--role", "admin", "--name", "ada", stdin="the old password\n")
    done = json.loads(cli_here("set-password", "--name", "ada", "--json", stdin="a brand new password\n").stdout)
    assert done == {"name": "ada"}
    with pytest.raises(AuthError):
        authenticate(name="ada", password="the old password")
    assert authenticate(name="ada", password="a brand new password").name == "ada"
    # An unknown name or a short password changes nothing and says why.
    unknown = cli_here("set-password", "--name", "bob", stdin="a brand new password\n", ok=False)
    assert unknown.returncode == 1 and "no admin or expert named 'bob'" in unknown.stderr
    short = cli_here("set-password", "--name", "ada", stdin="short\n", ok=False)
    assert short.returncode == 1 and "at least" in short.stderr
    assert authenticate(name="ada", password="a brand new password").name == "ada"


def _stored_accuracy(model: str) -> tuple[int, float | None]:
    """(judgments the AI judge `model` stored, their accuracy on the gold answer), read from the database."""
    from sqlmodel import select

    from oversight.db import session_scope
    from storage.models import ItemGold, Judgment

    with session_scope(write=False) as s:
        rows = s.exec(select(Judgment.probabilities, ItemGold.gold_index)
                      .join(ItemGold, ItemGold.item_id == Judgment.item_id)
                      .where(Judgment.judge_kind == "ai-offline", Judgment.judge_name == model)).all()
    return len(rows), (round(sum(p[g] > 0.5 for p, g in rows) / len(rows), 3) if rows else None)


@pytest.mark.slow
def test_ai_judge_judges_finished_transcripts_stores_and_prints_accuracy(cli_here, study):
    from tests.test_ai_judge import finished_consultancies

    finished_consultancies(study.id)
    # The default judge (the offline extractive model) follows the consultant's evidence: right on the honest
    # room, wrong on the dishonest one.
    summary = json.loads(cli_here("ai-judge", "--study", str(study.id), "--json", "--quiet").stdout)
    assert summary == {"n": 2, "model": "extractive", "accuracy": 0.5}
    assert _stored_accuracy("extractive") == (2, 0.5)

    # A named model from the environment: text output, progress on stderr; already judged rooms are skipped.
    scripted = {"OVERSIGHT_MODEL__S__BACKEND": "scripted", "OVERSIGHT_MODEL__S__CHOICE_PROBS": "[0.9, 0.1]"}
    text = cli_here("ai-judge", "--study", str(study.id), "--model", "s", extra_env=scripted)
    assert text.stdout.strip() == "judged 2 transcripts, accuracy 0.0" and "2/2" in text.stderr
    assert _stored_accuracy("s") == (2, 0.0)
    again = json.loads(cli_here("ai-judge", "--study", str(study.id), "--model", "s", "--json", "--quiet",
                                extra_env=scripted).stdout)
    assert again == {"n": 0, "model": "s", "accuracy": None} and _stored_accuracy("s") == (2, 0.0)
    missing = cli_here("ai-judge", "--study", str(study.id), "--model", "nope", ok=False)
    assert missing.returncode == 1 and "nope" in missing.stderr


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


@pytest.mark.slow
def test_study_settings_are_changed_from_the_command_line(cli):
    study = cli("study", "create", "--name", "Settings").stdout.strip()
    out = json.loads(cli("study", "set", "--study", study, "--consent-text", "I agree to take part.",
                         "--items-per-participant", "20", "--json").stdout)
    assert out == {"changed": ["consent_text", "items_per_participant"]}
    again = json.loads(cli("study", "set", "--study", study, "--items-per-participant", "20", "--json").stdout)
    assert again == {"changed": []}
    bad = cli("study", "set", "--study", study, "--items-per-participant", "0", ok=False)
    assert bad.returncode == 1 and "at least 1" in bad.stderr
    assert json.loads(cli("study", "set", "--study", study, "--items-per-participant", "all", "--json").stdout) \
        == {"changed": ["items_per_participant"]}
    history = json.loads(cli("study", "history", "--study", study, "--json").stdout)
    assert [(h["setting"], h["old"], h["new"], h["by"]) for h in history][:2] == [
        ("items per participant", "20", "all", "command line"), ("items per participant", "all", "20", "command line")]
    assert "consent text" in {h["setting"] for h in history}
    assert "items per participant: 20 -> all" in cli("study", "history", "--study", study).stdout


def test_the_design_is_set_from_the_command_line(cli):
    study = cli("study", "create", "--name", "Design").stdout.strip()
    out = json.loads(cli("study", "set", "--study", study, "--design", "between", "--practice-items", "2",
                         "--review-share", "0.25", "--no-blind-review", "--allocation", "thompson",
                         "--min-participants", "10", "--min-confidence", "0.7", "--json").stdout)
    assert out == {"changed": ["design", "allocation", "practice_items", "review_share", "blind_review",
                               "convergence"]}
    more = json.loads(cli("study", "set", "--study", study, "--min-agreement", "0.6", "--json").stdout)
    assert more == {"changed": ["convergence"]}  # thresholds given earlier stay
    for flags, message in ((["--review-share", "1.5"], "from 0 to 1"), (["--min-confidence", "2"], "from 0 to 1"),
                           (["--practice-items", "-1"], "0 or more")):
        bad = cli("study", "set", "--study", study, *flags, ok=False)
        assert bad.returncode == 1 and message in bad.stderr


@pytest.mark.slow
def test_conditions_are_added_listed_changed_removed_and_run_from_the_command_line(cli, tmp_path):
    study = cli("study", "create", "--name", "Sandwich").stdout.strip()
    items = tmp_path / "items.jsonl"
    items.write_text(json.dumps({"id": "k", "question": "Where was the key?", "options": ["flowerpot", "mailbox"],
                                 "gold": 0, "source_text": "The key was under the blue flowerpot by the door."})
                     + "\n")
    cli("import", "--study", study, "--format", "jsonl", str(items))
    chat = cli("strategy", "create", "--study", study, "--protocol", "assisted-qa").stdout.strip()
    model = cli("strategy", "create", "--study", study, "--protocol", "model-alone").stdout.strip()
    alone = cli("conditions", "add", "--study", study, "--kind", "alone").stdout.strip()
    added = json.loads(cli("conditions", "add", "--study", study, "--kind", "assisted", "--strategy", chat,
                           "--json").stdout)
    assert added["kind"] == "assisted" and added["strategy_id"] == int(chat)
    bad = cli("conditions", "add", "--study", study, "--kind", "model", "--strategy", chat, ok=False)
    assert bad.returncode == 1 and "model-alone" in bad.stderr
    bad = cli("conditions", "add", "--study", study, "--kind", "assisted", ok=False)
    assert bad.returncode == 1 and "needs a strategy version" in bad.stderr
    m = cli("conditions", "add", "--study", study, "--kind", "model", "--strategy", model, "--name", "AI").stdout
    listed = json.loads(cli("conditions", "list", "--study", study, "--json").stdout)
    assert [(c["name"], c["kind"], c["assignments"]) for c in listed] == [
        ("Non-expert alone", "alone", 0), (added["name"], "assisted", 0), ("AI", "model", 0)]
    cli("conditions", "set", "--condition", alone, "--name", "On their own")
    assert json.loads(cli("conditions", "list", "--study", study, "--json").stdout)[0]["name"] == "On their own"
    run = json.loads(cli("conditions", "run", "--condition", m.strip(), "--quiet", "--json").stdout)
    assert run["n"] == 1 and run["strategy_id"] == int(model)
    bad = cli("conditions", "run", "--condition", alone, ok=False)
    assert bad.returncode == 1 and "not a model-alone condition" in bad.stderr
    cli("conditions", "remove", "--condition", alone)
    assert len(json.loads(cli("conditions", "list", "--study", study, "--json").stdout)) == 2
