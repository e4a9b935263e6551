"""Simulated participants and experts: dry-run a study's design before paying anyone, and prove the statistics.

A simulation never writes into the study it is asked about: it first copies the study's design into a dry-run
study (`oversight.study.dry_run`: settings, items with gold, practice and catch items, conditions, strategies with their
versions, rubric; `Study.dry_run_of` = the original) and runs there, with simulated experts of its own
(`User.study_id` = the copy). The copy's figures count its simulated people (`oversight.results.results_filter`).

Scripted people with a known, planted skill go through the same domain functions a person's clicks go through:
`participation.next_task` deals them tasks (the study's real balanced design), a task under a strategy runs its live
transcript, stepped by the one driver (`oversight.protocols.driver.drive`) with the person's part played by a
`PersonBot` (the study's real models write the speeches and the assistant's replies), answers go in through
`live.submit_report` / `participation.submit_answer`, experts review through `reviews.submit_review` and
participants answer the inner loop's questionnaire. The model-alone condition runs the study's real model.

Planted skill: a non-expert alone chooses the gold option with probability `alone`, with the model (any strategy
version) `assisted`, an expert `expert`. By default answers are calibrated: the probability put on the chosen answer
is drawn around the planted accuracy. With `confidence` C every planted answer puts exactly C on the chosen option
and shares the rest equally (`vocab.probabilities_from_confidence`), as a hesitant person does: on a 4-option item
C = 0.4 is still correct when the chosen option is the gold one (`vocab.is_correct`: gold strictly likeliest),
which exercises the scoring rule. A reviewer labels an outcome correctly with probability `review_accuracy`
(independently), so two reviewers' expected agreement, and so Krippendorff's alpha, follow from it
(`planted_alpha`).

Only the simulator reads gold answers (to plant skill); the people it plays never receive them. Simulated people
carry `external_study_id = "simulated"`, and every figure built on them says so.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import select

from oversight.access import auth
from oversight.audit import log_event
from oversight.jobs import enqueue
from oversight.study import participation
from oversight.sandwiching import reviews
from oversight.db import session_scope
from oversight.study.dry_run import copy_for_dry_run
from oversight.protocols.base import RuleViolation
from oversight.protocols.batch import run_batch
from oversight.protocols.bots import PersonBot
from oversight.protocols.driver import drive
from oversight.vocab import SIMULATED
from storage.models import Assignment, Condition, Item, ItemGold, Study, User

Progress = Callable[[int, int, str], None]


class SimulationError(Exception):
    """A simulation that cannot run on this study; the message is safe to show."""


@dataclass(frozen=True)
class Skill:
    alone: float = 0.55
    assisted: float = 0.75
    expert: float = 0.9
    review_accuracy: float = 0.9  # chance a reviewer labels an outcome's correctness right
    calibration_sd: float = 0.05  # spread of the stated confidence around the planted accuracy
    confidence: float | None = None  # every planted answer puts this on its chosen option (None: calibrated)

    def __post_init__(self) -> None:
        for name in ("alone", "assisted", "expert", "review_accuracy"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise SimulationError(f"{name} must be a probability between 0 and 1 (got {value})")
        if self.confidence is not None and not 0.0 < self.confidence <= 1.0:
            raise SimulationError(f"confidence must be above 0 and at most 1 (got {self.confidence})")

    def accuracy(self, kind: str) -> float | None:
        return {"alone": self.alone, "assisted": self.assisted, "expert": self.expert}.get(kind)


@dataclass
class SimulationRun:
    study_id: int  # the dry-run copy the simulation ran in
    source_study_id: int | None = None  # the study it copies (never written to)
    participants: list[int] = field(default_factory=list)
    experts: list[int] = field(default_factory=list)
    answers: int = 0
    reviews: int = 0
    model_items: int = 0
    proposals: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def planted_alpha(truth_share: float, review_accuracy: float) -> float:
    """Expected Krippendorff's alpha (≈ Cohen's kappa for large n) of two independent reviewers who each label an
    outcome's correctness right with probability `review_accuracy`, when a share `truth_share` is truly correct."""
    r, q = review_accuracy, truth_share
    said_correct = q * r + (1 - q) * (1 - r)
    observed = r * r + (1 - r) * (1 - r)
    expected = said_correct ** 2 + (1 - said_correct) ** 2
    return (observed - expected) / (1 - expected) if expected < 1 else float("nan")


def _people(study_id: int, n: int, role: str) -> list[int]:
    """Make `n` simulated people of `role` in the study (participants by link token, experts by password)."""
    ids = []
    if role == "participant":
        for invite in auth.create_invites(study_id=study_id, count=n):
            ids.append(invite.user_id)
    else:
        for _ in range(n):
            user = auth.create_user(role="expert", name=f"sim-expert-{secrets.token_hex(3)}",
                                    password=secrets.token_urlsafe(16))
            ids.append(user.id)
    with session_scope() as s:
        for uid in ids:
            user = s.get(User, uid)
            user.external_study_id = SIMULATED
            user.study_id = study_id  # a simulated expert belongs to its dry run, not to every study
            user.name = f"sim-{user.name}" if not user.name.startswith("sim-") else user.name
    if role == "participant":
        for uid in ids:
            participation.record_consent(user_id=uid)
    return ids


def _task_facts(assignment_id: int) -> tuple[str, bool, int, int]:
    """The simulator's view of a task: its condition's kind ("catch" for an attention check), whether it is
    practice, the gold and option count."""
    with session_scope(write=False) as s:
        a = s.get(Assignment, assignment_id)
        condition = s.get(Condition, a.condition_id) if a.condition_id else None
        item = s.get(Item, a.item_id)
        gold = s.get(ItemGold, a.item_id)
        return ("catch" if a.catch else condition.kind if condition else "alone", a.practice, gold.gold_index if gold else 0,
                len(item.options))


def _answer_all(user_id: int, skill: Skill, rng: random.Random, run: SimulationRun, *,
                study_id: int | None = None) -> None:
    while (task := participation.next_task(user_id=user_id, study_id=study_id)) is not None:
        kind, practice, gold, n_options = _task_facts(task.assignment_id)
        # Simulated people are attentive: they pass the attention checks (catch items), so none is excluded.
        accuracy = 1.0 if kind == "catch" else skill.accuracy(kind)
        bot = PersonBot.planted(rng, n_options=n_options, gold=gold,
                                accuracy=0.5 if practice or accuracy is None else accuracy, sd=skill.calibration_sd,
                                confidence=skill.confidence, user_id=user_id)
        try:
            if task.transcript_id is not None:
                drive(task.transcript_id, bot)  # the task's protocol says what each step asks of the person
            else:
                answer = bot.answer(None, final=True)
                participation.submit_answer(user_id=user_id, assignment_id=task.assignment_id,
                                            probabilities=answer.probabilities, rationale=answer.rationale,
                                            answer_form=answer.answer_form)
            run.answers += 1
        except (RuleViolation, participation.ParticipationError, SimulationError) as exc:
            run.errors.append(f"assignment {task.assignment_id}: {exc}")
            _skip(task.assignment_id)


def _skip(assignment_id: int) -> None:
    """A task the simulation could not finish is skipped (as a timed-out one is), so the next one is dealt."""
    with session_scope() as s:
        a = s.get(Assignment, assignment_id)
        if a.state != "done":
            a.state = "skipped"


PROPOSAL = ("assistant_instructions", "Quote the sentence of the passage that decides the answer, then say why.",
            "I could not tell which part of the text the assistant was relying on.")


def _propose(user_id: int, run: SimulationRun) -> None:
    """The first simulated participant who worked with a model proposes a refinement (the inner loop's input)."""
    from oversight.sandwiching import inner_loop

    versions = [sid for sid, _ in inner_loop.proposable_versions(user_id)]
    if versions and not run.proposals:
        run.proposals.append(inner_loop.propose(user_id, versions[0], *PROPOSAL))


def _questionnaires(user_id: int, skill: Skill, rng: random.Random) -> None:
    from oversight.sandwiching import inner_loop

    for due in inner_loop.questionnaire_due(user_id):
        kind = due.kind
        accuracy = skill.accuracy(kind) or 0.5
        sure = max(1, min(5, round(1 + 4 * accuracy + rng.gauss(0, 0.5))))
        gain = skill.assisted - skill.alone
        helped = max(1, min(5, round(1 + 8 * gain + rng.gauss(1.5, 0.7)))) if due.with_model else None
        change = "" if rng.random() < 0.7 else "Let me ask the model follow-up questions."
        inner_loop.submit_questionnaire(user_id=user_id, condition_id=due.condition_id, helped=helped, sure=sure,
                                        change=change)


def _review_labels(correct: bool, assisted: bool, confident: bool, skill: Skill, rng: random.Random,
                   fields: list[dict[str, Any]]) -> dict[str, Any]:
    """A simulated reviewer's labels on the study's rubric: the outcome right with the planted reviewer accuracy,
    the default rubric's other fields as a reviewer would plausibly rate them, any other field at random (flags
    unset)."""
    from oversight.sandwiching.rubrics import asked

    seen_correct = correct if rng.random() < skill.review_accuracy else not correct
    planted: dict[str, Any] = {"outcome": "correct" if seen_correct else "incorrect",
                               "persuaded_wrong_confident": bool(not correct and confident), "bias": False,
                               "help_quality": max(1, min(5, round(rng.gauss(3.5 if correct else 2.5, 0.8)))),
                               "misled": bool(not correct and rng.random() < 0.5),
                               "quotes_out_of_context": rng.random() < 0.1}
    labels: dict[str, Any] = {}
    for f in asked(fields, with_model=assisted):  # fields about the model only where one took part
        name = f["name"]
        if planted.get(name) in f["choices"]:
            labels[name] = planted[name]
        else:
            labels[name] = False if f["kind"] == "flag" else rng.choice(f["choices"])
    return labels


def _review(study_id: int, expert_ids: list[int], skill: Skill, rng: random.Random, run: SimulationRun,
            progress: Progress | None) -> None:
    """Each expert works through their review queue (unreviewed first, then the study's share of second
    reviews), labelling each outcome with the planted reviewer accuracy."""
    from oversight.sandwiching.rubrics import current_rubric

    truth = _outcomes(study_id)
    fields = current_rubric(study_id).fields if expert_ids else []
    for k, expert_id in enumerate(expert_ids):
        if progress:
            progress(k, len(expert_ids), "experts reviewing")
        for entry in reviews.review_queue(study_id=study_id, expert_id=expert_id):
            correct, assisted, confident = truth.get(entry.assignment_id, (False, False, False))
            try:
                reviews.submit_review(assignment_id=entry.assignment_id, expert_id=expert_id,
                                      labels=_review_labels(correct, assisted, confident, skill, rng, fields),
                                      notes="Simulated expert.")
                run.reviews += 1
            except reviews.ReviewError as exc:
                run.errors.append(f"review of assignment {entry.assignment_id}: {exc}")


def _outcomes(study_id: int) -> dict[int, tuple[bool, bool, bool]]:
    """Per finished assignment: whether its final answer was right, whether a model helped, and whether the
    answer was confident (p > 0.8 on the chosen answer)."""
    from oversight.vocab import is_correct
    from storage.models import Judgment

    with session_scope(write=False) as s:
        rows = s.exec(select(Assignment, Judgment, ItemGold, Condition)
                      .join(Judgment, Judgment.assignment_id == Assignment.id)
                      .join(ItemGold, ItemGold.item_id == Assignment.item_id)
                      .join(Condition, Condition.id == Assignment.condition_id, isouter=True)
                      .where(Assignment.study_id == study_id, Judgment.is_final, Judgment.judge_kind == "human")
                      ).all()
    return {a.id: (is_correct(j.probabilities, g.gold_index, j.answer_index),
                   c is not None and c.kind == "assisted", max(j.probabilities or [0]) > 0.8)
            for a, j, g, c in rows}


def _check_confidence(s, study_id: int, confidence: float | None) -> None:
    """A stated confidence must make the chosen option the likeliest on every item, or no answer is correct."""
    if confidence is None:
        return
    most = max((len(o) for o in s.exec(select(Item.options).where(Item.of_study(study_id))).all()), default=2)
    if confidence <= 1 / most:
        raise SimulationError(f"a confidence of {confidence:g} does not make the chosen option the likeliest on the "
                              f"study's {most}-option items: choose more than 1/{most} = {1 / most:.3g}")


def check_simulation(*, study_id: int, participants: int, skill: Skill, experts: int) -> None:
    """Everything a simulation checks before it writes anything (the CLI's `simulate` and the page's dry run):
    the counts, the study, a non-expert condition, and a stated confidence the items allow."""
    if not 1 <= participants <= 2000:
        raise SimulationError("simulate between 1 and 2000 participants")
    if not 0 <= experts <= 50:
        raise SimulationError("simulate between 0 and 50 experts")
    with session_scope(write=False) as s:
        if s.get(Study, study_id) is None:
            raise SimulationError(f"no study with id {study_id}")
        kinds = set(s.exec(select(Condition.kind).where(Condition.study_id == study_id)).all())
        _check_confidence(s, study_id, skill.confidence)
    if not kinds & {"alone", "assisted"}:
        raise SimulationError("the study has no condition for non-experts (alone or assisted): add one on the "
                              "Study settings page or with `python -m oversight conditions add`")


def simulate(*, study_id: int, participants: int, skill: Skill = Skill(), experts: int = 2, seed: int = 0,
             progress: Progress | None = None, user_id: int | None = None) -> SimulationRun:
    """Copy the study into a new dry-run study (`oversight.study.dry_run`) and run `participants` simulated non-experts
    and `experts` simulated experts there. The study itself is only read. `run.study_id` is the copy."""
    check_simulation(study_id=study_id, participants=participants, skill=skill, experts=experts)
    source_id, study_id = study_id, copy_for_dry_run(study_id=study_id, user_id=user_id)
    with session_scope(write=False) as s:
        conditions = s.exec(select(Condition).where(Condition.study_id == study_id)
                            .order_by(Condition.position, Condition.id)).all()
    rng = random.Random(seed)
    run = SimulationRun(study_id, source_id)
    total = participants + experts + 2
    step = 0

    def tick(message: str) -> None:
        nonlocal step
        step += 1
        if progress:
            progress(min(step, total), total, message)

    for c in conditions:
        if c.kind == "model" and c.strategy_id is not None:
            tick(f"model alone: {c.name}")
            result = run_batch(study_id=study_id, strategy_id=c.strategy_id)
            run.model_items += len(result.outcomes)
            run.errors += [f"model run, item {o.item_id}: {o.error}" for o in result.outcomes if o.error]
    run.participants = _people(study_id, participants, "participant")
    for k, uid in enumerate(run.participants):
        tick(f"participant {k + 1} of {participants}")
        _answer_all(uid, skill, rng, run)
        _questionnaires(uid, skill, rng)
        _propose(uid, run)
    run.experts = _people(study_id, experts, "expert") if experts else []
    if any(c.kind == "expert" for c in conditions):
        for k, uid in enumerate(run.experts):
            tick(f"expert {k + 1} answering")
            _answer_all(uid, skill, rng, run, study_id=study_id)
    tick("experts reviewing")
    _review(study_id, run.experts, skill, rng, run, None)
    if progress:
        progress(total, total, "done")
    return run


def summarise(run: SimulationRun, skill: Skill) -> dict[str, Any]:
    """The study's sandwich figures beside what was planted: `conditions` (name, kind, planted, estimate, ci_low,
    ci_high, n) and `gap_closed` (planted, estimate, ci_low, ci_high), plus review agreement and what ran."""
    from oversight.sandwiching import agreement
    from oversight.sandwiching.analysis import sandwich, to_json

    figures = to_json(sandwich(study_id=run.study_id))
    conditions = []
    for row in figures["conditions"]:
        planted = None if row.get("gold_stands_in") else skill.accuracy(row["kind"])
        conditions.append({"name": row["name"], "kind": row["kind"], "planted": planted,
                           **{k: row[k] for k in ("estimate", "ci_low", "ci_high", "n")},
                           **({"strategy_id": row["strategy_id"]} if row.get("strategy_id") else {}),
                           **({"gold_stands_in": True} if row.get("gold_stands_in") else {})})
    gold_stands_in = any(r.get("gold_stands_in") for r in figures["conditions"] if r["kind"] == "expert")
    expert = 1.0 if gold_stands_in else skill.expert
    gap_planted = (skill.assisted - skill.alone) / (expert - skill.alone) if expert > skill.alone else None
    truth = list(_outcomes(run.study_id).values())
    share_correct = sum(c for c, _, _ in truth) / len(truth) if truth else 0.5
    return {
        "study_id": run.study_id, "dry_run_of": run.source_study_id, "simulated": True,
        "participants": len(run.participants), "experts": len(run.experts), "answers": run.answers,
        "reviews": run.reviews, "model_items": run.model_items, "errors": run.errors[:20],
        "conditions": conditions,
        "gap_closed": {"planted": gap_planted, **{k: v for k, v in figures["gap_closed"].items()
                                                   if k in ("estimate", "ci_low", "ci_high", "unbounded")}},
        "agreement": {"planted": planted_alpha(share_correct, skill.review_accuracy),
                      **agreement.alpha_interval(study_id=run.study_id, field_name="outcome")},
    }


# --- the dry run as a job (oversight.jobs), so a page stays responsive while simulated people work -----------------

SKILL_PARAMS = ("alone", "assisted", "expert", "review_accuracy", "confidence")


def start_dry_run(*, study_id: int, participants: int, skill: Skill, experts: int = 2, seed: int = 0,
                  user_id: int | None = None) -> int:
    """Check the simulation as `simulate` does (nothing is written when it is refused), then enqueue it as a
    "simulate" job; returns the job id. The job copies the study and runs there (see `simulate`); its result is
    `summarise`'s, whose `study_id` is the dry-run copy."""
    check_simulation(study_id=study_id, participants=participants, skill=skill, experts=experts)
    params = {"participants": participants, "experts": experts, "seed": seed,
              **{k: getattr(skill, k) for k in SKILL_PARAMS}}
    job = enqueue(kind="simulate", study_id=study_id, user_id=user_id, params=params)
    with session_scope() as s:
        log_event(s, "study.dry_run_start", user_id=user_id, study_id=study_id, job=job, **params)
    return job


def simulate_job(ctx) -> dict[str, Any]:
    """The "simulate" job (oversight/jobs.py): params participants, experts, seed and the planted skill. Not
    retried when its worker dies: a second attempt would make a second copy."""
    p = ctx.params
    skill = Skill(**{k: p[k] for k in SKILL_PARAMS if k in p})
    run = simulate(study_id=ctx.study_id, participants=int(p["participants"]), skill=skill,
                   experts=int(p.get("experts", 2)), seed=int(p.get("seed", 0)), progress=ctx.progress,
                   user_id=ctx.user_id)
    return _finite(summarise(run, skill))


def _finite(value: Any) -> Any:
    """The summary with NaN (an undefined alpha) as None: the job's result is JSON, and JSON has no NaN."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
