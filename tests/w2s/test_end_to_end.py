"""A tiny end-to-end run on a handful of items: model supervisor and simulated people, stored, through the CLI."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select

from oversight.cli import main
from oversight.db import session_scope
from oversight.importers import import_path
from oversight.w2s.config import W2SConfig
from oversight.w2s.errors import W2SError
from oversight.w2s.data import split_labelled, study_labelled
from oversight.w2s.experiments import create_experiment, ensure_experiment, execute, new_version, results_table
from oversight.w2s.runner import run_config
from oversight.w2s.simulated_people import simulate_participants
from storage.models import Judgment, W2SResult, W2SRun

TINY = dict(n_train=12, n_test=6, seeds=2, epochs=1, batch_size=4, max_len=48, bootstrap=200)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, migrated_sqlite):
    """One stored run of the shared tiny configuration (two seeds, both methods) on a database of this module's
    own: training is the slow part, so the tests below read this one run and each checks its own promise."""
    from tests.conftest import fresh_database
    from tests.w2s.conftest import write_boolq

    tmp = tmp_path_factory.mktemp("w2s-trained")
    with fresh_database(tmp, migrated_sqlite):
        config = W2SConfig(dataset="boolq", train_path=str(write_boolq(tmp / "boolq_dev.jsonl", 18)), weak="bow",
                           **TINY)
        experiment = create_experiment(name="tiny", config=config)
        seen = []
        run_id, summary = execute(experiment_id=experiment.id, progress=lambda done, total, msg: seen.append(
            (done, total)))
        with session_scope(write=False) as s:
            run = s.get(W2SRun, run_id)
            results = s.exec(select(W2SResult).where(W2SResult.run_id == run_id)).all()
        yield {"run": run, "summary": summary, "results": results, "progress": seen, "table": results_table()}


@pytest.mark.slow
def test_a_model_supervisor_run_reports_three_accuracies_and_pgr_per_method(trained):
    summary = trained["summary"]
    assert summary["n_test"] == 6 and summary["n_train"] == 12
    assert set(summary["methods"]) == {"naive", "logconf"}
    for figs in summary["methods"].values():
        for name in ("weak", "w2s", "ceiling"):
            assert 0 <= figs[name]["ci_low"] <= figs[name]["estimate"] <= figs[name]["ci_high"] <= 1
        assert figs["n_seeds"] == 2
        assert (figs["pgr"]["estimate"] is None) == (figs["pgr_reason"] is not None)
    assert len(trained["results"]) == 2 * 2  # seeds x methods
    # the weak supervisor and the ceiling are trained once per seed and shared by both methods
    by_seed = {}
    for r in trained["results"]:
        by_seed.setdefault(r.seed, []).append(r)
    assert len(by_seed) == 2
    for rows in by_seed.values():
        assert rows[0].weak_correct == rows[1].weak_correct and rows[0].ceiling_correct == rows[1].ceiling_correct
    seen = trained["progress"]
    assert seen[-1][0] == seen[-1][1]  # progress reached the end
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


@pytest.mark.slow
def test_runs_are_stored_with_per_item_results(trained):
    run, summary, results = trained["run"], trained["summary"], trained["results"]
    assert run.state == "done" and run.n_test == 6 and run.summary == summary
    for r in results:
        assert len(r.test_keys) == len(r.weak_correct) == len(r.w2s_correct) == 6
        assert r.w2s_accuracy == pytest.approx(sum(r.w2s_correct) / 6)
    rows = trained["table"]
    assert sorted((r["experiment"], r["method"]) for r in rows) == [("tiny v1", "logconf"), ("tiny v1", "naive")]
    for row in rows:
        assert row["w2s"] == summary["methods"][row["method"]]["w2s"]


@pytest.mark.slow
def test_multiple_choice_items_are_scored_per_choice(cosmos_file):
    config = W2SConfig(dataset="cosmos", train_path=str(cosmos_file), weak="minilm-frozen", methods=["logconf"],
                       **{**TINY, "n_test": 4, "seeds": 1})
    summary = run_config(config).summary()
    assert summary["n_test"] == 4
    assert set(summary["methods"]) == {"logconf"}


def test_experiments_are_versioned(db, boolq_file):
    config = W2SConfig(dataset="boolq", train_path=str(boolq_file), **TINY)
    v1 = create_experiment(name="exp", config=config)
    assert ensure_experiment(name="exp", config=config).id == v1.id  # same settings: the same version
    changed = W2SConfig.from_dict({**config.to_dict(), "seeds": 3})
    v2 = ensure_experiment(name="exp", config=changed)
    assert (v2.version, v2.parent_id, v2.reason) == (2, v1.id, "changed seeds")
    with pytest.raises(W2SError, match="exists"):
        create_experiment(name="exp", config=config)
    with pytest.raises(W2SError, match="why"):
        new_version(parent_id=v1.id, config=config, reason=" ")


def test_a_failed_run_is_marked_failed(db, tmp_path):
    missing = tmp_path / "nope.jsonl"
    experiment = create_experiment(name="broken", config=W2SConfig(dataset="boolq", train_path=str(missing), **TINY))
    with pytest.raises(W2SError, match="file not found"):
        execute(experiment_id=experiment.id)
    with session_scope(write=False) as s:
        run = s.exec(select(W2SRun)).one()
    assert run.state == "failed" and "file not found" in run.error


def _dry_run(name: str):
    """A dry-run study (a copy of a real one): where simulated people may answer."""
    from oversight.study.studies import create_study
    from storage.models import Study

    real = create_study(name=f"{name} (real)", user_id=None)
    study = create_study(name=name, user_id=None)
    with session_scope() as s:
        s.get(Study, study.id).dry_run_of = real.id
    return study


def _study_with_people(boolq_file, accuracy: float, confidence: float, participants: int = 2) -> int:
    study = _dry_run("people")
    import_path(study_id=study.id, fmt="boolq", path=boolq_file)
    simulate_participants(study_id=study.id, participants=participants, accuracy=accuracy, confidence=confidence)
    return study.id


def test_simulated_people_leave_final_judgments_with_the_planted_accuracy(db, boolq_file):
    study_id = _study_with_people(boolq_file, accuracy=1.0, confidence=0.9)
    with session_scope(write=False) as s:
        judgments = s.exec(select(Judgment)).all()
    assert len(judgments) == 2 * 18
    assert all(j.is_final and j.judge_kind == "human" and max(j.probabilities) == pytest.approx(0.9)
               for j in judgments)
    examples, labels = study_labelled("boolq", study_id)
    assert len(examples) == 18
    assert all(labels[e.key][e.label] == pytest.approx(0.9) for e in examples)  # both right: the mean is 0.9


@pytest.mark.slow
def test_people_as_supervisor_weak_accuracy_is_theirs_and_test_items_are_held_apart(db, boolq_file):
    study_id = _study_with_people(boolq_file, accuracy=0.0, confidence=0.7)  # always wrong
    config = W2SConfig(dataset="boolq", weak_study_id=study_id, methods=["naive"], **TINY)
    outcome = run_config(config)
    figs = outcome.summary()["methods"]["naive"]
    assert figs["weak"]["estimate"] == 0.0
    assert outcome.summary()["supervisor"] == f"study {study_id} participants"
    train, test = split_labelled(study_labelled("boolq", study_id)[0], config.n_train, config.n_test)
    assert outcome.test_keys == [e.key for e in test]
    assert not {e.key for e in train} & set(outcome.test_keys)


@pytest.mark.slow
def test_cli_prints_the_figures_as_json(db, boolq_file, capsys):
    code = main(["w2s", "run", "--dataset", "boolq", "--train", str(boolq_file), "--weak", "bow", "--method",
                 "logconf", "--seeds", "2", "--n-train", "12", "--n-test", "6", "--epochs", "1", "--batch-size", "4",
                 "--max-len", "48", "--quiet", "--json"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    for key in ("weak", "w2s", "ceiling", "pgr"):
        assert set(data[key]) >= {"estimate", "ci_low", "ci_high"}
    assert data["n_test"] == 6 and data["method"] == "logconf" and data["seconds"] > 0


def test_simulated_people_answer_a_dry_run_copy_never_the_real_study(db, boolq_file):
    from oversight.study.studies import create_study
    from storage.models import Study, User

    study = create_study(name="real", user_id=None)
    import_path(study_id=study.id, fmt="boolq", path=boolq_file)
    summary = simulate_participants(study_id=study.id, participants=1, accuracy=1.0)
    with session_scope(write=False) as s:
        assert s.exec(select(User).where(User.study_id == study.id)).all() == []  # the real study is untouched
        assert s.get(Study, summary.study_id).dry_run_of == study.id
        people = s.exec(select(User).where(User.study_id == summary.study_id)).all()
        assert [u.external_study_id for u in people] == ["simulated"] and summary.answers > 0
    dry = _study_with_people(boolq_file, accuracy=1.0, confidence=0.9, participants=1)
    with session_scope(write=False) as s:
        assert {u.external_study_id for u in s.exec(select(User).where(User.study_id == dry)).all()} == {"simulated"}


@pytest.mark.slow
def test_cli_simulates_people_and_runs_on_their_labels(db, boolq_file, capsys):
    study = _dry_run("cli people")
    import_path(study_id=study.id, fmt="boolq", path=boolq_file)
    assert main(["w2s", "simulate-people", "--study", str(study.id), "--participants", "1", "--accuracy", "1",
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["correct"] == 18
    assert main(["w2s", "run", "--dataset", "boolq", "--weak-study", str(study.id), "--method", "naive", "--seeds",
                 "1", "--n-train", "12", "--n-test", "6", "--epochs", "1", "--batch-size", "4", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "weak 1.000" in out and "PGR" in out


@pytest.mark.parametrize("argv, message", [
    (["--train", "x.jsonl", "--weak", "bow", "--weak-study", "1"], "not both"),
    ([], "give --train"),
    (["--train", "missing.jsonl"], "file not found"),
    (["--train", "x.jsonl", "--method", "product"], "methods must be among"),
    (["--weak-study", "999"], "no study with id 999"),
])
def test_cli_bad_input_gets_a_clear_message(db, capsys, argv, message):
    assert main(["w2s", "run", "--dataset", "boolq", "--quiet", *argv]) == 1
    assert message in capsys.readouterr().err


def test_simulated_people_bounds_are_the_domain_s_for_cli_and_page(db, boolq_file):
    """One rule for `w2s simulate-people` and the page: a count of people within bounds, a study with items."""
    from oversight.study.studies import create_study

    study = create_study(name="empty", user_id=None)
    with pytest.raises(W2SError, match="no items to answer"):
        simulate_participants(study_id=study.id, participants=1, accuracy=0.7)
    import_path(study_id=study.id, fmt="boolq", path=boolq_file)
    for bad in (0, 10_000):
        with pytest.raises(W2SError, match="participants must be between 1 and"):
            simulate_participants(study_id=study.id, participants=bad, accuracy=0.7)


def test_people_as_supervisor_read_only_results_of_people_alone(db, boolq_file):
    """The weak labels are results (results_filter) given alone: an answer from an assisted condition (here one
    participant's task turned into a debate) is no weak label unless that setting is chosen."""
    from storage.models import Assignment

    study_id = _study_with_people(boolq_file, accuracy=1.0, confidence=0.9)  # both people right on every item
    with session_scope() as s:
        first = s.exec(select(Judgment).order_by(Judgment.id)).first()
        s.get(Assignment, first.assignment_id).protocol = "debate"
        first.probabilities = [0.1, 0.9] if first.probabilities[0] > 0.5 else [0.9, 0.1]  # wrong, after help
        assisted_item = first.item_id
    examples, labels = study_labelled("boolq", study_id)
    assert len(examples) == 18
    assert all(labels[e.key][e.label] == pytest.approx(0.9) for e in examples)  # the debate answer is left out
    examples, labels = study_labelled("boolq", study_id, setting="debate")
    assert [e.key for e in examples] == [f"item/{assisted_item}"]
    assert labels[f"item/{assisted_item}"][examples[0].label] == pytest.approx(0.1)


@pytest.mark.slow
def test_cli_runs_hh_rlhf_pairs_end_to_end_and_a_rerun_trains_nothing(db, tmp_path, capsys):
    from tests.w2s.conftest import write_hh

    train, test = write_hh(tmp_path / "train.jsonl", 16, seed=1), write_hh(tmp_path / "test.jsonl", 6, seed=2)
    argv = ["w2s", "run", "--dataset", "hh-rlhf", "--train", str(train), "--test", str(test), "--seeds", "2",
            "--n-train", "12", "--epochs", "1", "--batch-size", "4", "--max-len", "48", "--quiet", "--json"]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["dataset"] == "hh-rlhf" and data["supervisor"] == "bow" and data["n_test"] == 6
    for key in ("weak", "w2s", "ceiling", "gap", "pgr"):
        assert set(data[key]) >= {"estimate", "ci_low", "ci_high"}
    assert data["gap"]["estimate"] == pytest.approx(data["ceiling"]["estimate"] - data["weak"]["estimate"])
    assert data["trainings"] == {"trained": 2 * 4, "reused": 0}  # per seed: weak, ceiling, naive, logconf
    assert main(argv) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["trainings"] == {"trained": 0, "reused": 8}
    assert again["w2s"] == data["w2s"] and again["run_id"] != data["run_id"]


def test_hh_defaults_train_the_weak_bag_of_words_on_its_small_share_and_the_frozen_probe_on_the_rest(
        tmp_path, monkeypatch):
    """The hh-rlhf default: the weak supervisor learns from `weak_fraction` of the training pairs, the strong
    student and the ceiling (the frozen MiniLM probe) from all the others."""
    from oversight.w2s import students
    from oversight.w2s.cache import TrainingCache
    from tests.w2s.conftest import write_hh

    sizes: dict[str, list[int]] = {}
    for cls in (students.BagOfWords, students.FrozenEncoderProbe):
        def spy(self, examples, *args, _fit=cls.fit, **kwargs):
            sizes.setdefault(self.name, []).append(len(examples))
            return _fit(self, examples, *args, **kwargs)
        monkeypatch.setattr(cls, "fit", spy)
    config = W2SConfig.for_dataset("hh-rlhf", train_path=str(write_hh(tmp_path / "train.jsonl", 40)),
                                   test_path=str(write_hh(tmp_path / "test.jsonl", 6, seed=2)), n_train=30,
                                   weak_fraction=0.2, seeds=1, max_len=48, bootstrap=200)
    outcome = run_config(config, cache=TrainingCache(tmp_path / "cache"))
    assert sizes == {"bow": [6], "minilm-frozen": [24, 24, 24]}  # weak; ceiling, naive and logconf students
    assert outcome.summary()["strong"] == "minilm-frozen"
