"""A study's headline numbers, JSON-ready: counts, and judge accuracy per setting and per strategy.

Accuracy counts a final judgment as correct when its probability on the gold answer is above 0.5
(a 50/50 judgment is wrong); `mean_p_correct` is the mean probability on the gold answer; the
interval is the 95 % Wilson score interval of the accuracy.

- `by_setting`: final judgments grouped by (setting, judge kind). The setting is the transcript's
  (e.g. "human debate"); a live judgment without a transcript (direct QA) counts under its
  strategy's protocol, or its assignment's arm. Imported offline judges are their own judge kind
  ("offline-human"), so they never mix into the room judges' numbers.
- `by_strategy`: live final judgments (not from imported transcripts) grouped by strategy
  version and judge kind, where the judgment's transcript or assignment names a strategy.

`tag` keeps the judgments whose transcript or item carries the tag (e.g. "paper" for the NYU rooms
used in the paper). Reads only, on a read-only session.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from sqlalchemy import func
from sqlmodel import select

from oversight.db import session_scope
from storage.models import Assignment, Item, ItemGold, Judgment, Strategy, Study, Transcript, User

Z95 = 1.959963984540054


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float | None, float | None]:
    """Wilson score interval for a proportion; (None, None) when n is 0."""
    if n == 0:
        return None, None
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def p_correct(probabilities: list[float] | None, answer_index: int | None, gold: int) -> float | None:
    """Probability the judgment put on the gold answer (1/0 from a bare answer); None if it has neither."""
    if probabilities and 0 <= gold < len(probabilities):
        return float(probabilities[gold])
    if answer_index is not None:
        return 1.0 if answer_index == gold else 0.0
    return None


def summarise(values: list[float]) -> dict[str, Any]:
    """n, accuracy (share above 0.5), mean probability on gold, and the Wilson interval."""
    n = len(values)
    correct = sum(1 for v in values if v > 0.5)
    low, high = wilson_interval(correct, n)
    return {
        "n": n,
        "n_correct": correct,
        "accuracy": correct / n if n else None,
        "mean_p_correct": sum(values) / n if n else None,
        "ci_low": low,
        "ci_high": high,
    }


def study_report(*, study_id: int, tag: str | None = None) -> dict[str, Any]:
    with session_scope(write=False) as s:
        study = s.get(Study, study_id)
        if study is None:
            raise ValueError(f"study {study_id} does not exist")

        def count(statement) -> int:
            return int(s.exec(statement).one())

        counts = {
            "items": count(select(func.count()).select_from(Item).where(Item.study_id == study_id)),
            "participants": count(
                select(func.count()).select_from(User).where(User.study_id == study_id, User.role == "participant")
            ),
            "transcripts": count(select(func.count()).select_from(Transcript).where(Transcript.study_id == study_id)),
            "judgments": count(
                select(func.count()).select_from(Judgment).join(Item, Item.id == Judgment.item_id)
                .where(Item.study_id == study_id)
            ),
        }

        rows = s.exec(
            select(
                Judgment.probabilities,
                Judgment.answer_index,
                Judgment.judge_kind,
                ItemGold.gold_index,
                Item.tags,
                Transcript.id,
                Transcript.setting,
                Transcript.origin,
                Transcript.tags,
                Transcript.strategy_id,
                Assignment.strategy_id,
                Assignment.arm,
            )
            .join(Item, Item.id == Judgment.item_id)
            .join(ItemGold, ItemGold.item_id == Judgment.item_id)
            .outerjoin(Transcript, Transcript.id == Judgment.transcript_id)
            .outerjoin(Assignment, Assignment.id == Judgment.assignment_id)
            .where(Item.study_id == study_id, Judgment.is_final == True)  # noqa: E712
        ).all()
        strategies = {
            st.id: st for st in s.exec(select(Strategy).where(Strategy.study_id == study_id)).all()
        }

    by_setting: dict[tuple[str, str], list[float]] = defaultdict(list)
    by_strategy: dict[tuple[int, str], list[float]] = defaultdict(list)
    judged_transcripts: set[int] = set()
    for (probs, answer, kind, gold, item_tags, t_id, setting, origin, t_tags, t_strategy, a_strategy, arm) in rows:
        if tag is not None and tag not in (t_tags or []) and tag not in (item_tags or []):
            continue
        value = p_correct(probs, answer, gold)
        if value is None:
            continue
        strategy_id = t_strategy or a_strategy
        if t_id is not None:
            judged_transcripts.add(t_id)
        else:
            strategy = strategies.get(strategy_id)
            setting = strategy.protocol if strategy else (arm or "direct-qa")
        by_setting[(setting, kind)].append(value)
        if origin != "imported" and strategy_id is not None:
            by_strategy[(strategy_id, kind)].append(value)

    counts["final_judgments"] = sum(len(v) for v in by_setting.values())
    counts["transcripts_judged"] = len(judged_transcripts)
    setting_rows = [
        {"setting": setting, "judge_kind": kind, **summarise(values)}
        for (setting, kind), values in sorted(by_setting.items())
    ]
    strategy_rows = []
    for (strategy_id, kind), values in sorted(
        by_strategy.items(),
        key=lambda kv: (
            strategies[kv[0][0]].name if kv[0][0] in strategies else "",
            strategies[kv[0][0]].version if kv[0][0] in strategies else 0,
            kv[0][1],
        ),
    ):
        strategy = strategies.get(strategy_id)
        strategy_rows.append(
            {
                "strategy_id": strategy_id,
                "strategy": strategy.name if strategy else None,
                "version": strategy.version if strategy else None,
                "protocol": strategy.protocol if strategy else None,
                "judge_kind": kind,
                **summarise(values),
            }
        )
    return {
        "study_id": study_id,
        "study": study.name,
        "tag": tag,
        "counts": counts,
        "by_setting": setting_rows,
        "by_strategy": strategy_rows,
    }
