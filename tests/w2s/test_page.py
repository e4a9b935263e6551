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


def test_the_form_saves_an_experiment(admin):
    at = run_page("w2s", admin)
    at.text_input[0].input("boolq ladder")
    at.text_input[2].input("/data/boolq/dev.jsonl")
    at.button[-1].click().run()  # the form's Save (no experiment yet, so no Start run button)
    assert not at.exception and not at.error
    [saved] = list_experiments()
    assert saved.name == "boolq ladder" and saved.config["train_path"] == "/data/boolq/dev.jsonl"
    assert saved.config["n_train"] == 400  # 0 in the form: the data set's default
