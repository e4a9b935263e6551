"""Weak-to-strong experiments on the database: versioned records (like strategies), runs as jobs, results.

An experiment version is immutable: changing its configuration makes a child version with a reason. A run
executes one version (`runner.run_config`) and stores a `W2SRun` with the figures per method in `summary` and a
`W2SResult` per seed and method with the per-item correctness that the bootstrap resamples.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import select

from oversight.audit import log_event
from oversight.db import session_scope
from oversight.jobs import enqueue
from oversight.w2s.config import W2SConfig
from oversight.w2s.errors import W2SError
from oversight.w2s.runner import Progress, RunOutcome, run_config
from storage.models import Study, W2SExperiment, W2SResult, W2SRun, utcnow

JOB_KIND = "w2s-run"


@dataclass(frozen=True)
class ExperimentRow:
    id: int
    name: str
    version: int
    parent_id: int | None
    reason: str
    config: dict[str, Any]


def _row(e: W2SExperiment) -> ExperimentRow:
    return ExperimentRow(e.id, e.name, e.version, e.parent_id, e.reason, dict(e.config))


def _check(config: W2SConfig) -> W2SConfig:
    config.validate()
    if config.weak_study_id is not None:
        with session_scope(write=False) as s:
            if s.get(Study, config.weak_study_id) is None:
                raise W2SError(f"no study with id {config.weak_study_id}")
    return config


def create_experiment(*, name: str, config: W2SConfig, user_id: int | None = None) -> ExperimentRow:
    """Version 1 of a new experiment."""
    name = name.strip()
    if not name:
        raise W2SError("give the experiment a name")
    _check(config)
    with session_scope() as s:
        if s.exec(select(W2SExperiment.id).where(W2SExperiment.name == name)).first() is not None:
            raise W2SError(f"an experiment named {name!r} exists; make a new version of it instead")
        e = W2SExperiment(name=name, config=config.to_dict(), study_id=config.weak_study_id, created_by=user_id)
        s.add(e)
        s.flush()
        log_event(s, "w2s.experiment.create", user_id=user_id, experiment=e.id, name=name)
        return _row(e)


def new_version(*, parent_id: int, config: W2SConfig, reason: str, user_id: int | None = None) -> ExperimentRow:
    """A child version of an experiment with a changed configuration and the reason for the change."""
    if not reason.strip():
        raise W2SError("say why this version is made")
    _check(config)
    with session_scope() as s:
        parent = s.get(W2SExperiment, parent_id)
        if parent is None:
            raise W2SError(f"no experiment version {parent_id}")
        latest = max(s.exec(select(W2SExperiment.version).where(W2SExperiment.name == parent.name)).all())
        e = W2SExperiment(name=parent.name, version=latest + 1, parent_id=parent.id, reason=reason.strip(),
                          config=config.to_dict(), study_id=config.weak_study_id, created_by=user_id)
        s.add(e)
        s.flush()
        log_event(s, "w2s.experiment.version", user_id=user_id, experiment=e.id, parent=parent.id)
        return _row(e)


def ensure_experiment(*, name: str, config: W2SConfig, user_id: int | None = None) -> ExperimentRow:
    """The latest version of `name` if its configuration is `config`; else a new version (or version 1)."""
    with session_scope(write=False) as s:
        latest = s.exec(select(W2SExperiment).where(W2SExperiment.name == name)
                        .order_by(W2SExperiment.version.desc())).first()
        row = _row(latest) if latest else None
    if row is None:
        return create_experiment(name=name, config=config, user_id=user_id)
    if row.config == config.to_dict():
        return row
    changed = sorted(k for k, v in config.to_dict().items() if row.config.get(k) != v)
    return new_version(parent_id=row.id, config=config, reason=f"changed {', '.join(changed)}", user_id=user_id)


def list_experiments() -> list[ExperimentRow]:
    with session_scope(write=False) as s:
        return [_row(e) for e in s.exec(select(W2SExperiment).order_by(W2SExperiment.name, W2SExperiment.version))]


def get_experiment(experiment_id: int) -> ExperimentRow | None:
    with session_scope(write=False) as s:
        e = s.get(W2SExperiment, experiment_id)
        return _row(e) if e else None


def _store(run_id: int, outcome: RunOutcome) -> dict[str, Any]:
    summary = outcome.summary()
    with session_scope() as s:
        run = s.get(W2SRun, run_id)
        run.state, run.summary, run.seconds, run.finished_at = "done", summary, outcome.seconds, utcnow()
        run.n_train, run.n_test = outcome.n_train, len(outcome.test_keys)
        for r in outcome.results:
            s.add(W2SResult(run_id=run_id, seed=r.seed, method=r.method, weak_accuracy=sum(r.weak) / len(r.weak),
                            w2s_accuracy=sum(r.w2s) / len(r.w2s), ceiling_accuracy=sum(r.ceiling) / len(r.ceiling),
                            test_keys=outcome.test_keys, weak_correct=r.weak, w2s_correct=r.w2s,
                            ceiling_correct=r.ceiling, seconds=r.seconds))
    return summary


def _new_run(experiment_id: int, user_id: int | None) -> int:
    with session_scope() as s:
        if s.get(W2SExperiment, experiment_id) is None:
            raise W2SError(f"no experiment version {experiment_id}")
        run = W2SRun(experiment_id=experiment_id, created_by=user_id)
        s.add(run)
        s.flush()
        log_event(s, "w2s.run.start", user_id=user_id, experiment=experiment_id, run=run.id)
        return run.id


def _fail(run_id: int, error: str) -> None:
    with session_scope() as s:
        run = s.get(W2SRun, run_id)
        run.state, run.error, run.finished_at = "failed", error, utcnow()


def execute(*, experiment_id: int, user_id: int | None = None, progress: Progress | None = None,
            run_id: int | None = None) -> tuple[int, dict[str, Any]]:
    """Run an experiment version here and now (the CLI; the job's body); returns (run id, summary)."""
    experiment = get_experiment(experiment_id)
    if experiment is None:
        raise W2SError(f"no experiment version {experiment_id}")
    run_id = run_id or _new_run(experiment_id, user_id)
    try:
        outcome = run_config(W2SConfig.from_dict(experiment.config), progress=progress)
    except BaseException as exc:
        _fail(run_id, str(exc) or type(exc).__name__)
        raise
    return run_id, _store(run_id, outcome)


def start_run(*, experiment_id: int, user_id: int | None = None) -> int:
    """Run an experiment version as a background job with progress; returns the job id."""
    run_id = _new_run(experiment_id, user_id)
    job_id = enqueue(kind=JOB_KIND, params={"experiment_id": experiment_id, "run_id": run_id}, user_id=user_id)
    with session_scope() as s:
        s.get(W2SRun, run_id).job_id = job_id
    return job_id


def run_job(ctx) -> dict[str, Any]:
    """The "w2s-run" job (see oversight/jobs.py): params experiment_id, run_id."""
    run_id = int(ctx.params["run_id"])
    _, summary = execute(experiment_id=int(ctx.params["experiment_id"]), user_id=ctx.user_id, progress=ctx.progress,
                         run_id=run_id)
    return {"run_id": run_id, "methods": {m: f["pgr"] for m, f in summary["methods"].items()}}


def list_runs(*, experiment_id: int | None = None, limit: int = 50) -> list[W2SRun]:
    with session_scope(write=False) as s:
        q = select(W2SRun).order_by(W2SRun.id.desc()).limit(limit)
        if experiment_id is not None:
            q = q.where(W2SRun.experiment_id == experiment_id)
        return list(s.exec(q).all())


def results_table() -> list[dict[str, Any]]:
    """One row per experiment version and method, from its latest finished run: the three accuracies and PGR with
    their intervals, n and seconds. Newest experiments first."""
    experiments = {e.id: e for e in list_experiments()}
    latest: dict[int, W2SRun] = {}
    for run in list_runs(limit=1000):
        if run.state == "done" and run.experiment_id not in latest:
            latest[run.experiment_id] = run
    rows = []
    for exp_id in sorted(latest, reverse=True):
        e, run = experiments[exp_id], latest[exp_id]
        for method, f in run.summary.get("methods", {}).items():
            rows.append({"experiment": f"{e.name} v{e.version}", "experiment_id": exp_id, "run_id": run.id,
                         "dataset": run.summary.get("dataset"), "supervisor": run.summary.get("supervisor"),
                         "strong": run.summary.get("strong"), "method": method, "weak": f["weak"], "w2s": f["w2s"],
                         "ceiling": f["ceiling"], "pgr": f["pgr"], "pgr_reason": f.get("pgr_reason"),
                         "n_test": f["n_test"], "n_seeds": f["n_seeds"], "seconds": run.seconds})
    return rows
