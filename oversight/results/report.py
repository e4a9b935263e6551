"""A study's numbers, JSON-ready: counts, judge accuracy per setting and per strategy, calibration,
accuracy by rounds, debater win rates, consultancy by honesty, and time per judgment.

Only results count (`oversight.results.results_filter`, applied by `load_judgments`: no practice, catch, excluded, preview
or, outside a dry run, simulated answers). A final judgment is correct by `vocab.is_correct` (the gold option has
the largest probability, strictly: a tie is not correct; for two options p > 0.5); `mean_p_correct` is the mean
probability on the gold answer.

Every accuracy and rate comes with its 95 % interval from `oversight.results.intervals` (two-way cluster bootstrap over
items and people; a model's answers over items only) and n answers, n items and n people. A judge is a person: a
user (`judge_id`) or an imported judge (by name); AI judges ("ai", "ai-offline") are no people.

Non-experts and experts are never pooled: every table groups by judge kind *and* judge group
(`JudgmentRecord.judge_group`: "participant" or "expert"; None for AI judges and imported judges), and names the
row's judge (`judge`: "non-experts", "experts", or the judge kind).

Timed-out tasks (assignment state "skipped": no judgment) are an outcome: every accuracy table counts them per row
(`n_timed_out`) and gives the accuracy counting them as incorrect (`accuracy_itt`, intention to treat) beside the
accuracy over final judgments.

- `by_setting`: final judgments grouped by (setting, judge kind, judge group). The setting is the transcript's
  (e.g. "human debate"); a live judgment without a transcript (direct QA) counts under its strategy's protocol,
  or its assignment's arm. Imported offline judges are their own judge kind ("offline-human"), so they never mix
  into the room judges' numbers.
- `by_strategy`: live final judgments (not from imported transcripts) grouped by strategy version, judge kind and
  group, where the judgment's transcript or assignment names a strategy: people ("human"), the AI judge of
  AI-only batch runs ("ai") and AI judges run afterwards on live transcripts ("ai-offline").
- `by_rounds`: final judgments grouped by (setting, judge kind, group, rounds), rounds being the number of rounds
  its transcript ran (the highest `Turn.round`).
- `calibration`: per judge (kind and group), final judgments binned by the probability put on the chosen answer
  (the argmax), against the share whose chosen answer is the gold one (a tie chooses none).
- `debates`: in transcripts with two debaters, how often the judge sided (`sides_with`) with the honest debater,
  with the dishonest one, with debater A and with debater B. Siding with the honest debater is being correct, so
  the honest win rate equals the accuracy.
- `consultancy`: in transcripts with a consultant, accuracy when the consultant was honest and when not, and how
  often the judge sided with the consultant.
- `sandwich` (in `study_report`): accuracy per condition and strategy version, gap closed and the paired
  per-item comparison, from `oversight.sandwiching.analysis`.

`tag` keeps the judgments whose transcript or item carries the tag (e.g. "paper" for the NYU rooms used in the
paper). The judgments are read by `oversight.results.judgment_records.load_judgments` (the export's query too; judgments of
transcripts a re-run superseded are left out) and the timed-out tasks by `timed_out_tasks`, on read-only sessions; everything else is a pure function over records, so
the dashboard and the CLI share one computation.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

from oversight.results import intervals
from oversight.db import session_scope
from oversight.results.intervals import Estimate, Obs
from oversight.results.judgment_records import JudgmentRecord, load_judgments, untranscribed_setting
from oversight.results.results_filter import (GROUP_LABELS, is_dry_run, is_result, judge_group, people_left_out,
                                      result_assignment)
from oversight.sandwiching.analysis import TIMED_OUT, method, sandwich, to_json
from storage.models import Assignment, Item, ItemGold, Judgment, Strategy, Study, Transcript, Turn, User

HUMAN_JUDGE_KINDS = ("human", "offline-human")
AI_JUDGE_KINDS = ("ai", "ai-offline")
METHOD = method()


@dataclass(frozen=True)
class TimedOutTask:
    """A person's task whose time ran out (assignment "skipped"): no judgment, but an outcome of its row. Carries
    what the tables group and filter by, like a `JudgmentRecord`."""

    item_id: int
    judge_id: int
    judge_group: str | None
    setting: str
    gold: int | None = None
    strategy_id: int | None = None
    tags: tuple[str, ...] = ()
    transcript_id: int | None = None
    rounds: int | None = None
    roles: dict = field(default_factory=dict, hash=False, compare=False)
    judge_kind: str = "human"
    judge_name: str = ""
    origin: str = "live"


def person_of(r: JudgmentRecord | TimedOutTask) -> Hashable | None:
    """The person a judgment clusters on: its user, or an imported judge by name; None for an AI judge (its
    answers are resampled over items only) or an unnamed imported one."""
    if r.judge_kind in AI_JUDGE_KINDS:
        return None
    if r.judge_id is not None:
        return r.judge_id
    return f"name:{r.judge_name}" if r.judge_name else None


def judge_label(judge_kind: str, group: str | None) -> str:
    """The row's judge in words: "non-experts" or "experts" for people of the study, else the judge kind."""
    return GROUP_LABELS[group].lower() if judge_kind == "human" and group in GROUP_LABELS else judge_kind


def _share(obs: Sequence[Obs], key: str) -> Estimate:
    return intervals.accuracy(obs, key=key)


def estimate_fields(e: Estimate, prefix: str = "") -> dict[str, Any]:
    """An estimate's interval and counts as row fields: ci_low, ci_high, n_items, n_people (prefixed)."""
    return {f"{prefix}ci_low": e.ci_low, f"{prefix}ci_high": e.ci_high, f"{prefix}n_items": e.n_items,
            f"{prefix}n_people": e.n_people}


def summarise(records: Sequence[JudgmentRecord], timed_out: Sequence[TimedOutTask] = (), key: str = ""
              ) -> dict[str, Any]:
    """n, accuracy (`vocab.is_correct`), mean probability on gold, the interval with n items and n people; the
    timed-out tasks (`n_timed_out`) and the accuracy counting them as incorrect (`accuracy_itt` with its interval).
    `key` names the row, so its resamples are its own and reproducible."""
    obs = [Obs(r.item_id, person_of(r), float(bool(r.correct))) for r in records]
    n = len(obs)
    correct = sum(1 for r in records if r.correct)
    acc = _share(obs, key)
    row = {
        "n": n,
        "n_correct": correct,
        "accuracy": acc.estimate,
        "mean_p_correct": sum(r.p_correct for r in records) / n if n else None,
        **estimate_fields(acc),
        "n_timed_out": len(timed_out),
    }
    if timed_out:
        itt = _share(obs + [Obs(t.item_id, person_of(t), 0.0) for t in timed_out], f"itt:{key}")
    else:
        itt = acc
    row.update({"accuracy_itt": itt.estimate, "itt_ci_low": itt.ci_low, "itt_ci_high": itt.ci_high})
    return row


Z95 = 1.959963984540054


def wilson_interval(successes: float, n: int, z: float = Z95) -> tuple[float | None, float | None]:
    """Legacy (no figure of this module uses it): the Wilson score interval, kept for RLAIF's model-labeller
    proportions (oversight/rlaif) until they move; (None, None) when n is 0."""
    if n == 0:
        return None, None
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


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


Row = JudgmentRecord | TimedOutTask


def _group_key(r: Row) -> tuple[str, str | None]:
    return r.judge_kind, r.judge_group


def accuracy_by(records: Iterable[JudgmentRecord], key: Callable[[Row], Hashable], names: Sequence[str],
                timed_out: Iterable[TimedOutTask] = ()) -> list[dict[str, Any]]:
    """Final judgments (and timed-out tasks) grouped by `key` (a tuple, one value per name in `names`),
    summarised, sorted by key. Where the names hold judge_kind and judge_group, the row also names its `judge`."""
    groups: dict[Any, list[JudgmentRecord]] = defaultdict(list)
    skipped: dict[Any, list[TimedOutTask]] = defaultdict(list)
    for r in _scored(records):
        groups[key(r)].append(r)
    for t in timed_out:
        skipped[key(t)].append(t)
    rows = []
    for k in sorted(set(groups) | set(skipped), key=_sort_key):
        row = dict(zip(names, k))
        if "judge_kind" in row and "judge_group" in row:
            row["judge"] = judge_label(row["judge_kind"], row["judge_group"])
        rows.append({**row, **summarise(groups.get(k, []), skipped.get(k, []), key=repr(k))})
    return rows


def _sort_key(key: tuple) -> tuple:
    return tuple((v is None, v if v is not None else 0) if isinstance(v, (int, float)) else (v is None, str(v))
                 for v in key)


def accuracy_by_setting(records: Iterable[JudgmentRecord], timed_out: Iterable[TimedOutTask] = ()
                        ) -> list[dict[str, Any]]:
    return accuracy_by(records, lambda r: (r.setting, *_group_key(r)), ("setting", "judge_kind", "judge_group"),
                       timed_out)


def accuracy_by_rounds(records: Iterable[JudgmentRecord], timed_out: Iterable[TimedOutTask] = ()
                       ) -> list[dict[str, Any]]:
    """Accuracy per (setting, judge kind, group, rounds the transcript ran); judgments without a transcript are
    left out."""
    return accuracy_by([r for r in records if r.rounds is not None],
                       lambda r: (r.setting, *_group_key(r), r.rounds),
                       ("setting", "judge_kind", "judge_group", "rounds"),
                       [t for t in timed_out if t.rounds is not None])


def accuracy_by_strategy(records: Iterable[JudgmentRecord], strategies: dict[int, Any],
                         timed_out: Iterable[TimedOutTask] = ()) -> list[dict[str, Any]]:
    """Live final judgments (and timed-out tasks) per (strategy version, judge kind, group); `strategies` maps
    id -> Strategy (or None)."""
    groups: dict[tuple, list[JudgmentRecord]] = defaultdict(list)
    skipped: dict[tuple, list[TimedOutTask]] = defaultdict(list)
    for r in _scored(records):
        if r.origin != "imported" and r.strategy_id is not None:
            groups[(r.strategy_id, *_group_key(r))].append(r)
    for t in timed_out:
        if t.strategy_id is not None:
            skipped[(t.strategy_id, *_group_key(t))].append(t)

    def order(k):
        sid, kind, group = k
        st = strategies.get(sid)
        return (st.name if st else "", st.version if st else 0, kind, group or "")

    rows = []
    for k in sorted(set(groups) | set(skipped), key=order):
        sid, kind, group = k
        st = strategies.get(sid)
        rows.append({
            "strategy_id": sid,
            "strategy": st.name if st else None,
            "version": st.version if st else None,
            "label": f"{st.name} v{st.version}" if st else f"strategy {sid}",
            "protocol": st.protocol if st else None,
            "judge_kind": kind,
            "judge_group": group,
            "judge": judge_label(kind, group),
            **summarise(groups.get(k, []), skipped.get(k, []), key=f"strategy:{k!r}"),
        })
    return rows


def calibration(records: Iterable[JudgmentRecord], bins: int = 10, key: str = "") -> dict[str, Any]:
    """Final judgments binned by p(chosen answer) in `bins` equal bins of [0, 1] (1.0 in the last);
    per non-empty bin: mean confidence and the share whose chosen answer is the gold one, with its interval
    (`oversight.results.intervals`) and n items and people. `ece` is the expected calibration error (bin-weighted
    |confidence - share correct|)."""
    groups: dict[int, list[tuple[float, bool, JudgmentRecord]]] = defaultdict(list)
    for r in records:
        if not r.is_final or r.p_chosen is None:
            continue
        p = min(max(r.p_chosen, 0.0), 1.0)
        groups[min(int(p * bins), bins - 1)].append((p, r.chosen is not None and r.chosen == r.gold, r))
    rows, n_total, gap = [], 0, 0.0
    for b in sorted(groups):
        values = groups[b]
        n = len(values)
        hits = sum(1 for _, ok, _ in values if ok)
        confidence = sum(p for p, _, _ in values) / n
        share = _share([Obs(r.item_id, person_of(r), float(ok)) for _, ok, r in values], f"calibration:{key}:{b}")
        rows.append({"bin_low": b / bins, "bin_high": (b + 1) / bins, "n": n, "n_correct": hits,
                     "mean_confidence": confidence, "fraction_correct": hits / n, **estimate_fields(share)})
        n_total += n
        gap += n * abs(confidence - hits / n)
    return {"n": n_total, "ece": gap / n_total if n_total else None, "bins": rows}


def record_judge(r: JudgmentRecord) -> str:
    return judge_label(r.judge_kind, r.judge_group)


def calibration_by(records: Iterable[JudgmentRecord], key: Callable[[JudgmentRecord], str] = record_judge,
                   bins: int = 10) -> list[dict[str, Any]]:
    """`calibration` per group (by default per judge: non-experts, experts, or the judge kind), sorted by name."""
    groups: dict[str, list[JudgmentRecord]] = defaultdict(list)
    for r in records:
        if r.is_final:
            groups[key(r)].append(r)
    return [{"group": g, **calibration(rs, bins, key=g)} for g, rs in sorted(groups.items())]


def _honest(info: dict, gold: int) -> bool:
    return bool(info["honest"]) if "honest" in info else info.get("argues") == gold


def _rate(games: Sequence[dict], field_name: str, key: str) -> Estimate:
    return _share([Obs(g["item"], g["person"], float(g[field_name])) for g in games], key)


def _debate_sides(roles: dict, gold: int) -> tuple[dict, dict, bool, bool] | None:
    a, b = roles.get("debater_a") or {}, roles.get("debater_b") or {}
    if a.get("argues") is None or b.get("argues") is None:
        return None
    honest_a, honest_b = _honest(a, gold), _honest(b, gold)
    if honest_a == honest_b:
        return None  # both or neither honest: no honest/dishonest contest to count
    return a, b, honest_a, honest_b


def debate_win_rates(records: Iterable[JudgmentRecord], timed_out: Iterable[TimedOutTask] = ()
                     ) -> list[dict[str, Any]]:
    """Per (setting, judge kind, group), over final judgments of transcripts with debater A and B: how often the
    judge sided (`sides_with`) with the honest debater, the dishonest one, debater A, debater B, and the honest
    debater when it was A and when it was B. Siding with neither is a tie. `n_timed_out`: debates whose time ran
    out before the judge's final answer (their honest win rate counting them as lost is the accuracy_itt of
    `by_setting`)."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in records:
        if not r.is_final or r.gold is None:
            continue
        sides = _debate_sides(r.roles, r.gold)
        if sides is None:
            continue
        a, b, honest_a, _ = sides
        if r.p_of(a["argues"]) is None or r.p_of(b["argues"]) is None:
            continue
        pa, pb = r.sides_with(a["argues"]), r.sides_with(b["argues"])
        p_honest, p_dishonest = (pa, pb) if honest_a else (pb, pa)
        groups[(r.setting, *_group_key(r))].append({"a": pa, "b": pb, "honest": p_honest, "dishonest": p_dishonest,
                                                    "honest_is_a": honest_a, "item": r.item_id,
                                                    "person": person_of(r)})
    skipped: dict[tuple, int] = defaultdict(int)
    for t in timed_out:
        if t.gold is not None and _debate_sides(t.roles, t.gold) is not None:
            skipped[(t.setting, *_group_key(t))] += 1
    rows = []
    for k, games in sorted(groups.items(), key=lambda kv: _sort_key(kv[0])):
        setting, kind, group = k
        name = repr(k)
        n = len(games)
        honest = sum(g["honest"] for g in games)
        dishonest = sum(g["dishonest"] for g in games)
        as_a = [g for g in games if g["honest_is_a"]]
        as_b = [g for g in games if not g["honest_is_a"]]
        e_honest = _rate(games, "honest", f"debate-honest:{name}")
        win_a = _rate(games, "a", f"debate-a:{name}")
        win_b = _rate(games, "b", f"debate-b:{name}")
        rows.append({
            "setting": setting, "judge_kind": kind, "judge_group": group, "judge": judge_label(kind, group), "n": n,
            "n_items": e_honest.n_items, "n_people": e_honest.n_people, "n_timed_out": skipped.get(k, 0),
            "honest_wins": honest, "dishonest_wins": dishonest, "ties": n - honest - dishonest,
            "honest_win_rate": honest / n, "honest_ci_low": e_honest.ci_low, "honest_ci_high": e_honest.ci_high,
            "dishonest_win_rate": dishonest / n,
            "a_win_rate": win_a.estimate, "a_ci_low": win_a.ci_low, "a_ci_high": win_a.ci_high,
            "b_win_rate": win_b.estimate, "b_ci_low": win_b.ci_low, "b_ci_high": win_b.ci_high,
            "n_honest_a": len(as_a), "honest_as_a_win_rate": sum(g["honest"] for g in as_a) / len(as_a) if as_a else None,
            "n_honest_b": len(as_b), "honest_as_b_win_rate": sum(g["honest"] for g in as_b) / len(as_b) if as_b else None,
        })
    return rows


def consultancy_by_honesty(records: Iterable[JudgmentRecord], timed_out: Iterable[TimedOutTask] = ()
                           ) -> list[dict[str, Any]]:
    """Per (setting, judge kind, group, consultant honest?), over final judgments of transcripts with a
    consultant: the judge's accuracy (with the timed-out consultancies counted, and counted as incorrect), and
    how often the judge sided (`sides_with`) with the consultant's answer."""
    groups: dict[tuple, list[JudgmentRecord]] = defaultdict(list)
    for r in _scored(records):
        c = r.roles.get("consultant") or {}
        if c.get("argues") is None or "debater_a" in r.roles:
            continue
        groups[(r.setting, *_group_key(r), _honest(c, r.gold))].append(r)
    skipped: dict[tuple, list[TimedOutTask]] = defaultdict(list)
    for t in timed_out:
        c = t.roles.get("consultant") or {}
        if t.gold is None or c.get("argues") is None or "debater_a" in t.roles:
            continue
        skipped[(t.setting, *_group_key(t), _honest(c, t.gold))].append(t)
    rows = []
    for k in sorted(groups, key=_sort_key):
        setting, kind, group, honest = k
        rs = groups[k]
        win = _share([Obs(r.item_id, person_of(r), float(r.sides_with(r.roles["consultant"]["argues"])))
                      for r in rs], f"consultant:{k!r}")
        rows.append({"setting": setting, "judge_kind": kind, "judge_group": group, "judge": judge_label(kind, group),
                     "consultant": "honest" if honest else "dishonest",
                     **summarise(rs, skipped.get(k, []), key=f"consultancy:{k!r}"),
                     "consultant_win_rate": win.estimate, "consultant_ci_low": win.ci_low,
                     "consultant_ci_high": win.ci_high})
    return rows


def _quantile(sorted_values: list[float], q: float) -> float:
    if len(sorted_values) == 1:
        return sorted_values[0]
    return statistics.quantiles(sorted_values, n=4, method="inclusive")[{0.25: 0, 0.5: 1, 0.75: 2}[q]]


def judgment_times(records: Iterable[JudgmentRecord], judge_kinds: Sequence[str] = HUMAN_JUDGE_KINDS
                   ) -> list[dict[str, Any]]:
    """Seconds per judgment (every judgment that recorded them, final or not) of human judges, per
    (setting, judge kind, group): n, mean, median, quartiles, and the values themselves (`seconds`)."""
    groups: dict[tuple, list[float]] = defaultdict(list)
    for r in records:
        if r.judge_kind in judge_kinds and r.seconds is not None and r.seconds >= 0:
            groups[(r.setting, *_group_key(r))].append(float(r.seconds))
    rows = []
    for (setting, kind, group), values in sorted(groups.items(), key=lambda kv: _sort_key(kv[0])):
        values.sort()
        rows.append({"setting": setting, "judge_kind": kind, "judge_group": group, "judge": judge_label(kind, group),
                     "n": len(values), "mean": sum(values) / len(values),
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
        "items": count(select(func.count()).select_from(Item).where(Item.of_study(study_id))),
        "participants": count(
            select(func.count()).select_from(User).where(User.study_id == study_id, User.role == "participant")
        ),
        "transcripts": count(select(func.count()).select_from(Transcript).where(Transcript.of_study(study_id))),
        "judgments": count(
            select(func.count()).select_from(Judgment).join(Item, Item.id == Judgment.item_id)
            .outerjoin(Assignment, Assignment.id == Judgment.assignment_id)
            .where(Item.of_study(study_id), Judgment.landed(), is_result(s, study_id))  # practice, catch, excluded: not results
        ),
    }
    return study, counts


def timed_out_tasks(s: Session, study_id: int) -> list[TimedOutTask]:
    """The study's timed-out tasks (assignment "skipped") that are results (`results_filter.result_assignment`:
    not practice, not catch, not by a person left out), with the setting, strategy, tags, roles and rounds their
    judgment would have had. Read-only."""
    rows = s.exec(
        select(Assignment.item_id, Assignment.participant_id, Assignment.strategy_id, Assignment.protocol, User.role,
               User.name, Item.tags, ItemGold.gold_index, Transcript.id, Transcript.setting_column(), Transcript.tags,
               Transcript.meta, Transcript.strategy_id)
        .join(User, User.id == Assignment.participant_id)
        .join(Item, Item.id == Assignment.item_id)
        .outerjoin(ItemGold, ItemGold.item_id == Assignment.item_id)
        .outerjoin(Transcript, Transcript.assignment_id == Assignment.id)
        .where(Assignment.study_id == study_id, Assignment.state == TIMED_OUT,
               result_assignment(people_left_out(s, study_id)))
        .order_by(Assignment.id)).all()
    protocols = dict(s.exec(select(Strategy.id, Strategy.protocol).where(Strategy.study_id == study_id)).all())
    transcripts = [r[8] for r in rows if r[8] is not None]
    rounds = dict(s.exec(select(Turn.transcript_id, func.max(Turn.round)).where(Turn.transcript_id.in_(transcripts))
                         .group_by(Turn.transcript_id)).all()) if transcripts else {}
    out = []
    for (item, person, a_strategy, a_protocol, role, name, item_tags, gold, t_id, t_setting, t_tags, meta,
         t_strategy) in rows:
        strategy = t_strategy or a_strategy
        out.append(TimedOutTask(
            item_id=item, judge_id=person, judge_group=judge_group(role), judge_name=name or "", gold=gold,
            setting=t_setting if t_id is not None else untranscribed_setting(protocols.get(strategy), a_protocol),
            strategy_id=strategy, tags=tuple(dict.fromkeys([*(t_tags or []), *(item_tags or [])])),
            transcript_id=t_id, rounds=int(rounds.get(t_id) or 0) if t_id is not None else None,
            roles=dict((meta or {}).get("roles") or {})))
    return out


def _strategies(s, study_id: int) -> dict[int, Strategy]:
    return {st.id: st for st in s.exec(select(Strategy).where(Strategy.study_id == study_id)).all()}


def study_report(*, study_id: int, tag: str | None = None) -> dict[str, Any]:
    """The headline numbers of a study (optionally only judgments tagged `tag`), JSON-ready: the dashboard's
    figures without the per-judgment times, and the sandwich (`oversight.sandwiching.analysis.to_json`: per condition and
    version, gap closed, paired comparison), which covers the whole study whatever `tag` says."""
    report = dashboard(study_id=study_id, tag=tag)
    del report["times"]
    from dataclasses import asdict

    from oversight.sandwiching.agreement import agreement

    return {**report, "tag": tag, "sandwich": to_json(sandwich(study_id=study_id)),
            "agreement": asdict(agreement(study_id=study_id))}


def dashboard(*, study_id: int, tag: str | None = None, strategy_ids: Sequence[int] | None = None,
              judge_kinds: Sequence[str] | None = None, bins: int = 10) -> dict[str, Any]:
    """Everything the results page draws, after its filters (`dashboard_options` lists what they offer)."""
    with session_scope(write=False) as s:
        study, counts = _study_and_counts(s, study_id)
        strategies = _strategies(s, study_id)
        dry_run = is_dry_run(study)
        skipped = timed_out_tasks(s, study_id)
    every = load_judgments(study_id=study_id, final_only=False)
    chosen = filter_records(every, tag=tag, strategy_ids=strategy_ids, judge_kinds=judge_kinds)
    timed_out = filter_records(skipped, tag=tag, strategy_ids=strategy_ids, judge_kinds=judge_kinds)
    final = _scored(chosen)
    counts["final_judgments"] = len(final)
    counts["transcripts_judged"] = len({r.transcript_id for r in final if r.transcript_id is not None})
    counts["timed_out"] = len(timed_out)
    return {
        "study_id": study_id,
        "study": study.name,
        "dry_run": dry_run,  # a dry-run copy: every figure is from simulated people
        "interval": METHOD,
        "counts": counts,
        "by_setting": accuracy_by_setting(final, timed_out),
        "by_strategy": accuracy_by_strategy(final, strategies, timed_out),
        "by_rounds": accuracy_by_rounds(final, timed_out),
        "calibration": calibration_by(final, bins=bins),
        "debates": debate_win_rates(final, timed_out),
        "consultancy": consultancy_by_honesty(final, timed_out),
        "times": judgment_times(chosen),
    }


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def report_text(report: dict[str, Any]) -> str:
    """The per-setting accuracy table in plain text (the CLI's `report`): one line per setting and judge
    (non-experts and experts apart), with its interval, n answers, items and people, and timed-out tasks."""
    lines = []
    if report.get("dry_run"):
        lines.append("DRY RUN: every figure below is from simulated people")
    lines.append(f"accuracy per setting and judge (intervals: {report['interval']})")
    for r in report.get("by_setting", []):
        ci = f" [{_pct(r['ci_low'])}, {_pct(r['ci_high'])}]" if r["ci_low"] is not None else ""
        people = f", {r['n_people']} people" if r["n_people"] else ""
        line = (f"  {r['setting']:<20} {r['judge']:<14} {_pct(r['accuracy']):>6}{ci} "
                f"n={r['n']} answers, {r['n_items']} items{people}")
        if r["n_timed_out"]:
            line += f"; {r['n_timed_out']} timed out: {_pct(r['accuracy_itt'])} counting them incorrect"
        lines.append(line)
    if not report.get("by_setting"):
        lines.append("  no final judgments yet")
    return "\n".join(lines)


def dashboard_options(*, study_id: int) -> dict[str, Any]:
    """What the results page's filters offer: the study's tags (transcripts' and items'), the judge kinds
    that judged its items, and its strategy versions. Read-only."""
    with session_scope(write=False) as s:
        kinds = s.exec(select(Judgment.judge_kind).join(Item, Item.id == Judgment.item_id)
                       .where(Item.of_study(study_id)).distinct()).all()
        tags: set[str] = set()
        for t_tags in s.exec(select(Transcript.tags).where(Transcript.of_study(study_id))).all():
            tags.update(t_tags or [])
        for i_tags in s.exec(select(Item.tags).where(Item.of_study(study_id))).all():
            tags.update(i_tags or [])
        strategies = sorted(_strategies(s, study_id).values(), key=lambda st: (st.name, st.version))
        return {
            "tags": sorted(tags),
            "judge_kinds": sorted(kinds),
            "strategies": [{"id": st.id, "label": f"{st.name} v{st.version} ({st.protocol})"} for st in strategies],
        }
