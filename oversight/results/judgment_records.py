"""A study's judgments as named records: the one query the report and the export read them with.

A record carries what both need around a judgment: the item's gold, the setting (the transcript's, or for a judgment
without a transcript its strategy's protocol or its assignment's), the strategy version (the transcript's, else
the assignment's), the transcript's and the item's tags, the roles the transcript records, and how many rounds it ran.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, select

from oversight.results.results_filter import is_result, judge_group
from oversight.db import session_scope
from oversight.protocols.direct_qa import PROTOCOL as DIRECT_QA
from oversight.vocab import chosen_option, is_correct
from storage.models import Assignment, Item, ItemGold, Judgment, Strategy, Transcript, Turn, User, landed

BATCH = 1000  # rows fetched at a time, so an export of a large study streams


def p_correct(probabilities: list[float] | None, answer_index: int | None, gold: int) -> float | None:
    """Probability the judgment put on the gold answer (1/0 from a bare answer); None if it has neither."""
    if probabilities and 0 <= gold < len(probabilities):
        return float(probabilities[gold])
    if answer_index is not None:
        return 1.0 if answer_index == gold else 0.0
    return None


def untranscribed_setting(strategy_protocol: str | None, assignment_protocol: str | None) -> str:
    """The setting of a judgment with no transcript (direct QA): its strategy's protocol, else its assignment's."""
    return strategy_protocol or assignment_protocol or DIRECT_QA.name


@dataclass(frozen=True)
class JudgmentRecord:
    """One judgment with what the report and the export need around it: gold, setting, strategy, tags, roles,
    rounds."""

    id: int
    item_id: int
    gold: int | None  # None only where the item has no gold (the export keeps those judgments)
    judge_kind: str
    probabilities: tuple[float, ...] = ()
    answer_index: int | None = None
    is_final: bool = True
    setting: str = DIRECT_QA.name
    transcript_id: int | None = None
    origin: str | None = None  # the transcript's: live | imported; None without a transcript
    strategy_id: int | None = None
    tags: tuple[str, ...] = ()  # the transcript's and the item's
    judge_name: str = ""
    round: int = 0
    seconds: float | None = None
    rounds: int | None = None  # rounds its transcript ran; None without a transcript
    roles: dict = field(default_factory=dict, hash=False, compare=False)  # the transcript's meta["roles"]
    item_external_id: str | None = None
    transcript_external_id: str | None = None
    assignment_id: int | None = None
    judge_id: int | None = None
    created_at: datetime | None = None
    judge_group: str | None = None  # results_filter.judge_group: "participant", "expert", or None (AI, imported)

    @property
    def p_correct(self) -> float | None:
        return None if self.gold is None else p_correct(list(self.probabilities), self.answer_index, self.gold)

    @property
    def correct(self) -> bool | None:
        """`vocab.is_correct`: the gold option has the largest probability, strictly; None without gold."""
        if self.gold is None or (not self.probabilities and self.answer_index is None):
            return None
        return is_correct(self.probabilities, self.gold, self.answer_index)

    def sides_with(self, option: int) -> bool:
        """The judgment chose `option` (the scoring rule applied to that option: strictly the likeliest)."""
        return is_correct(self.probabilities, option, self.answer_index)

    @property
    def p_chosen(self) -> float | None:
        """The probability on the answer the judge leaned to (1 for a bare answer)."""
        if self.probabilities:
            return float(max(self.probabilities))
        return 1.0 if self.answer_index is not None else None

    @property
    def chosen(self) -> int | None:
        """The answer with the highest probability; None on a tie."""
        return chosen_option(self.probabilities, self.answer_index)

    def p_of(self, option: int | None) -> float | None:
        """The probability this judgment put on an option (1/0 from a bare answer)."""
        if option is None:
            return None
        return p_correct(list(self.probabilities), self.answer_index, option)


def _rounds_by_transcript(s: Session, study_id: int) -> dict[int, int]:
    rows = s.exec(
        select(Turn.transcript_id, func.max(Turn.round))
        .join(Transcript, Transcript.id == Turn.transcript_id)
        .where(Transcript.of_study(study_id))
        .group_by(Turn.transcript_id)
    ).all()
    return {tid: int(r or 0) for tid, r in rows}


def _roles_by_transcript(s: Session, study_id: int) -> dict[int, dict]:
    rows = s.exec(select(Transcript.id, Transcript.meta).where(Transcript.of_study(study_id)))
    return {tid: dict(roles) for tid, meta in rows if (roles := (meta or {}).get("roles"))}


def judgment_records(s: Session, *, study_id: int, final_only: bool = False,
                     gold_only: bool = True, results_only: bool = True) -> Iterator[JudgmentRecord]:
    """The study's judgments (only final ones with `final_only`; also those on items without gold unless
    `gold_only`) as records, ordered by id, streamed from session `s`. Only results count
    (oversight.results.results_filter): practice, catch, excluded, preview and (outside a dry run) simulated answers are
    left out, except with `results_only=False` (the export, which keeps every row and marks its status)."""
    statement = (
        select(
            Judgment.id, Judgment.item_id, Judgment.probabilities, Judgment.answer_index, Judgment.judge_kind,
            Judgment.judge_id, Judgment.judge_name, Judgment.round, Judgment.seconds, Judgment.is_final,
            Judgment.assignment_id, Judgment.created_at,
            ItemGold.gold_index, Item.external_id.label("item_external_id"), Item.tags.label("item_tags"),
            Transcript.id.label("transcript_id"), Transcript.external_id.label("transcript_external_id"),
            Transcript.setting_column().label("setting"), Transcript.origin, Transcript.tags.label("transcript_tags"),
            Transcript.strategy_id.label("transcript_strategy_id"),
            Assignment.strategy_id.label("assignment_strategy_id"),
            Assignment.protocol.label("assignment_protocol"), User.role.label("judge_role"),
        )
        .join(Item, Item.id == Judgment.item_id)
        .outerjoin(ItemGold, ItemGold.item_id == Judgment.item_id)
        .outerjoin(Transcript, Transcript.id == Judgment.transcript_id)
        .outerjoin(Assignment, Assignment.id == Judgment.assignment_id)
        .outerjoin(User, User.id == Judgment.judge_id)
        .where(Item.of_study(study_id), landed(Transcript.import_id),
               *([is_result(s, study_id)] if results_only else []))
        .order_by(Judgment.id)
    )
    if gold_only:
        statement = statement.where(ItemGold.gold_index != None)  # noqa: E711
    if final_only:
        statement = statement.where(Judgment.is_final == True)  # noqa: E712
    protocols = dict(s.exec(select(Strategy.id, Strategy.protocol).where(Strategy.study_id == study_id)).all())
    rounds = _rounds_by_transcript(s, study_id)
    roles = _roles_by_transcript(s, study_id)
    for row in s.exec(statement.execution_options(yield_per=BATCH)):
        t_id = row.transcript_id
        strategy_id = row.transcript_strategy_id or row.assignment_strategy_id
        yield JudgmentRecord(
            id=row.id, item_id=row.item_id, gold=row.gold_index, judge_kind=row.judge_kind,
            probabilities=tuple(row.probabilities or ()), answer_index=row.answer_index, is_final=bool(row.is_final),
            setting=row.setting if t_id is not None
            else untranscribed_setting(protocols.get(strategy_id), row.assignment_protocol),
            transcript_id=t_id, origin=row.origin, strategy_id=strategy_id,
            tags=tuple(dict.fromkeys([*(row.transcript_tags or []), *(row.item_tags or [])])),
            judge_name=row.judge_name or "", round=row.round or 0, seconds=row.seconds,
            rounds=rounds.get(t_id, 0) if t_id is not None else None, roles=roles.get(t_id, {}),
            item_external_id=row.item_external_id, transcript_external_id=row.transcript_external_id,
            assignment_id=row.assignment_id, judge_id=row.judge_id, created_at=row.created_at,
            judge_group=judge_group(row.judge_role) if row.judge_kind == "human" else None,
        )


def load_judgments(*, study_id: int, final_only: bool = True) -> list[JudgmentRecord]:
    """Every (final) judgment of a study on an item with a gold answer, as records. Read-only."""
    with session_scope(write=False) as s:
        return list(judgment_records(s, study_id=study_id, final_only=final_only))
