"""AI-only runs: AI debaters (or consultants) and an AI judge over a study's items, filling the same tables
that human judging fills, so that human and AI judges compare on the same items."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlmodel import select

from oversight.db import session_scope
from oversight.models import get_model, model_for_role
from oversight.protocols import live
from oversight.protocols.ai_judge import judge_probabilities, transcript_lines
from oversight.protocols.engine import RuleViolation
from oversight.protocols.rules import Rules
from oversight.protocols.runner import get_runner
from storage.models import Item, ItemGold, Strategy, Transcript, Turn

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


def eligible_items(*, study_id: int, rules: Rules) -> list[int]:
    """Items this protocol can run on: with a gold answer (to score), a source for speakers, two options for debate."""
    with session_scope(write=False) as s:
        rows = s.exec(select(Item).join(ItemGold, ItemGold.item_id == Item.id).where(Item.study_id == study_id)
                      .order_by(Item.id)).all()
        return [i.id for i in rows if (not rules.has_speakers or i.source_text)
                and (rules.protocol != "debate" or len(i.options) == 2)]


def _judge_report(state: live.State) -> list[float]:
    """The live AI judge's probabilities (display order) after the speeches so far."""
    name = state.model_roles.get("judge")
    model = get_model(name) if name else model_for_role("judge")
    with session_scope(write=False) as s:
        turns = s.exec(select(Turn).where(Turn.transcript_id == state.transcript_id).order_by(Turn.index)).all()
        meta = s.get(Transcript, state.transcript_id).meta
    lines = transcript_lines(turns, meta.get("roles", {}), state.options)
    source = state.source if state.rules.protocol == "model-alone" else None
    probs = judge_probabilities(model, question=state.question, options=state.options, transcript=lines, source=source)
    return state.to_display_order(probs)


def run_item(*, item_id: int, strategy_id: int, judge_name: str) -> ItemOutcome:
    tid = live.start_transcript(item_id=item_id, strategy_id=strategy_id, tags=["ai-batch"], seed=item_id)
    runner = get_runner()
    while True:
        state = live.load_state(tid)
        step = state.step
        if step.kind == "done":
            break
        if step.kind == "speeches":
            runner.run_until_judge(tid)
            continue
        # The AI judge does not stop early: it reads every round the rules allow.
        live.submit_report(transcript_id=tid, round_=step.round, display_probabilities=_judge_report(state),
                           end=step.must_end, judge_kind="ai", judge_name=judge_name)
    state = live.load_state(tid)
    with session_scope(write=False) as s:
        gold = s.get(ItemGold, item_id).gold_index
    p = state.reports[-1].probabilities[gold]
    return ItemOutcome(item_id, tid, len(state.reports), p, p > 0.5)


def run_batch(*, study_id: int, strategy_id: int, limit: int | None = None,
              progress: Progress | None = None) -> BatchResult:
    with session_scope(write=False) as s:
        strategy = s.get(Strategy, strategy_id)
        if strategy is None or strategy.study_id != study_id:
            raise RuleViolation(f"no strategy {strategy_id} in study {study_id}")
    rules = Rules.from_dict(strategy.protocol, strategy.rules)
    items = eligible_items(study_id=study_id, rules=rules)[: limit or None]
    if not items:
        raise RuleViolation("no items this protocol can run on (needs gold answers"
                            + (", source texts" if rules.has_speakers else "")
                            + (" and two options" if rules.protocol == "debate" else "") + ")")
    judge_name = strategy.model_roles.get("judge") or model_for_role("judge").name
    result = BatchResult(strategy_id)
    for done, item_id in enumerate(items):
        if progress:
            progress(done, len(items), f"item {item_id}")
        try:
            result.outcomes.append(run_item(item_id=item_id, strategy_id=strategy_id, judge_name=judge_name))
        except Exception as exc:  # noqa: BLE001 - one failing item must not end the run
            result.outcomes.append(ItemOutcome(item_id, None, 0, None, None, error=str(exc)))
    if progress:
        progress(len(items), len(items), "done")
    return result
