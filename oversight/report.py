"""A study's numbers, JSON-ready: counts, judge accuracy per setting and per strategy, calibration,
accuracy by rounds, debater win rates, consultancy by honesty, and time per judgment.

Accuracy counts a final judgment as correct when its probability on the gold answer is above 0.5
(a 50/50 judgment is wrong); `mean_p_correct` is the mean probability on the gold answer; the
interval is the 95 % Wilson score interval of the accuracy.

- `by_setting`: final judgments grouped by (setting, judge kind). The setting is the transcript's
  (e.g. "human debate"); a live judgment without a transcript (direct QA) counts under its
  strategy's protocol, or its assignment's arm. Imported offline judges are their own judge kind
  ("offline-human"), so they never mix into the room judges' numbers.
- `by_strategy`: live final judgments (not from imported transcripts) grouped by strategy
  version and judge kind, where the judgment's transcript or assignment names a strategy: the
  participants' judgments ("human"), the AI judge of AI-only batch runs ("ai") and AI judges
  run afterwards on live transcripts ("ai-offline") each get their own row.
- `by_rounds`: final judgments grouped by (setting, judge kind, rounds), rounds being the number
  of rounds its transcript ran (the highest `Turn.round`).
- `calibration`: per judge kind, final judgments binned by the probability put on the chosen
  answer (the argmax), against the share whose chosen answer is the gold one (a tie chooses none).
- `debates`: in transcripts with two debaters, how often the judge's final probabilities sided
  (> 0.5) with the honest debater, with the dishonest one, with debater A and with debater B.
  Siding with the honest debater is being correct, so the honest win rate equals the accuracy.
- `consultancy`: in transcripts with a consultant, accuracy when the consultant was honest and when
  not, and how often the judge sided with the consultant.
- `sandwich` (in `study_report`): accuracy per condition and strategy version, gap closed and the paired
  per-item comparison, from `oversight.sandwich`.

`tag` keeps the judgments whose transcript or item carries the tag (e.g. "paper" for the NYU rooms
used in the paper). The judgments are read by `oversight.judgment_records.load_judgments` (the
export's query too) on a read-only session; everything else is a pure function over its
`JudgmentRecord`s, so the dashboard and the CLI share one computation.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any

from sqlalchemy import func
from sqlmodel import select

from oversight.db import session_scope
from oversight.judgment_records import JudgmentRecord, load_judgments
from oversight.results_filter import is_result
from oversight.sandwich import sandwich, to_json
from storage.models import Assignment, Item, Judgment, Strategy, Study, Transcript, User

Z95 = 1.959963984540054
HUMAN_JUDGE_KINDS = ("human", "offline-human")


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


def summarise(records: list[JudgmentRecord]) -> dict[str, Any]:
    """n, accuracy (`vocab.is_correct`: the gold option strictly likeliest), mean probability on gold, and the
    Wilson interval."""
    values = [r.p_correct for r in records]
    n = len(values)
    correct = sum(1 for r in records if r.correct)
    low, high = wilson_interval(correct, n)
    return {
        "n": n,
        "n_correct": correct,
        "accuracy": correct / n if n else None,
        "mean_p_correct": sum(values) / n if n else None,
        "ci_low": low,
        "ci_high": high,
    }


def rate(successes: int, n: int) -> dict[str, Any]:
    """A share with its Wilson interval."""
    low, high = wilson_interval(successes, n)
    return {"rate": successes / n if n else None, "ci_low": low, "ci_high": high}


def filter_records(records: Iterable[JudgmentRecord], *, tag: str | None = None,
                   strategy_ids: Sequence[int] | None = None, judge_kinds: Sequence[str] | None = None,
                   settings: Sequence[str] | None = None) -> list[JudgmentRecord]:
    """Keep records with the tag (transcript or item), under one of the strategies, of one of the judge kinds.
    An empty or None filter keeps everything."""
    out = []
    for r in records:
        if tag and tag not in r.tags:
            continue
        if strategy_ids and r.strategy_id not in strategy_ids:
            continue
        if judge_kinds and r.judge_kind not in judge_kinds:
            continue
        if settings and r.setting not in settings:
            continue
        out.append(r)
    return out


def _scored(records: Iterable[JudgmentRecord]) -> list[JudgmentRecord]:
    return [r for r in records if r.is_final and r.p_correct is not None]


def accuracy_by(records: Iterable[JudgmentRecord], key: Callable[[JudgmentRecord], Hashable],
                names: Sequence[str]) -> list[dict[str, Any]]:
    """Final judgments grouped by `key` (a tuple, one value per name in `names`), summarised, sorted by key."""
    groups: dict[Any, list[JudgmentRecord]] = defaultdict(list)
    for r in _scored(records):
        groups[key(r)].append(r)
    return [{**dict(zip(names, k)), **summarise(v)} for k, v in sorted(groups.items(), key=lambda kv: _sort_key(kv[0]))]


def _sort_key(key: tuple) -> tuple:
    return tuple((v is None, v if v is not None else 0) if isinstance(v, (int, float)) else (v is None, str(v))
                 for v in key)


def accuracy_by_setting(records: Iterable[JudgmentRecord]) -> list[dict[str, Any]]:
    return accuracy_by(records, lambda r: (r.setting, r.judge_kind), ("setting", "judge_kind"))


def accuracy_by_rounds(records: Iterable[JudgmentRecord]) -> list[dict[str, Any]]:
    """Accuracy per (setting, judge kind, rounds the transcript ran); judgments without a transcript are left out."""
    return accuracy_by([r for r in records if r.rounds is not None],
                       lambda r: (r.setting, r.judge_kind, r.rounds), ("setting", "judge_kind", "rounds"))


def accuracy_by_strategy(records: Iterable[JudgmentRecord], strategies: dict[int, Any]) -> list[dict[str, Any]]:
    """Live final judgments per (strategy version, judge kind); `strategies` maps id -> Strategy (or None)."""
    groups: dict[tuple[int, str], list[JudgmentRecord]] = defaultdict(list)
    for r in _scored(records):
        if r.origin != "imported" and r.strategy_id is not None:
            groups[(r.strategy_id, r.judge_kind)].append(r)

    def order(kv):
        (sid, kind), _ = kv
        st = strategies.get(sid)
        return (st.name if st else "", st.version if st else 0, kind)

    rows = []
    for (sid, kind), values in sorted(groups.items(), key=order):
        st = strategies.get(sid)
        rows.append({
            "strategy_id": sid,
            "strategy": st.name if st else None,
            "version": st.version if st else None,
            "label": f"{st.name} v{st.version}" if st else f"strategy {sid}",
            "protocol": st.protocol if st else None,
            "judge_kind": kind,
            **summarise(values),
        })
    return rows


def calibration(records: Iterable[JudgmentRecord], bins: int = 10) -> dict[str, Any]:
    """Final judgments binned by p(chosen answer) in `bins` equal bins of [0, 1] (1.0 in the last);
    per non-empty bin: mean confidence and the share whose chosen answer is the gold one, with a Wilson
    interval. `ece` is the expected calibration error (bin-weighted |confidence - share correct|)."""
    groups: dict[int, list[tuple[float, bool]]] = defaultdict(list)
    for r in records:
        if not r.is_final or r.p_chosen is None:
            continue
        p = min(max(r.p_chosen, 0.0), 1.0)
        groups[min(int(p * bins), bins - 1)].append((p, r.chosen is not None and r.chosen == r.gold))
    rows, n_total, gap = [], 0, 0.0
    for b in sorted(groups):
        values = groups[b]
        n = len(values)
        hits = sum(1 for _, ok in values if ok)
        confidence = sum(p for p, _ in values) / n
        low, high = wilson_interval(hits, n)
        rows.append({"bin_low": b / bins, "bin_high": (b + 1) / bins, "n": n, "n_correct": hits,
                     "mean_confidence": confidence, "fraction_correct": hits / n, "ci_low": low, "ci_high": high})
        n_total += n
        gap += n * abs(confidence - hits / n)
    return {"n": n_total, "ece": gap / n_total if n_total else None, "bins": rows}


def calibration_by(records: Iterable[JudgmentRecord], key: Callable[[JudgmentRecord], str] = lambda r: r.judge_kind,
                   bins: int = 10) -> list[dict[str, Any]]:
    """`calibration` per group (by default per judge kind), groups sorted by name."""
    groups: dict[str, list[JudgmentRecord]] = defaultdict(list)
    for r in records:
        if r.is_final:
            groups[key(r)].append(r)
    return [{"group": g, **calibration(rs, bins)} for g, rs in sorted(groups.items())]


def _honest(info: dict, gold: int) -> bool:
    return bool(info["honest"]) if "honest" in info else info.get("argues") == gold


def debate_win_rates(records: Iterable[JudgmentRecord]) -> list[dict[str, Any]]:
    """Per (setting, judge kind), over final judgments of transcripts with debater A and B: how often the judge
    sided (p > 0.5) with the honest debater, the dishonest one, debater A, debater B, and the honest debater
    when it was A and when it was B. Neither side above 0.5 is a tie."""
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in records:
        a, b = r.roles.get("debater_a") or {}, r.roles.get("debater_b") or {}
        if not r.is_final or a.get("argues") is None or b.get("argues") is None:
            continue
        if r.p_of(a["argues"]) is None or r.p_of(b["argues"]) is None:
            continue
        pa, pb = r.sides_with(a["argues"]), r.sides_with(b["argues"])
        honest_a, honest_b = _honest(a, r.gold), _honest(b, r.gold)
        if honest_a == honest_b:
            continue  # both or neither honest: no honest/dishonest contest to count
        p_honest, p_dishonest = (pa, pb) if honest_a else (pb, pa)
        groups[(r.setting, r.judge_kind)].append({"a": pa, "b": pb, "honest": p_honest,
                                                  "dishonest": p_dishonest, "honest_is_a": honest_a})
    rows = []
    for (setting, kind), games in sorted(groups.items()):
        n = len(games)
        honest = sum(g["honest"] for g in games)
        dishonest = sum(g["dishonest"] for g in games)
        as_a = [g for g in games if g["honest_is_a"]]
        as_b = [g for g in games if not g["honest_is_a"]]
        win_a = rate(sum(g["a"] for g in games), n)
        win_b = rate(sum(g["b"] for g in games), n)
        honest_a = rate(sum(g["honest"] for g in as_a), len(as_a))
        honest_b = rate(sum(g["honest"] for g in as_b), len(as_b))
        rows.append({
            "setting": setting, "judge_kind": kind, "n": n,
            "honest_wins": honest, "dishonest_wins": dishonest, "ties": n - honest - dishonest,
            "honest_win_rate": honest / n, **{f"honest_{k}": v for k, v in rate(honest, n).items() if k != "rate"},
            "dishonest_win_rate": dishonest / n,
            "a_win_rate": win_a["rate"], "a_ci_low": win_a["ci_low"], "a_ci_high": win_a["ci_high"],
            "b_win_rate": win_b["rate"], "b_ci_low": win_b["ci_low"], "b_ci_high": win_b["ci_high"],
            "n_honest_a": len(as_a), "honest_as_a_win_rate": honest_a["rate"],
            "n_honest_b": len(as_b), "honest_as_b_win_rate": honest_b["rate"],
        })
    return rows


def consultancy_by_honesty(records: Iterable[JudgmentRecord]) -> list[dict[str, Any]]:
    """Per (setting, judge kind, consultant honest?), over final judgments of transcripts with a consultant:
    the judge's accuracy, and how often the judge sided (p > 0.5) with the consultant's answer."""
    groups: dict[tuple[str, str, bool], list[JudgmentRecord]] = defaultdict(list)
    for r in _scored(records):
        c = r.roles.get("consultant") or {}
        if c.get("argues") is None or "debater_a" in r.roles:
            continue
        groups[(r.setting, r.judge_kind, _honest(c, r.gold))].append(r)
    rows = []
    for (setting, kind, honest), rs in sorted(groups.items()):
        sided = sum(1 for r in rs if r.sides_with(r.roles["consultant"]["argues"]))
        win = rate(sided, len(rs))
        rows.append({"setting": setting, "judge_kind": kind, "consultant": "honest" if honest else "dishonest",
                     **summarise(rs),
                     "consultant_win_rate": win["rate"], "consultant_ci_low": win["ci_low"],
                     "consultant_ci_high": win["ci_high"]})
    return rows


def _quantile(sorted_values: list[float], q: float) -> float:
    if len(sorted_values) == 1:
        return sorted_values[0]
    return statistics.quantiles(sorted_values, n=4, method="inclusive")[{0.25: 0, 0.5: 1, 0.75: 2}[q]]


def judgment_times(records: Iterable[JudgmentRecord], judge_kinds: Sequence[str] = HUMAN_JUDGE_KINDS
                   ) -> list[dict[str, Any]]:
    """Seconds per judgment (every judgment that recorded them, final or not) of human judges, per
    (setting, judge kind): n, mean, median, quartiles, and the values themselves (`seconds`)."""
    groups: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in records:
        if r.judge_kind in judge_kinds and r.seconds is not None and r.seconds >= 0:
            groups[(r.setting, r.judge_kind)].append(float(r.seconds))
    rows = []
    for (setting, kind), values in sorted(groups.items()):
        values.sort()
        rows.append({"setting": setting, "judge_kind": kind, "n": len(values), "mean": sum(values) / len(values),
                     "median": statistics.median(values), "q1": _quantile(values, 0.25),
                     "q3": _quantile(values, 0.75), "seconds": values})
    return rows


def _study_and_counts(s, study_id: int) -> tuple[Study, dict[str, int]]:
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
            .outerjoin(Assignment, Assignment.id == Judgment.assignment_id)
            .where(Item.study_id == study_id, is_result(s, study_id))  # practice, catch, excluded: not results
        ),
    }
    return study, counts


def _strategies(s, study_id: int) -> dict[int, Strategy]:
    return {st.id: st for st in s.exec(select(Strategy).where(Strategy.study_id == study_id)).all()}


def study_report(*, study_id: int, tag: str | None = None) -> dict[str, Any]:
    """The headline numbers of a study (optionally only judgments tagged `tag`), JSON-ready: the dashboard's
    figures without the per-judgment times, and the sandwich (`oversight.sandwich.to_json`: per condition and
    version, gap closed, paired comparison), which covers the whole study whatever `tag` says."""
    report = dashboard(study_id=study_id, tag=tag)
    del report["times"]
    from dataclasses import asdict

    from oversight.agreement import agreement

    return {**report, "tag": tag, "sandwich": to_json(sandwich(study_id=study_id)),
            "agreement": asdict(agreement(study_id=study_id))}


def dashboard(*, study_id: int, tag: str | None = None, strategy_ids: Sequence[int] | None = None,
              judge_kinds: Sequence[str] | None = None, bins: int = 10) -> dict[str, Any]:
    """Everything the results page draws, after its filters (`dashboard_options` lists what they offer)."""
    with session_scope(write=False) as s:
        study, counts = _study_and_counts(s, study_id)
        strategies = _strategies(s, study_id)
    every = load_judgments(study_id=study_id, final_only=False)
    chosen = filter_records(every, tag=tag, strategy_ids=strategy_ids, judge_kinds=judge_kinds)
    final = _scored(chosen)
    counts["final_judgments"] = len(final)
    counts["transcripts_judged"] = len({r.transcript_id for r in final if r.transcript_id is not None})
    return {
        "study_id": study_id,
        "study": study.name,
        "counts": counts,
        "by_setting": accuracy_by_setting(final),
        "by_strategy": accuracy_by_strategy(final, strategies),
        "by_rounds": accuracy_by_rounds(final),
        "calibration": calibration_by(final, bins=bins),
        "debates": debate_win_rates(final),
        "consultancy": consultancy_by_honesty(final),
        "times": judgment_times(chosen),
    }


def dashboard_options(*, study_id: int) -> dict[str, Any]:
    """What the results page's filters offer: the study's tags (transcripts' and items'), the judge kinds
    that judged its items, and its strategy versions. Read-only."""
    with session_scope(write=False) as s:
        kinds = s.exec(select(Judgment.judge_kind).join(Item, Item.id == Judgment.item_id)
                       .where(Item.study_id == study_id).distinct()).all()
        tags: set[str] = set()
        for t_tags in s.exec(select(Transcript.tags).where(Transcript.study_id == study_id)).all():
            tags.update(t_tags or [])
        for i_tags in s.exec(select(Item.tags).where(Item.study_id == study_id)).all():
            tags.update(i_tags or [])
        strategies = sorted(_strategies(s, study_id).values(), key=lambda st: (st.name, st.version))
        return {
            "tags": sorted(tags),
            "judge_kinds": sorted(kinds),
            "strategies": [{"id": st.id, "label": f"{st.name} v{st.version} ({st.protocol})"} for st in strategies],
        }
