"""Debates, consultancies and direct-QA rounds backed by the database.

The engine decides what may happen; this module loads a transcript's history into the engine, stores
what happened, and builds the judge's view. Every speech and every judge report is committed the moment
it exists, and a turn's slot in the transcript is unique (`Turn.index` = round * 10 + slot), so a turn
generated twice (two tabs, a restart mid-generation) is stored once.

Display order: when the rules randomise answer order, the transcript records a permutation `order`;
the judge sees option `order[i]` in position i, and debater A always argues the first displayed answer.
Judge probabilities are stored in the item's own option order.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from oversight.audit import log_event
from oversight.db import session_scope
from oversight.protocols.engine import (
    Report, RuleViolation, Speaker, Speech, Step, check_report, check_speech, next_step, speakers_for,
)
from oversight.protocols.rules import Rules
from oversight.protocols.scoring import judge_score
from oversight.quotes import check_quotes
from storage.models import Assignment, Item, ItemGold, Judgment, Strategy, Transcript, Turn, utcnow

SLOTS = {"debater_a": 0, "consultant": 0, "debater_b": 1, "judge": 9}
# The transcript's own judge; AI judgments made afterwards ("ai-offline") are not part of its history.
LIVE_JUDGE_KINDS = ("human", "ai")
LABELS = {"debater_a": "Debater A", "debater_b": "Debater B", "consultant": "Consultant", "judge": "Judge"}


def turn_index(round_: int, role: str) -> int:
    return round_ * 10 + SLOTS[role]


@dataclass
class State:
    """A transcript's history, as the engine sees it, plus what is needed to act on it."""

    transcript_id: int
    strategy_id: int | None
    rules: Rules
    model_roles: dict
    question: str
    options: list[str]  # item order
    order: list[int]  # display position -> item option index
    source: str | None
    speakers: tuple[Speaker, ...]
    speeches: list[Speech]
    reports: list[Report]
    notes: dict[int, str] = field(default_factory=dict)  # round -> judge's note to the debaters
    elapsed_s: float = 0.0  # since the transcript started, when it was loaded

    @property
    def time_up(self) -> bool:
        limit = self.rules.total_time_limit_s
        return bool(limit) and self.elapsed_s > limit

    @property
    def step(self) -> Step:
        return next_step(self.rules, self.speakers, self.speeches, self.reports, time_up=self.time_up)

    def answer_of(self, role: str) -> int:
        return next(sp.answer_index for sp in self.speakers if sp.role == role)

    def to_item_order(self, display_probs: list[float]) -> list[float]:
        probs = [0.0] * len(self.options)
        for pos, item_index in enumerate(self.order):
            probs[item_index] = float(display_probs[pos])
        return probs

    def to_display_order(self, item_probs: list[float] | tuple[float, ...]) -> list[float]:
        return [item_probs[i] for i in self.order]


def _speakers_for(meta: dict) -> tuple[Speaker, ...]:
    # meta["roles"] is the same shape imported NYU transcripts carry: role -> {"argues": item option index}.
    roles = meta.get("roles", {})
    return tuple(Speaker(r, roles[r]["argues"]) for r in ("debater_a", "debater_b", "consultant") if r in roles)


def start_transcript(*, item_id: int, strategy_id: int, assignment_id: int | None = None,
                     tags: list[str] | None = None, seed: int | None = None) -> int:
    """Create the transcript for an item under a strategy (idempotent per assignment)."""
    with session_scope() as s:
        if assignment_id is not None:
            existing = s.exec(select(Transcript).where(Transcript.assignment_id == assignment_id)).first()
            if existing is not None:
                return existing.id
        strategy = s.get(Strategy, strategy_id)
        item = s.get(Item, item_id)
        gold = s.get(ItemGold, item_id)
        rules = Rules.from_dict(strategy.protocol, strategy.rules)
        if rules.has_speakers and not item.source_text:
            raise RuleViolation("debaters and consultants need the item's source text")
        rng = random.Random(seed)
        order = list(range(len(item.options)))
        if rules.randomise_answer_order:
            rng.shuffle(order)
        correct = gold.gold_index if gold else None
        roles = {sp.role: {"argues": sp.answer_index, "honest": sp.answer_index == correct}
                 for sp in speakers_for(rules, order=order, correct_index=correct, rng=rng)}
        meta: dict = {"order": order, "roles": roles}
        t = Transcript(study_id=item.study_id, item_id=item.id, strategy_id=strategy.id, assignment_id=assignment_id,
                       setting=strategy.protocol, origin="live", status="open", tags=tags or [], meta=meta)
        s.add(t)
        s.flush()
        return t.id


def load_state(transcript_id: int) -> State:
    with session_scope(write=False) as s:
        t = s.get(Transcript, transcript_id)
        if t is None:
            raise RuleViolation(f"no transcript with id {transcript_id}")
        strategy = s.get(Strategy, t.strategy_id)
        item = s.get(Item, t.item_id)
        turns = s.exec(select(Turn).where(Turn.transcript_id == t.id).order_by(Turn.index)).all()
        judgments = s.exec(select(Judgment).where(Judgment.transcript_id == t.id, Judgment.judge_kind.in_(
            LIVE_JUDGE_KINDS)).order_by(Judgment.round)).all()
        rules = Rules.from_dict(strategy.protocol, strategy.rules)
        order = t.meta.get("order") or list(range(len(item.options)))
        speeches = [Speech(x.round, x.role, x.text) for x in turns if x.role != "judge"]
        notes = {x.round: x.text for x in turns if x.role == "judge" and x.text}
        reports = [Report(j.round, tuple(j.probabilities), j.rationale, j.is_final) for j in judgments]
        return State(t.id, strategy.id, rules, dict(strategy.model_roles), item.question, list(item.options), order,
                     item.source_text, _speakers_for(t.meta), speeches, reports, notes,
                     (utcnow() - t.created_at).total_seconds())


def add_speech(*, transcript_id: int, round_: int, role: str, text: str, model: str | None = None,
               tokens: int | None = None, latency_s: float | None = None) -> bool:
    """Store a speech if its slot is still empty and the rules expect it; False when it was there already."""
    state = load_state(transcript_id)
    if any(sp.round == round_ and sp.role == role for sp in state.speeches):
        return False
    step = state.step
    if step.round != round_:
        raise RuleViolation(f"the debate is at round {step.round}, not {round_}")
    check_speech(step, role)
    quotes = [q.__dict__ for q in check_quotes(text, state.source or "")]
    with session_scope() as s:
        exists = s.exec(select(Turn.id).where(Turn.transcript_id == transcript_id,
                                              Turn.index == turn_index(round_, role))).first()
        if exists is not None:
            return False
        s.add(Turn(transcript_id=transcript_id, index=turn_index(round_, role), round=round_, role=role,
                   speaker=LABELS[role], text=text, quotes=quotes, model=model, tokens=tokens,
                   latency_ms=None if latency_s is None else latency_s * 1000))
    return True


def submit_report(*, transcript_id: int, round_: int, display_probabilities: list[float], note: str = "",
                  end: bool = False, judge_id: int | None = None, judge_name: str = "", judge_kind: str = "human",
                  rationale: str = "") -> Report:
    """Store a judge's report for `round_` at once; the last one (or one that ends) is final."""
    state = load_state(transcript_id)
    step = state.step
    if step.kind == "done":
        raise RuleViolation("this debate has already been decided")
    report = check_report(step, Report(round_, tuple(state.to_item_order(display_probabilities)), note, end),
                          len(state.options))
    note = note.strip()
    try:
        with session_scope() as s:
            t = s.get(Transcript, transcript_id)
            # The judge's time on this report: since the last thing they were shown (a speech or their last report).
            shown = s.exec(select(Turn.created_at).where(Turn.transcript_id == transcript_id)
                           .order_by(Turn.created_at.desc())).first() or t.created_at
            # The judge turn's slot is unique: a second submission of the same round (another tab) fails here.
            s.add(Turn(transcript_id=transcript_id, index=turn_index(round_, "judge"), round=round_, role="judge",
                       speaker=judge_name or "Judge", text=note))
            s.add(Judgment(item_id=t.item_id, transcript_id=t.id, assignment_id=t.assignment_id, judge_id=judge_id,
                           judge_kind=judge_kind, judge_name=judge_name, round=round_,
                           probabilities=list(report.probabilities),
                           answer_index=max(range(len(report.probabilities)), key=report.probabilities.__getitem__),
                           rationale=(rationale.strip() or note) if report.end else note,
                           seconds=(utcnow() - shown).total_seconds(), is_final=report.end))
            if report.end:
                t.status = "complete"
                t.meta = {**t.meta, "rounds": round_}
                if t.assignment_id is not None:
                    a = s.get(Assignment, t.assignment_id)
                    a.state, a.completed_at = "done", utcnow()
            log_event(s, "judge.report", user_id=judge_id, study_id=t.study_id, transcript=t.id, round=round_,
                      final=report.end)
    except IntegrityError:
        # Another tab (or a double click) stored this round's report first; the first one stands.
        raise RuleViolation(f"the judgment for round {round_} was already submitted") from None
    return report


@dataclass(frozen=True)
class SpeechView:
    round: int
    role: str
    label: str
    answer_position: int | None  # the displayed answer this speaker argues for
    text: str
    quotes: list[dict]


@dataclass(frozen=True)
class Outcome:
    correct_position: int
    probability_correct: float
    score: float


@dataclass(frozen=True)
class JudgeView:
    """Everything the judge may see: never the source, never the gold answer before the end."""

    transcript_id: int
    protocol: str
    question: str
    options: list[str]  # display order
    rules: Rules
    step: Step
    speeches: list[SpeechView]  # only rounds whose speeches are all in
    reports: list[tuple[int, list[float], str]]  # round, display-order probabilities, note
    outcome: Outcome | None  # after the end, when the rules give feedback
    seconds_left: float | None = None  # under a total time limit


def judge_view(transcript_id: int) -> JudgeView:
    state = load_state(transcript_id)
    step = state.step
    with session_scope(write=False) as s:
        turns = s.exec(select(Turn).where(Turn.transcript_id == transcript_id, Turn.role != "judge")
                       .order_by(Turn.index)).all()
        gold = None
        if step.kind == "done" and state.rules.feedback_after_judging:
            t = s.get(Transcript, transcript_id)
            gold = s.get(ItemGold, t.item_id)
    # A round's speeches are revealed only once all of them are in, so writing time leaks nothing.
    hidden_round = step.round if step.kind == "speeches" else None
    views = []
    for turn in turns:
        if turn.round == hidden_round:
            continue
        views.append(SpeechView(turn.round, turn.role, LABELS[turn.role],
                                state.order.index(state.answer_of(turn.role)), turn.text, turn.quotes))
    reports = [(r.round, state.to_display_order(r.probabilities), state.notes.get(r.round, "")) for r in state.reports]
    outcome = None
    if gold is not None and state.reports:
        final = state.reports[-1]
        outcome = Outcome(state.order.index(gold.gold_index), final.probabilities[gold.gold_index],
                          judge_score(probabilities=list(final.probabilities), correct_index=gold.gold_index,
                                      rule=state.rules.scoring, turns=len(state.reports) - 1,
                                      penalty=state.rules.turn_penalty))
    return JudgeView(transcript_id, state.rules.protocol, state.question, [state.options[i] for i in state.order],
                     state.rules, step, views, reports, outcome,
                     max(0.0, limit - state.elapsed_s) if (limit := state.rules.total_time_limit_s) else None)
