"""The Weak-to-strong page: admin only, a clear empty state, results with intervals and the PGR chart, and the
form that saves an experiment."""

from __future__ import annotations

import pytest

from oversight.access import auth
from oversight.w2s.config import W2SConfig
from oversight.w2s.experiments import _new_run, _store, create_experiment, list_experiments
from oversight.w2s.runner import RunOutcome, SeedResult
from tests.pages.apptest import run_page


@pytest.fixture
def admin(study):
    return auth.create_user(role="admin", name="ada", password="long enough").id


def test_the_page_refuses_everyone_but_admins(study):
    expert = auth.create_user(role="expert", name="eve", password="long enough").id
    participant = auth.create_invites(study_id=study.id, count=1)[0].user_id
    for user_id in (expert, participant, None):
        at = run_page("w2s", user_id)
        assert at.error and "not available to you" in at.error[0].value
        assert not at.button


def test_empty_state_says_what_to_do(admin):
    at = run_page("w2s", admin)
    assert not at.exception
    assert any("No finished runs yet" in i.value for i in at.info)
    assert any("No experiments yet" in i.value for i in at.info)


def test_a_stored_run_shows_its_figures_and_chart(admin, tmp_path):
    config = W2SConfig(dataset="boolq", train_path=str(tmp_path / "x.jsonl"), weak="bow", methods=["naive"], seeds=2)
    experiment = create_experiment(name="ladder <b>", config=config)
    run_id = _new_run(experiment.id, None)
    outcome = RunOutcome(config=config, n_train=4, test_keys=["a", "b", "c", "d"], results=[
        SeedResult(0, "naive", [1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], 1.0),
        SeedResult(1, "naive", [0, 1, 0, 0], [1, 0, 1, 0], [1, 1, 1, 1], 1.0),
    ], seconds=2.0)
    _store(run_id, outcome)
    at = run_page("w2s", admin)
    assert not at.exception
    table = at.dataframe[0].value
    row = table.iloc[0]
    assert row["experiment"] == "ladder <b> v1"
    assert row["PGR"].startswith("0.400 [")  # seed means 0.25, 0.5, 0.875 -> 0.4
    assert row["weak"].startswith("0.250 [")
    charts = at.get("plotly_chart")
    assert len(charts) == 1


def _upload(at, key: str, name: str, data: bytes):
    at.file_uploader(key=key).set_value((name, data, "application/octet-stream"))


def test_the_form_saves_an_experiment_from_an_uploaded_file(admin, tmp_path):
    """The training file is uploaded, not typed as a server path; the new experiment is listed at once (it used
    to appear only after a reload) and the page shows the file's own name, never where the server keeps it."""
    from oversight.settings import get_settings
    from tests.w2s.conftest import write_boolq

    at = run_page("w2s", admin)
    assert not [t for t in at.text_input if "file" in t.label.lower()]  # no server-path field
    at.text_input[0].input("boolq ladder")
    _upload(at, "w2s-train-upload", "boolq_dev.jsonl", write_boolq(tmp_path / "b.jsonl", 18).read_bytes())
    next(b for b in at.button if b.label == "Save").click().run()
    assert not at.exception and not at.error
    [saved] = list_experiments()
    assert saved.name == "boolq ladder" and saved.config["n_train"] == 400  # 0 in the form: the data set's default
    kept = saved.config["train_path"]
    assert kept.startswith(str(get_settings().data_dir)) and kept.endswith("/boolq_dev.jsonl")
    assert any("Saved boolq ladder v1" in s.value for s in at.success)
    assert not any("No experiments yet" in i.value for i in at.info)  # listed without a reload
    table = next(df.value for df in at.dataframe if "training file" in df.value.columns)
    assert list(table["training file"]) == ["boolq_dev.jsonl"]
    assert any(sb.label == "Experiment version" for sb in at.selectbox)


def test_a_new_version_keeps_the_uploaded_file_unless_another_is_uploaded(admin, tmp_path):
    from tests.w2s.conftest import write_boolq

    at = run_page("w2s", admin)
    at.text_input[0].input("ladder")
    _upload(at, "w2s-train-upload", "first.jsonl", write_boolq(tmp_path / "b.jsonl", 18).read_bytes())
    next(b for b in at.button if b.label == "Save").click().run()
    first = list_experiments()[0]
    at = run_page("w2s", admin)
    at.selectbox[1].set_value(first.id).run()  # "Based on"
    next(t for t in at.text_input if t.label.startswith("Why this version")).input("more seeds")
    next(b for b in at.button if b.label == "Save").click().run()
    assert not at.exception and not at.error
    second = max(list_experiments(), key=lambda e: e.version)
    assert second.version == 2 and second.config["train_path"] == first.config["train_path"]


def test_a_malformed_upload_lands_nothing_and_names_the_uploaded_file(admin):
    from oversight.settings import get_settings

    at = run_page("w2s", admin)
    at.text_input[0].input("broken")
    _upload(at, "w2s-train-upload", "broken.jsonl", b'{"question": "is it", "passage": "x", "answer": true}\nnot json\n')
    next(b for b in at.button if b.label == "Save").click().run()
    assert not at.exception and list_experiments() == []
    [error] = at.error
    assert "broken.jsonl line 2: not valid JSON" in error.value.replace("\\", "")
    data_dir = str(get_settings().data_dir)
    assert data_dir not in error.value and "/tmp" not in error.value
    kept = get_settings().data_dir / "w2s-data"
    assert not kept.exists() or not any(kept.iterdir())  # nothing kept of a refused file


def test_an_upload_over_the_import_limit_gets_the_import_message(admin, monkeypatch):
    from oversight.settings import reset_settings

    monkeypatch.setenv("OVERSIGHT_IMPORT_MAX_BYTES", "1000")
    reset_settings()
    at = run_page("w2s", admin)
    at.text_input[0].input("big")
    _upload(at, "w2s-train-upload", "big.jsonl", b"x" * 2000)
    next(b for b in at.button if b.label == "Save").click().run()
    assert list_experiments() == []
    assert [e.value.replace("\\", "") for e in at.error] == [
        "big.jsonl: is larger than the import limit of 1 KB (setting OVERSIGHT_IMPORT_MAX_BYTES)"]


def test_simulated_participants_from_the_page(admin, study, boolq_file):
    """`w2s simulate-people` without the CLI: the same domain call, a dry-run copy named, and the copy offered as
    the weak supervisor at once."""
    from oversight.importers import import_path
    from oversight.study.studies import list_studies

    import_path(study_id=study.id, fmt="boolq", path=boolq_file)
    at = run_page("w2s", admin)
    next(n for n in at.number_input if n.label == "Participants").set_value(2)
    next(n for n in at.number_input if n.label.startswith("Accuracy")).set_value(1.0)
    next(b for b in at.button if b.label == "Simulate participants").click().run()
    assert not at.exception and not at.error
    copy = next(s for s in list_studies() if s.dry_run_of == study.id)
    assert any(f"2 simulated participants gave 36 answers, 36 right, in dry-run study #{copy.id}"
               in s.value.replace("\\", "") for s in at.success)
    weak = next(sb for sb in at.selectbox if sb.label.startswith("Study (its non-experts"))
    assert any(f"(#{copy.id})" in str(o) for o in weak.options)


def test_simulated_participants_in_a_study_without_items_are_refused_with_no_copy_made(admin, study):
    from oversight.study.studies import list_studies

    at = run_page("w2s", admin)
    next(b for b in at.button if b.label == "Simulate participants").click().run()
    assert not at.exception
    assert [e.value.replace("\\", "") for e in at.error] == [
        f"study {study.id} has no items to answer; import items first"]
    assert [s.id for s in list_studies()] == [study.id]  # no dry-run copy made for nothing


def test_a_new_hh_experiment_from_the_form_gets_the_data_set_s_weak_and_strong_defaults(admin, tmp_path):
    """Empty model fields mean the data set's defaults: an hh-rlhf experiment saved from the page is the
    configuration that shows a gap on CPU (bow on 4 % of the pairs, the frozen MiniLM probe), not BoolQ's models."""
    from tests.w2s.conftest import write_hh

    at = run_page("w2s", admin)
    at.text_input[0].input("hh pairs")
    next(s for s in at.selectbox if s.label == "Data set").set_value("hh-rlhf")
    _upload(at, "w2s-train-upload", "hh.jsonl", write_hh(tmp_path / "hh.jsonl", 12).read_bytes())
    next(b for b in at.button if b.label == "Save").click().run()
    assert not at.exception and not at.error
    [saved] = list_experiments()
    assert (saved.config["weak"], saved.config["strong"], saved.config["weak_fraction"]) == ("bow", "minilm-frozen", 0.04)


def test_the_form_sets_the_fine_tuned_layers_and_which_answers_of_people_count(admin, tmp_path):
    """Every stored setting of an experiment is reachable from the page: the top layers a MiniLM student fine-tunes
    and, with a study as the supervisor, the setting whose answers are weak labels."""
    from tests.w2s.conftest import write_hh

    at = run_page("w2s", admin)
    at.text_input[0].input("layers and setting")
    next(s for s in at.selectbox if s.label == "Data set").set_value("hh-rlhf")
    _upload(at, "w2s-train-upload", "hh.jsonl", write_hh(tmp_path / "hh.jsonl", 12).read_bytes())
    next(n for n in at.number_input if n.label.startswith("MiniLM students")).set_value(2)
    next(s for s in at.selectbox if s.label.startswith("People's answers")).set_value("assisted-qa")
    next(b for b in at.button if b.label == "Save").click().run()
    assert not at.exception and not at.error
    [saved] = list_experiments()
    assert (saved.config["top_layers"], saved.config["weak_setting"]) == (2, "assisted-qa")
