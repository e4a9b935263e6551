"""What the CLI, the page and the jobs run: label pairs (a file or a study), train and evaluate a reward model
from a label source, each returning JSON-ready figures."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from oversight.rlaif.errors import RlaifError
from oversight.rlaif.config import LabellerError, LabellerSpec, get_labeller
from oversight.rlaif.labeller import bias_summary, label_pairs, make_labeller
from oversight.rlaif.pairs import Pair, read_pairs
from oversight.rlaif.reward_model import RewardConfig, split_pairs, train_and_evaluate

Progress = Callable[[int, int, str], None]


class LabSourceError(RlaifError):
    """A label source or data selection that cannot be used; the message is safe to show."""


def resolve_spec(*, model: str | None = None, version_id: int | None = None) -> LabellerSpec:
    """A stored labeller version, or the default constitution and prompt on `model` (default `extractive`)."""
    if version_id is not None:
        return LabellerSpec.from_row(get_labeller(version_id))
    return LabellerSpec(name="default", model=model or "extractive")


def label_file(*, data: str | Path, spec: LabellerSpec, limit: int | None = None,
               progress: Progress | None = None) -> dict:
    """Label the valid pairs of an HH-RLHF file in both orders; agreement with its labels and bias figures."""
    pf = read_pairs(data, skip_invalid=True, limit=limit)
    labels = label_pairs(make_labeller(spec), pf.pairs, progress)
    return {"labeller": spec.label, "data": str(data), "n_refused": len(pf.refused)} | bias_summary(pf.pairs, labels)


def _pairs(data: str | Path | None, study_id: int | None, limit: int | None) -> list[Pair]:
    if (data is None) == (study_id is None):
        raise LabSourceError("give either a pairs file (--data) or a study (--study)")
    if data is not None:
        return read_pairs(data, skip_invalid=True, limit=limit).pairs
    from oversight.rlaif.store import study_pairs

    pairs = study_pairs(study_id=study_id)[: limit or None]
    if not pairs:
        raise LabSourceError(f"study {study_id} has no two-option pair items (import them with format hh-rlhf)")
    return pairs


def targets_for(labels: str, train: list[Pair], *, progress: Progress | None = None) -> dict[str, float]:
    """P(response 0 is better) per training pair key, from `dataset`, `ai:<labeller version id>` or
    `study:<id>` (people's majority label; `study:<id>:participant` or `:expert` for one group)."""
    if labels == "dataset":
        return {p.key: 1.0 if p.preferred == 0 else 0.0 for p in train if p.preferred is not None}
    kind, _, rest = labels.partition(":")
    if kind == "ai" and rest.isdigit():
        spec = resolve_spec(version_id=int(rest))
        stored = {}
        if any(p.item_id is not None for p in train):
            from oversight.rlaif.store import ai_labels, study_of_item

            study_id = study_of_item(next(p.item_id for p in train if p.item_id is not None))
            stored = {f"item/{k}": lab.p_first for k, lab in ai_labels(study_id=study_id, labeller_id=spec.id).items()}
        missing = [p for p in train if p.key not in stored]
        fresh = {lab.key: lab.p_first for lab in label_pairs(make_labeller(spec), missing, progress)} if missing else {}
        return stored | fresh
    if kind == "study":
        sid, _, role = rest.partition(":")
        if not sid.isdigit() or role not in ("", "participant", "expert"):
            raise LabSourceError(f"bad label source {labels!r}: use study:ID, study:ID:participant or study:ID:expert")
        from oversight.rlaif.agreement import majority
        from oversight.rlaif.store import human_ratings

        # "study:ID" is the non-experts' majority: non-experts and experts are never pooled.
        votes = majority(human_ratings(study_id=int(sid))[role or "participant"])
        keys = {p.key for p in train}
        return {f"item/{k}": 1.0 if v == 0 else 0.0 for k, v in votes.items() if f"item/{k}" in keys}
    raise LabSourceError(f"unknown label source {labels!r}: use dataset, ai:VERSION_ID or study:STUDY_ID")


def train_reward_model(*, labels: str, data: str | Path | None = None, study_id: int | None = None,
                       test: str | Path | None = None, limit: int | None = None,
                       config: RewardConfig | None = None, save: bool = True, user_id: int | None = None,
                       progress: Progress | None = None) -> dict:
    """Train a reward model on `labels` and report held-out accuracy against the data set's labels (and the
    experts' for a study's pairs). Held-out pairs: the `test` file, else a seeded share of the pairs."""
    config = config or RewardConfig()
    pairs = _pairs(data, study_id, limit)
    if test is not None:
        train, held_out = pairs, read_pairs(test, skip_invalid=True).pairs
    else:
        train, held_out = split_pairs(pairs, config.test_fraction, config.seed)
    targets = targets_for(labels, train, progress=progress)
    evaluations = {"data set": {p.key: p.preferred for p in held_out if p.preferred is not None}}
    if any(p.item_id is not None for p in held_out):
        from oversight.rlaif.agreement import majority
        from oversight.rlaif.store import human_ratings

        experts = majority(human_ratings(study_id=study_id)["expert"])
        evaluations["experts"] = {p.key: experts[p.item_id] for p in held_out if p.item_id in experts}
    encoder = None
    if config.backend == "encoder":
        encoder = _encoder()
    model, result = train_and_evaluate(train=train, targets=targets, evaluations=evaluations, test=held_out,
                                       config=config, encoder=encoder, progress=progress)
    result = {"label_source": labels, "data": str(data) if data else None, "study_id": study_id,
              "test": str(test) if test else "seeded split", "backend": config.backend} | result
    if save:
        from oversight.rlaif.store import save_reward_run

        run_id = save_reward_run(label_source=labels, backend=config.backend, params=asdict(config), result=result,
                                 study_id=study_id, user_id=user_id)
        result["run_id"] = run_id
        if config.backend == "encoder":
            result["weights"] = str(reward_weights_path(run_id))
            model.save(reward_weights_path(run_id))
    return result


METHODS = ("best-of-n", "dpo", "critique")


def load_reward_model(run_id: int):
    """The trained encoder reward model of a stored run, as a `reward(conversations, responses)` function."""
    from oversight.db import session_scope
    from oversight.rlaif.reward_model import EncoderRewardModel
    from storage.models import RewardModelRun

    with session_scope(write=False) as s:
        run = s.get(RewardModelRun, run_id)
    if run is None or run.backend != "encoder" or not reward_weights_path(run_id).is_file():
        raise LabSourceError(f"reward-model run {run_id} has no saved encoder weights (train one with "
                             "`rlaif reward-model`)")
    return EncoderRewardModel.load(reward_weights_path(run_id), _encoder()).score


def improve_policy(*, method: str, policy: str, data: str | Path | None = None, study_id: int | None = None,
                   spec: LabellerSpec | None = None, reward_run: int | None = None, n: int = 4,
                   labels: str | None = None, limit: int | None = None, n_eval: int = 20,
                   max_new_tokens: int = 128, rounds: int = 1, dpo: dict | None = None,
                   comparison_file: str | Path | None = None, progress: Progress | None = None) -> dict:
    """Improve the configured model `policy` by `method` and score it against the base on held-out
    conversations by the labeller's win rate (both orders). `labels` (DPO) names the label source of the
    training pairs; `reward_run` (best-of-N) a stored encoder reward model."""
    from oversight.models import get_model
    from oversight.rlaif import policy as runs
    from oversight.rlaif.reward_model import split_pairs

    if method not in METHODS:
        raise LabSourceError(f"unknown method {method!r}; methods are {', '.join(METHODS)}")
    spec = spec or resolve_spec()
    labeller = make_labeller(spec)
    pairs = _pairs(data, study_id, limit)
    train, held_out = split_pairs(pairs, 0.25)
    conversations = list(dict.fromkeys(p.conversation for p in held_out))[:n_eval]
    if method == "best-of-n":
        if reward_run is None:
            raise LabSourceError("best-of-N needs a reward model: give the id of a reward-model run")
        result = runs.run_best_of_n(policy=get_model(policy), reward=load_reward_model(reward_run),
                                    conversations=conversations, n=n, labeller=labeller,
                                    max_new_tokens=max_new_tokens, progress=progress)
    elif method == "critique":
        result = runs.run_critique(policy=get_model(policy), conversations=conversations, labeller=labeller,
                                   rounds=rounds, max_new_tokens=max_new_tokens, progress=progress)
    else:
        from oversight.models.registry import get_config

        cfg = get_config().models.get(policy)
        if cfg is None or cfg.backend != "hf" or not cfg.model:
            raise LabSourceError(f"DPO needs an hf model with a local path; {policy!r} is not one")
        targets = targets_for(labels or "dataset", train, progress=progress)
        result = runs.run_dpo(policy_path=cfg.model, train=train, targets=targets, conversations=conversations,
                              labeller=labeller, max_new_tokens=max_new_tokens, progress=progress, **(dpo or {}))
        result["label_source"] = labels or "dataset"
    result["labeller"] = spec.label
    if comparison_file:
        result["comparison_file"] = str(comparison_file)
        result["comparison_lines"] = runs.write_comparison_file(
            comparison_file, [e["conversation"] for e in result["all"]], [e["improved"] for e in result["all"]],
            [e["base"] for e in result["all"]])
    result.pop("all", None)
    return result


def reward_weights_path(run_id: int) -> Path:
    from oversight.settings import get_settings

    folder = get_settings().data_dir / "rlaif"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"reward-{run_id}.pt"


def _encoder():
    """The configured `extractive` model (shares its loaded encoder), else the shipped encoder."""
    from oversight.models import create_backend, get_model
    from oversight.models.config import ExtractiveConfig
    from oversight.models.registry import get_config

    cfg = get_config().models.get("extractive")
    if cfg is not None and cfg.backend == "extractive":
        return get_model("extractive")
    return create_backend(ExtractiveConfig(name="rlaif-encoder"))


__all__ = ["LabSourceError", "LabellerError", "label_file", "resolve_spec", "targets_for", "train_reward_model"]
