"""`python -m oversight rlaif ...` as scripts use it: JSON on stdout, errors on stderr (each command through
`main(argv)` in this process: tests/test_cli.py's runner)."""

from __future__ import annotations

import json
import os

import pytest

from tests.rlaif.conftest import harmless_pairs, hh_line

pytestmark = pytest.mark.slow  # two train


@pytest.fixture
def cli(tmp_path, migrated_sqlite):
    from tests.conftest import _copy_sqlite
    from tests.test_cli import _runner

    _copy_sqlite(migrated_sqlite, tmp_path / "cli.db")
    env = {**os.environ, "OVERSIGHT_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "OVERSIGHT_DATA_DIR": str(tmp_path)}
    env.pop("OVERSIGHT_MODELS_FILE", None)
    return _runner(env)


def test_label_prints_the_contracted_json_and_a_progress_bar(cli, pairs_file):
    proc = cli("rlaif", "label", "--data", str(pairs_file), "--limit", "8", "--json")
    data = json.loads(proc.stdout)
    assert data["n"] == 8
    assert {"estimate", "ci_low", "ci_high"} <= set(data["agreement"])
    assert data["position_flip_rate"]["estimate"] == 0.0  # the extractive labeller reads no order
    assert 0 <= data["longer_preferred_rate"]["estimate"] <= 1
    assert "8/8" in proc.stderr  # progress on stderr, JSON alone on stdout
    text = cli("rlaif", "label", "--data", str(pairs_file), "--limit", "4", "--quiet").stdout
    assert "agreement with the data set's labels" in text and "position-flip rate" in text


def test_reward_model_labeller_versions_study_labels_and_agreement(cli, pairs_file, tmp_path):
    rm = json.loads(cli("rlaif", "reward-model", "--data", str(pairs_file), "--labels", "dataset", "--epochs", "20",
                        "--json", "--quiet").stdout)
    assert rm["accuracy"]["data set"]["n"] == 6 and rm["run_id"] == 1
    version = cli("rlaif", "labeller", "create", "--name", "harmless", "--principle", "The response refuses harm.",
                  "--principle", "The response is polite.").stdout.strip()
    listed = json.loads(cli("rlaif", "labeller", "list", "--json").stdout)
    assert listed[0]["constitution"] == ["The response refuses harm.", "The response is polite."]
    study = cli("study", "create", "--name", "pairs").stdout.strip()
    cli("import", "--study", study, "--format", "hh-rlhf", str(pairs_file))
    stored = json.loads(cli("rlaif", "label", "--study", study, "--version", version, "--limit", "10", "--json",
                            "--quiet").stdout)
    assert stored["n_new"] == 10
    table = json.loads(cli("rlaif", "agreement", "--study", study, "--json").stdout)
    assert table["table"][0]["a"] == "data set" and table["table"][0]["n"] == 10
    ai = json.loads(cli("rlaif", "reward-model", "--study", study, "--labels", f"ai:{version}", "--epochs", "20",
                        "--json", "--quiet").stdout)
    assert ai["label_source"] == f"ai:{version}" and ai["accuracy"]["data set"]["n"] == 6


def test_bad_files_and_sources_fail_with_messages(cli, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join([*harmless_pairs(2), hh_line("q", "same", "same")]) + "\n")
    proc = cli("import", "--study", cli("study", "create", "--name", "x").stdout.strip(), "--format", "hh-rlhf",
               str(bad), ok=False)
    assert proc.returncode == 1 and "bad.jsonl line 3, field 'rejected'" in proc.stderr and "identical" in proc.stderr
    clean = json.loads(cli("rlaif", "clean", "--data", str(bad), "--out", str(tmp_path / "ok.jsonl"), "--json").stdout)
    assert clean["kept"] == 2 and "line 3" in clean["refused"][0]
    proc = cli("rlaif", "reward-model", "--data", str(bad), "--labels", "nonsense", "--quiet", ok=False)
    assert proc.returncode == 1 and "unknown label source" in proc.stderr
