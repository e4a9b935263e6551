"""AI-only runs: AI speakers (debaters, a consultant, an assistant) and an AI judge over a study's items, filling
the same tables that human judging fills, so that human and AI judges compare on the same items. Under a chat
protocol (assisted QA) the AI judge stands in for the participant: it asks the assistant questions (written by
the questioner model) before it answers, so a whole arm can be tried without people. The AI judge is a bot
(`bots.ModelBot`) and the one driver (`driver.drive`) steps each transcript to its end."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlmodel import select

from oversight.results.results_filter import not_catch_item
from oversight.db import session_scope
from oversight.models import model_for_role
from oversight.protocols import live
from oversight.protocols.base import RuleViolation
from oversight.protocols.bots import ModelBot
from oversight.protocols.driver import drive
from oversight.protocols.registry import get_protocol
from oversight.vocab import is_correct
from storage.models import Item, ItemGold, Strategy, Transcript

Progress = Callable[[int, int, str], None]  # done, total, message


@dataclass
class ItemOutcome:
    item_id: int
    transcript_id: int | None
    rounds: int
    p_correct: float | None
    correct: bool | None
    error: str | None = None


@dataclass
class BatchResult:
    strategy_id: int
    outcomes: list[ItemOutcome] = field(default_factory=list)

    @property
    def judged(self) -> list[ItemOutcome]:
        return [o for o in self.outcomes if o.correct is not None]

    @property
    def accuracy(self) -> float | None:
        judged = self.judged
        return sum(o.correct for o in judged) / len(judged) if judged else None

    def to_dict(self) -> dict:
        return {"strategy_id": self.strategy_id, "n": len(self.judged), "accuracy": self.accuracy,
                "errors": sum(o.error is not None for o in self.outcomes),
                "items": [o.__dict__ for o in self.outcomes]}


def eligible_items(*, study_id: int, strategy: Strategy) -> list[int]:
    """Items the strategy's protocol can run on and that have a gold answer (to score); not attention checks."""
    protocol = get_protocol(strategy.protocol)
    rules = protocol.parse_rules(strategy.rules)
    with session_scope(write=False) as s:
        rows = s.exec(select(Item).join(ItemGold, ItemGold.item_id == Item.id)
                      .where(Item.of_study(study_id), not_catch_item()).order_by(Item.id)).all()
        return [i.id for i in rows if protocol.cannot_run(live.item_facts(s, i), rules) is None]


BATCH_TAG = "ai-batch"
SOURCE_HIDDEN = "source-hidden"  # tag of a model-alone transcript whose judge did not read the source


def run_item(*, item_id: int, strategy_id: int, judge_name: str, tags: tuple[str, ...] = (),
             sees_source: bool = True, resume: int | None = None) -> ItemOutcome:
    """`resume`: the open transcript a dead attempt of the same job left on this item, driven on from where it
    stopped (its turns and reports are stored as they happen) instead of opening a second one."""
    tags = (*tags, *(() if sees_source else (SOURCE_HIDDEN,)))
    tid = resume or live.start_transcript(item_id=item_id, strategy_id=strategy_id, tags=[BATCH_TAG, *tags],
                                          seed=item_id)
    driven = drive(tid, ModelBot(judge_name, sees_source))
    state = driven.state
    if not driven.finished:
        return ItemOutcome(item_id, tid, len(state.reports), None, None, error="no final answer")
    with session_scope(write=False) as s:
        gold = s.get(ItemGold, item_id).gold_index
    final = state.reports[-1].probabilities
    return ItemOutcome(item_id, tid, len(state.reports), final[gold], is_correct(final, gold))


@dataclass
class EarlierAttempts:
    """What earlier attempts of a job (whose worker died) left: items they ran to the end, and per item the one
    transcript they opened and never finished, which the retry resumes."""

    finished: set[int] = field(default_factory=set)
    open: dict[int, int] = field(default_factory=dict)


def _earlier_attempts(study_id: int, strategy_id: int, tag: str) -> EarlierAttempts:
    """A job is retried when its worker died (oversight.jobs): what its earlier attempts stored is read back by
    the job's tag. Should an item have several open transcripts of the job (attempts before resuming existed),
    the newest is resumed and the others are closed as superseded: one transcript per item, whatever happened."""
    with session_scope(write=False) as s:
        rows = s.exec(select(Transcript.id, Transcript.item_id, Transcript.status, Transcript.tags).where(
            Transcript.of_study(study_id), Transcript.strategy_id == strategy_id,
            Transcript.assignment_id.is_(None)).order_by(Transcript.id)).all()
    found = EarlierAttempts()
    extra: list[int] = []
    for tid, item_id, status, tags in rows:
        if tag not in (tags or []):
            continue
        if status == "complete":
            found.finished.add(item_id)
        elif status == "open":
            if item_id in found.open:
                extra.append(found.open[item_id])
            found.open[item_id] = tid
    extra += [tid for item_id, tid in found.open.items() if item_id in found.finished]
    found.open = {item_id: tid for item_id, tid in found.open.items() if item_id not in found.finished}
    if extra:
        from oversight.results.results_filter import SUPERSEDED

        with session_scope() as s:
            for t in s.exec(select(Transcript).where(Transcript.id.in_(extra))).all():
                t.status = SUPERSEDED
    return found


def supersede(*, study_id: int, strategy_id: int, item_ids: list[int] | None = None, keep: int | None = None,
              outside: list[int] | None = None) -> int:
    """Mark earlier AI batch transcripts of a strategy version as superseded (their judgments stop being results,
    oversight.results.results_filter): those on `item_ids` except transcript `keep`, or those on any item not in
    `outside`. Returns how many were marked."""
    from oversight.results.results_filter import SUPERSEDED

    with session_scope() as s:
        query = select(Transcript).where(Transcript.of_study(study_id), Transcript.strategy_id == strategy_id,
                                         Transcript.assignment_id.is_(None), Transcript.status != SUPERSEDED)
        if item_ids is not None:
            query = query.where(Transcript.item_id.in_(item_ids))
        if outside is not None:
            query = query.where(Transcript.item_id.notin_(outside))
        marked = 0
        for t in s.exec(query).all():
            if t.id != keep and BATCH_TAG in (t.tags or []):
                t.status = SUPERSEDED
                marked += 1
        return marked


def run_batch(*, study_id: int, strategy_id: int, limit: int | None = None,
              progress: Progress | None = None, job_tag: str | None = None, items: list[int] | None = None,
              sees_source: bool = True, replace: bool = False) -> BatchResult:
    """Run the strategy's AI judge (and AI speakers) over items: `items` (a model-alone run: the items people are
    dealt), else every item its protocol can run on with a gold answer. `replace`: one result per item and version,
    so each finished item supersedes that version's earlier batch transcripts on it, and a full run (no `limit`)
    also supersedes those on items outside `items`."""
    with session_scope(write=False) as s:
        strategy = s.get(Strategy, strategy_id)
        if strategy is None or strategy.study_id != study_id:
            raise RuleViolation(f"no strategy {strategy_id} in study {study_id}")
    planned = eligible_items(study_id=study_id, strategy=strategy) if items is None else list(items)
    items = planned[: limit or None]
    if not items:
        raise RuleViolation(f"no items in this study that {get_protocol(strategy.protocol).label} can run on and "
                            "that have a gold answer to score it (see the Items page)")
    judge_name = strategy.model_roles.get("judge") or model_for_role("judge").name
    result = BatchResult(strategy_id)
    earlier = _earlier_attempts(study_id, strategy_id, job_tag) if job_tag else EarlierAttempts()
    items = [i for i in items if i not in earlier.finished]
    for done, item_id in enumerate(items):
        if progress:
            progress(done, len(items), f"item {item_id}")
        try:
            outcome = run_item(item_id=item_id, strategy_id=strategy_id, judge_name=judge_name,
                               tags=(job_tag,) if job_tag else (), sees_source=sees_source,
                               resume=earlier.open.get(item_id))
        except Exception as exc:  # noqa: BLE001 - one failing item must not end the run
            outcome = ItemOutcome(item_id, None, 0, None, None, error=str(exc))
        if replace and outcome.error is None:
            supersede(study_id=study_id, strategy_id=strategy_id, item_ids=[item_id], keep=outcome.transcript_id)
        result.outcomes.append(outcome)
    if replace and not limit:
        supersede(study_id=study_id, strategy_id=strategy_id, outside=planned)
    if progress:
        progress(len(items), len(items), "done")
    return result


def run_model_alone(*, condition_id: int, limit: int | None = None, progress: Progress | None = None,
                    job_tag: str | None = None) -> BatchResult:
    """A model-alone condition's run (oversight.sandwiching.conditions.model_alone_plan: the items people are dealt, the
    assistant's inputs), replacing the earlier run's results item by item."""
    from oversight.sandwiching.conditions import ConditionError, model_alone_plan

    plan = model_alone_plan(condition_id=condition_id)
    if not plan.items:
        raise ConditionError("there is no item to run: the model alone answers the real items people are dealt "
                             "(see the launch check on Study settings)")
    return run_batch(study_id=plan.study_id, strategy_id=plan.strategy_id, limit=limit, progress=progress,
                     job_tag=job_tag, items=plan.items, sees_source=plan.sees_source, replace=True)


def batch_job(ctx) -> dict:
    """The "batch" job (see oversight/jobs.py): params strategy_id, limit, and condition_id for a model-alone
    condition's run (oversight.sandwiching.conditions.model_alone_plan: the items people are dealt, the assistant's inputs,
    a re-run replacing the earlier one). A retried job skips the items its earlier attempt finished (their
    transcripts carry the job's tag) and resumes the one it left open, so each item has one transcript."""
    limit = ctx.params.get("limit") or None
    tag = f"job:{ctx.job_id}"
    if ctx.params.get("condition_id"):
        return run_model_alone(condition_id=int(ctx.params["condition_id"]), limit=limit, progress=ctx.progress,
                               job_tag=tag).to_dict()
    return run_batch(study_id=ctx.study_id, strategy_id=int(ctx.params["strategy_id"]), limit=limit,
                     progress=ctx.progress, job_tag=tag).to_dict()
