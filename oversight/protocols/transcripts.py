"""Read-side queries for the transcript viewer: a study's transcripts, filtered and paginated, and one
transcript opened in full (question, options with gold, who argued what, the source with every verified
quote located, the turns round by round, and every judgment on it).

Live and imported transcripts read the same way: every quote record has the shape of
`oversight.protocols.quotes.Quote` (`start`/`end` = the `<quote>…</quote>` span in the speech, `source_start`/
`source_end` = the verified span in the source), which `ui.speech_markdown` expects.

Everything here reads on a read-only session and returns plain dataclasses (no ORM objects leave).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import select

from oversight.db import session_scope
from oversight.protocols.live import in_round_order, speakers_from_meta
from oversight.vocab import OWN_JUDGE_KINDS, SPEAKER_ROLES, is_correct, option_letter, role_label
from storage.models import Item, ItemGold, Judgment, Strategy, Transcript, Turn

PAGE_SIZE = 50


def strategy_label(strategy: Strategy | None) -> str | None:
    return f"{strategy.name} v{strategy.version}" if strategy else None


# ---------------------------------------------------------------------------------------------- listing


@dataclass(frozen=True)
class TranscriptRow:
    id: int
    external_id: str | None
    setting: str
    origin: str
    status: str
    strategy: str | None
    question: str
    judge: str | None  # the judge kind of the final judgment shown
    p_correct: float | None  # the transcript's own judge's final probability on the gold answer
    correct: bool | None
    rounds: int
    tags: list[str]
    created_at: datetime | None


@dataclass(frozen=True)
class TranscriptPage:
    rows: list[TranscriptRow]
    total: int
    offset: int
    limit: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.limit))


@dataclass(frozen=True)
class TranscriptFilters:
    """The values a study's transcripts take, for the viewer's filter widgets."""

    settings: list[str]
    strategies: list[tuple[int, str]]  # (strategy id, "name vN (protocol)")
    origins: list[str]
    statuses: list[str]
    tags: list[str]
    total: int


def transcript_filters(*, study_id: int) -> TranscriptFilters:
    with session_scope(write=False) as s:
        rows = s.exec(select(Transcript.setting_column(), Transcript.origin, Transcript.status, Transcript.tags,
                             Transcript.strategy_id).where(Transcript.of_study(study_id))).all()
        used = {r[4] for r in rows if r[4] is not None}
        strategies = s.exec(select(Strategy).where(Strategy.study_id == study_id)).all() if used else []
    return TranscriptFilters(
        settings=sorted({r[0] for r in rows}),
        strategies=[(st.id, f"{strategy_label(st)} ({st.protocol})")
                    for st in sorted(strategies, key=lambda st: (st.name, st.version)) if st.id in used],
        origins=sorted({r[1] for r in rows}),
        statuses=sorted({r[2] for r in rows}),
        tags=sorted({t for r in rows for t in (r[3] or [])}),
        total=len(rows),
    )


def list_transcripts(*, study_id: int, setting: str | None = None, strategy_id: int | None = None,
                     origin: str | None = None, tag: str | None = None, status: str | None = None,
                     search: str | None = None, offset: int = 0, limit: int = PAGE_SIZE) -> TranscriptPage:
    """One page of a study's transcripts (by id), filtered; `search` matches the question or external id."""
    limit = max(1, min(int(limit), 500))
    offset = max(0, int(offset))
    with session_scope(write=False) as s:
        statement = (select(Transcript.id, Transcript.tags).join(Item, Item.id == Transcript.item_id)
                     .where(Transcript.of_study(study_id)).order_by(Transcript.id))
        if setting:
            statement = statement.where(Transcript.setting_column() == setting)
        if strategy_id is not None:
            statement = statement.where(Transcript.strategy_id == strategy_id)
        if origin:
            statement = statement.where(Transcript.origin == origin)
        if status:
            statement = statement.where(Transcript.status == status)
        if search and search.strip():
            needle = "%" + search.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            statement = statement.where(or_(func.lower(Item.question).like(needle, escape="\\"),
                                            func.lower(Transcript.external_id).like(needle, escape="\\")))
        # Tags are a JSON list: filtered here, exactly and on every engine alike (ids and tags are small).
        ids = [tid for tid, tags in s.exec(statement).all() if not tag or tag in (tags or [])]
        page_ids = ids[offset: offset + limit]
        rows: list[TranscriptRow] = []
        if page_ids:
            found = s.exec(select(Transcript, Item.question, ItemGold.gold_index, Strategy)
                           .join(Item, Item.id == Transcript.item_id)
                           .outerjoin(ItemGold, ItemGold.item_id == Transcript.item_id)
                           .outerjoin(Strategy, Strategy.id == Transcript.strategy_id)
                           .where(Transcript.id.in_(page_ids))).all()
            finals: dict[int, Judgment] = {}
            for j in s.exec(select(Judgment).where(Judgment.transcript_id.in_(page_ids), Judgment.is_final == True,  # noqa: E712
                                                   Judgment.judge_kind.in_(OWN_JUDGE_KINDS)).order_by(Judgment.id)):
                finals[j.transcript_id] = j  # the latest final judgment of the transcript's own judge
            rounds = dict(s.exec(select(Turn.transcript_id, func.max(Turn.round))
                                 .where(Turn.transcript_id.in_(page_ids)).group_by(Turn.transcript_id)).all())
            by_id = {t.id: (t, q, gold, st) for t, q, gold, st in found}
            for tid in page_ids:
                t, question, gold, st = by_id[tid]
                final = finals.get(tid)
                p = _p_on(final, gold) if final is not None and gold is not None else None
                rows.append(TranscriptRow(
                    id=t.id, external_id=t.external_id, setting=t.setting, origin=t.origin, status=t.status,
                    strategy=strategy_label(st), question=question, judge=final.judge_kind if final else None,
                    p_correct=p, correct=None if p is None else is_correct(final.probabilities, gold, final.answer_index), rounds=int(rounds.get(tid) or 0),
                    tags=list(t.tags or []), created_at=t.created_at,
                ))
    return TranscriptPage(rows=rows, total=len(ids), offset=offset, limit=limit)


def _p_on(judgment: Judgment, option: int) -> float | None:
    probs = judgment.probabilities or []
    if 0 <= option < len(probs):
        return float(probs[option])
    if judgment.answer_index is not None:
        return 1.0 if judgment.answer_index == option else 0.0
    return None


# ---------------------------------------------------------------------------------------------- one transcript


@dataclass(frozen=True)
class OptionView:
    """An answer option, listed in the order the judge saw them (`letter`); `index` is its item option index."""

    index: int
    letter: str
    text: str
    gold: bool
    argued_by: list[str]  # role labels of the speakers arguing it


@dataclass(frozen=True)
class SideView:
    role: str
    label: str
    name: str
    argues: int | None  # item option index
    honest: bool | None
    letter: str | None = None  # the letter the judge saw for that option


@dataclass(frozen=True)
class TurnView:
    position: int
    round: int
    role: str
    label: str
    speaker: str
    text: str
    quotes: list[dict]  # live shape: text, verified, start/end in `text`, source_start/source_end
    model: str | None


@dataclass(frozen=True)
class JudgmentView:
    id: int
    judge_kind: str
    judge_name: str
    round: int
    probabilities: list[float]  # item option order
    answer_index: int | None
    rationale: str
    seconds: float | None
    is_final: bool
    p_correct: float | None
    created_at: datetime | None
    correct: bool | None = None  # vocab.is_correct; None without gold


@dataclass(frozen=True)
class RoundView:
    round: int
    speeches: list[TurnView]
    notes: list[TurnView]  # the judge's notes / questions of the round that are not a report's rationale
    reports: list[JudgmentView]  # the transcript's own judge's reports of the round


@dataclass(frozen=True)
class SourceSegment:
    text: str
    roles: frozenset[str]  # the speakers that quoted this stretch (empty: not quoted)


@dataclass(frozen=True)
class TranscriptDetail:
    id: int
    study_id: int
    external_id: str | None
    setting: str
    origin: str
    status: str
    tags: list[str]
    strategy: str | None
    created_at: datetime | None
    question: str
    options: list[OptionView]  # in the judge's display order
    gold_index: int | None
    explanation: str | None
    source_title: str | None
    source_text: str | None
    sides: list[SideView]
    rounds: list[RoundView]
    final: JudgmentView | None  # the own judge's final judgment
    ai_offline: list[JudgmentView]
    offline_human: dict[str, list[JudgmentView]]  # judge name -> steps
    other: list[JudgmentView]  # judgments of any other kind
    quote_spans: list[tuple[int, int, str]]  # verified quotes in the source: start, end, role
    details: dict[str, Any] = field(default_factory=dict)  # a few facts worth showing (room, story, how it ended)

    @property
    def n_quotes(self) -> int:
        return len(self.quote_spans)

    def letter(self, index: int) -> str:
        """The letter the judge saw for item option `index`."""
        return next((o.letter for o in self.options if o.index == index), option_letter(index))


def source_segments(source: str, spans: list[tuple[int, int, str]]) -> list[SourceSegment]:
    """The source cut where quoted stretches begin and end; each piece knows which speakers quoted it."""
    n = len(source)
    cuts = {0, n}
    clean = []
    for start, end, role in spans:
        if start is None or end is None:
            continue
        start, end = max(0, min(int(start), n)), max(0, min(int(end), n))
        if end > start:
            clean.append((start, end, role))
            cuts.update((start, end))
    points = sorted(cuts)
    segments: list[SourceSegment] = []
    for a, b in zip(points, points[1:]):
        roles = frozenset(role for start, end, role in clean if start <= a and b <= end)
        if segments and segments[-1].roles == roles:
            segments[-1] = SourceSegment(segments[-1].text + source[a:b], roles)
        else:
            segments.append(SourceSegment(source[a:b], roles))
    return segments


def _judgment_view(j: Judgment, gold: int | None) -> JudgmentView:
    return JudgmentView(id=j.id, judge_kind=j.judge_kind, judge_name=j.judge_name or "", round=j.round or 0,
                        probabilities=[float(p) for p in (j.probabilities or [])], answer_index=j.answer_index,
                        rationale=j.rationale or "", seconds=j.seconds, is_final=bool(j.is_final),
                        p_correct=_p_on(j, gold) if gold is not None else None, created_at=j.created_at,
                        correct=None if gold is None else is_correct(j.probabilities, gold, j.answer_index))


def blinded(detail: TranscriptDetail) -> TranscriptDetail:
    """The transcript as a blind reviewer sees it: no strategy version, and no name of a person who took part
    (participants' messages and judges' notes keep their role)."""
    from dataclasses import replace

    def person(j: JudgmentView) -> JudgmentView:
        return replace(j, judge_name="") if j.judge_kind in ("human", "offline-human") else j

    def turn(t: TurnView) -> TurnView:
        return replace(t, speaker=t.label) if t.role in ("participant", "judge") else t

    rounds = [replace(r, speeches=[turn(t) for t in r.speeches], notes=[turn(t) for t in r.notes],
                      reports=[person(j) for j in r.reports]) for r in detail.rounds]
    return replace(detail, strategy=None, rounds=rounds, final=person(detail.final) if detail.final else None)


def transcript_detail(*, transcript_id: int, study_id: int | None = None) -> TranscriptDetail | None:
    """One transcript in full; None when it does not exist (or is not in `study_id`, when given)."""
    with session_scope(write=False) as s:
        t = s.get(Transcript, transcript_id)
        if t is None or (study_id is not None and t.study_id != study_id):
            return None
        item = s.get(Item, t.item_id)
        gold_row = s.get(ItemGold, t.item_id)
        strategy = s.get(Strategy, t.strategy_id) if t.strategy_id is not None else None
        turns = s.exec(select(Turn).where(Turn.transcript_id == t.id).order_by(Turn.position)).all()
        if t.strategy_id is not None:  # live: a round's simultaneous speeches were stored as they finished
            turns = in_round_order(turns, speakers_from_meta(t.meta or {}))
        judgments = s.exec(select(Judgment).where(Judgment.transcript_id == t.id)
                           .order_by(Judgment.round, Judgment.id)).all()
        gold = gold_row.gold_index if gold_row else None
        meta = dict(t.meta or {})
        roles = dict(meta.get("roles") or {})

        # The judge saw the options in the transcript's answer order (live: randomised; NYU: the room's order).
        n = len(item.options)
        order = meta.get("order")
        if not (isinstance(order, list) and sorted(order) == list(range(n))):
            order = list(range(n))
        sides = []
        for role in SPEAKER_ROLES:
            info = roles.get(role)
            if not info:
                continue
            argues = info.get("argues")
            honest = info.get("honest")
            if honest is None and argues is not None and gold is not None:
                honest = argues == gold
            letter = option_letter(order.index(argues)) if isinstance(argues, int) and 0 <= argues < n else None
            sides.append(SideView(role, role_label(role), str(info.get("name") or ""), argues, honest, letter))
        options = [OptionView(i, option_letter(pos), item.options[i], gold == i,
                              [sd.label for sd in sides if sd.argues == i]) for pos, i in enumerate(order)]

        views = [TurnView(position=x.position, round=x.round, role=x.role, label=role_label(x.role),
                          speaker=x.speaker or "", text=x.text or "",
                          quotes=list(x.quotes or []) if x.role != "judge" else [], model=x.model)
                 for x in turns]
        judged = [_judgment_view(j, gold) for j in judgments]

    own = [j for j in judged if j.judge_kind in OWN_JUDGE_KINDS]
    by_round: dict[int, dict[str, list]] = defaultdict(lambda: {"speeches": [], "notes": [], "reports": []})
    for v in views:
        by_round[v.round]["notes" if v.role == "judge" else "speeches"].append(v)
    for j in own:
        by_round[j.round]["reports"].append(j)
    rounds = []
    for r in sorted(by_round):
        parts = by_round[r]
        said = {j.rationale.strip() for j in parts["reports"]}
        notes = [n for n in parts["notes"] if n.text.strip() and n.text.strip() not in said]
        if parts["speeches"] or notes or parts["reports"]:
            rounds.append(RoundView(r, parts["speeches"], notes, parts["reports"]))
    finals = [j for j in own if j.is_final]
    offline: dict[str, list[JudgmentView]] = defaultdict(list)
    for j in judged:
        if j.judge_kind == "offline-human":
            offline[j.judge_name or "offline judge"].append(j)
    spans = [(q["source_start"], q["source_end"], v.role) for v in views for q in v.quotes
             if q["verified"] and q.get("source_start") is not None and q.get("source_end") is not None]
    details = {k: meta[k] for k in ("room", "story_title", "status_detail", "ended_by", "judge_reward",
                                    "scoring_function", "num_continues") if meta.get(k) not in (None, "", [], {})}
    return TranscriptDetail(
        id=t.id, study_id=t.study_id, external_id=t.external_id, setting=t.setting, origin=t.origin,
        status=t.status, tags=list(t.tags or []), strategy=strategy_label(strategy), created_at=t.created_at,
        question=item.question, options=options, gold_index=gold,
        explanation=gold_row.explanation if gold_row else None, source_title=item.source_title,
        source_text=item.source_text, sides=sides, rounds=rounds, final=finals[-1] if finals else None,
        ai_offline=[j for j in judged if j.judge_kind == "ai-offline"],
        offline_human=dict(offline),
        other=[j for j in judged if j.judge_kind not in (*OWN_JUDGE_KINDS, "ai-offline", "offline-human")],
        quote_spans=spans, details=details,
    )
