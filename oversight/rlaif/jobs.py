"""The RLAIF lab's jobs (see oversight/jobs.py): each takes its JSON params from the Job row."""

from __future__ import annotations

from oversight.jobs import JobContext
from oversight.rlaif.config import LabellerSpec, get_labeller
from oversight.rlaif.lab import improve_policy, train_reward_model
from oversight.rlaif.reward_model import RewardConfig
from oversight.rlaif.store import label_study


def label_job(ctx: JobContext) -> dict:
    """params: labeller_id, limit. Pairs labelled by an earlier attempt are skipped."""
    return label_study(study_id=ctx.study_id, labeller_id=int(ctx.params["labeller_id"]),
                       limit=ctx.params.get("limit") or None, progress=ctx.progress)


def reward_model_job(ctx: JobContext) -> dict:
    """params: labels (a label source), epochs."""
    return train_reward_model(labels=ctx.params["labels"], study_id=ctx.study_id, user_id=ctx.user_id,
                              config=RewardConfig(epochs=int(ctx.params.get("epochs") or RewardConfig().epochs)),
                              progress=ctx.progress)


def improve_job(ctx: JobContext) -> dict:
    """params: method, policy, labeller (id, judges the win rate), reward_run, n, labels, n_eval."""
    p = ctx.params
    spec = LabellerSpec.from_row(get_labeller(int(p["labeller"]))) if p.get("labeller") else None
    return improve_policy(method=p["method"], policy=p["policy"], study_id=ctx.study_id, spec=spec,
                          reward_run=p.get("reward_run"), n=int(p.get("n") or 4), labels=p.get("labels"),
                          n_eval=int(p.get("n_eval") or 20), progress=ctx.progress)
