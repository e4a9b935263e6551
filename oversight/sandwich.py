"""The sandwich analysis of a study: accuracy per condition, the paired per-item comparison and the gap closed.

Rows (`SandwichResult.conditions`), in the order the chart draws them:
- model alone (kind "model"): final AI judgments (judge_kind "ai") of transcripts run under the condition's strategy;
- non-expert alone (kind "alone"): participants' final judgments on the condition's assignments;
- non-expert + model (kind "assisted"): the condition pooled (strategy_id None), then one row per strategy version
  actually dealt (Assignment.strategy_id; Thompson allocation may deal candidate versions);
- experts (kind "expert"): experts' final judgments; where none exist the gold stands in at 100 %
  (`gold_stands_in=True`, a fixed point without interval).
Human rows count final judgments by judge_kind "human" on non-practice assignments of the condition; AI judges run
afterwards over live transcripts ("ai-offline") are not a condition. Correct = `oversight.vocab.is_correct` on the
probability of the gold answer; accuracy = correct judgments / judgments.

Intervals: judgments on one item are not independent (an item is hard for everyone), so every 95 % interval is a
percentile *cluster bootstrap over items*: a resample draws the items with replacement (multinomial weights) and a
row's accuracy on it is (weighted correct) / (weighted judgments). `RESAMPLES` (2000) resamples from a generator seeded
by `seed` and the quantity's name, so a result is reproducible and adding a condition does not move the others.

Gap closed = (assisted − alone) / (expert − alone), with "alone" and "expert" pooled over their conditions. Its
interval resamples the items answered in any of the three and computes each accuracy on the same resample; resamples
where a condition has no judgment or expert − alone ≤ 0 are skipped and counted (`skipped`). Given for all assisted
conditions pooled (`gap_closed`), and per assisted condition and per version (`gap_by`).

Paired comparison: per item answered both alone and assisted, the item's alone accuracy and assisted accuracy; the
mean per-item difference (assisted − alone, every item weighs the same) with a bootstrap interval over those items.
"""

from __future__ import annotations

import csv
import io
import zlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlmodel import select

from oversight.db import session_scope
from oversight.judgment_records import load_judgments
from oversight.vocab import SIMULATED
from storage.models import Assignment, Condition, Strategy, Study, User

RESAMPLES = 2000
SEED = 0
KIND_ORDER = ("model", "alone", "assisted", "expert")
KIND_LABELS = {"model": "Model alone", "alone": "Non-expert alone", "assisted": "Non-expert + model",
               "expert": "Experts"}
_CHUNK = 250  # resamples drawn at a time, so a study with many items stays small in memory

# item id -> [correct judgments, judgments]
Counts = dict[int, list[int]]


@dataclass(frozen=True)
class ConditionAccuracy:
    name: str
    kind: str
    estimate: float | None
    ci_low: float | None
    ci_high: float | None
    n: int  # judgments (for gold standing in: the items answered by non-experts)
    n_items: int
    condition_id: int | None = None
    strategy_id: int | None = None  # set on the per-version rows of an assisted condition only
    gold_stands_in: bool = False


@dataclass(frozen=True)
class GapClosed:
    name: str
    estimate: float | None
    ci_low: float | None
    ci_high: float | None
    condition_id: int | None = None
    strategy_id: int | None = None
    n_items: int = 0
    skipped: int = 0  # resamples left out: a condition without judgments, or expert − alone ≤ 0
    note: str = ""


@dataclass(frozen=True)
class PairedItem:
    item_id: int
    alone: float
    assisted: float
    n_alone: int
    n_assisted: int


@dataclass(frozen=True)
class PairedComparison:
    name: str
    condition_id: int | None
    strategy_id: int | None
    items: list[PairedItem]
    mean_alone: float | None
    mean_assisted: float | None
    difference: float | None
    ci_low: float | None
    ci_high: float | None

    @property
    def n_items(self) -> int:
        return len(self.items)


@dataclass(frozen=True)
class SandwichResult:
    study_id: int
    conditions: list[ConditionAccuracy] = field(default_factory=list)
    gap_closed: GapClosed | None = None
    gap_by: list[GapClosed] = field(default_factory=list)
    paired: list[PairedComparison] = field(default_factory=list)
    simulated: bool = False  # the figures include simulated participants or experts
    gold_stands_in: bool = False
    seed: int = SEED
    resamples: int = RESAMPLES
    message: str = ""  # why the result is empty, if it is

    @property
    def empty(self) -> bool:
        return not any(c.n for c in self.conditions if not c.gold_stands_in)


# --- statistics over per-item counts (pure) ---------------------------------------------------------------------


def accuracy(counts: Counts) -> float | None:
    n = sum(v[1] for v in counts.values())
    return sum(v[0] for v in counts.values()) / n if n else None


def gap_closed(assisted: float, alone: float, expert: float) -> float | None:
    """(assisted − alone) / (expert − alone); None where experts do no better than non-experts alone."""
    return (assisted - alone) / (expert - alone) if expert - alone > 0 else None


def _rng(seed: int, key: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(key.encode())])


def _weight_chunks(rng: np.random.Generator, n_items: int, resamples: int) -> Iterable[np.ndarray]:
    """Resamples of `n_items` items with replacement, as how often each item was drawn (rows of a matrix)."""
    p = np.full(n_items, 1.0 / n_items)
    done = 0
    while done < resamples:
        size = min(_CHUNK, resamples - done)
        yield rng.multinomial(n_items, p, size=size).astype(float)
        done += size


def _matrix(groups: list[Counts], items: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Per group: correct and judgments per item, as (groups × items) arrays."""
    correct = np.array([[g.get(i, (0, 0))[0] for i in items] for g in groups], dtype=float).reshape(len(groups), -1)
    total = np.array([[g.get(i, (0, 0))[1] for i in items] for g in groups], dtype=float).reshape(len(groups), -1)
    return correct, total


def _percentiles(values: np.ndarray) -> tuple[float | None, float | None]:
    if values.size == 0:
        return None, None
    low, high = np.quantile(values, [0.025, 0.975])
    return float(low), float(high)


def bootstrap_accuracy(counts: Counts, *, seed: int = SEED, key: str = "", resamples: int = RESAMPLES
                       ) -> tuple[float | None, float | None]:
    """95 % percentile interval of the accuracy, resampling the items (clusters) of `counts`."""
    items = sorted(counts)
    if not items:
        return None, None
    correct, total = _matrix([counts], items)
    values = [(w @ correct[0]) / (w @ total[0]) for w in _weight_chunks(_rng(seed, key), len(items), resamples)]
    return _percentiles(np.concatenate(values))


def bootstrap_gap(alone: Counts, assisted: Counts, expert: Counts | None, *, seed: int = SEED, key: str = "",
                  resamples: int = RESAMPLES) -> tuple[float | None, float | None, int]:
    """95 % interval of the gap closed over items, and how many resamples were skipped. `expert` None: the gold
    stands in (expert accuracy 1 on every resample)."""
    groups = [alone, assisted] + ([expert] if expert is not None else [])
    items = sorted(set().union(*groups))
    if not items:
        return None, None, resamples
    correct, total = _matrix(groups, items)
    kept, skipped = [], 0
    for w in _weight_chunks(_rng(seed, key), len(items), resamples):
        n = w @ total.T  # resamples × groups
        with np.errstate(divide="ignore", invalid="ignore"):
            acc = (w @ correct.T) / n
            exp = acc[:, 2] if expert is not None else np.ones(len(w))
            ok = (n > 0).all(axis=1) & (exp - acc[:, 0] > 0)
            skipped += int((~ok).sum())
            kept.append(((acc[:, 1] - acc[:, 0]) / (exp - acc[:, 0]))[ok])
    low, high = _percentiles(np.concatenate(kept))
    return low, high, skipped


def paired_comparison(name: str, alone: Counts, assisted: Counts, *, condition_id: int | None = None,
                      strategy_id: int | None = None, seed: int = SEED, resamples: int = RESAMPLES
                      ) -> PairedComparison:
    """Per item answered in both: alone vs assisted accuracy; the mean difference with an interval over items."""
    both = sorted(set(alone) & set(assisted))
    rows = [PairedItem(item_id=i, alone=alone[i][0] / alone[i][1], assisted=assisted[i][0] / assisted[i][1],
                       n_alone=alone[i][1], n_assisted=assisted[i][1]) for i in both]
    if not rows:
        return PairedComparison(name, condition_id, strategy_id, [], None, None, None, None, None)
    diff = np.array([r.assisted - r.alone for r in rows])
    means = [(w @ diff) / len(rows) for w in _weight_chunks(_rng(seed, f"paired:{name}"), len(rows), resamples)]
    low, high = _percentiles(np.concatenate(means))
    return PairedComparison(name, condition_id, strategy_id, rows, float(np.mean([r.alone for r in rows])),
                            float(np.mean([r.assisted for r in rows])), float(diff.mean()), low, high)


def _pool(groups: Iterable[Counts]) -> Counts:
    out: Counts = defaultdict(lambda: [0, 0])
    for g in groups:
        for item, (c, n) in g.items():
            out[item][0] += c
            out[item][1] += n
    return dict(out)


def _row(name: str, kind: str, counts: Counts, *, seed: int, resamples: int, condition_id: int | None,
         strategy_id: int | None = None) -> ConditionAccuracy:
    low, high = bootstrap_accuracy(counts, seed=seed, key=f"acc:{name}", resamples=resamples)
    return ConditionAccuracy(name=name, kind=kind, estimate=accuracy(counts), ci_low=low, ci_high=high,
                             n=sum(v[1] for v in counts.values()), n_items=len(counts), condition_id=condition_id,
                             strategy_id=strategy_id)


def _gap(name: str, alone: Counts, assisted: Counts, expert: Counts | None, *, seed: int, resamples: int,
         condition_id: int | None = None, strategy_id: int | None = None) -> GapClosed:
    a, b = accuracy(alone), accuracy(assisted)
    e = accuracy(expert) if expert is not None else 1.0
    items = len(set(alone) | set(assisted) | set(expert or {}))
    if a is None or b is None or e is None:
        return GapClosed(name, None, None, None, condition_id, strategy_id, items, 0,
                         "needs final judgments alone, with the model and by experts (or the gold)")
    estimate = gap_closed(b, a, e)
    low, high, skipped = bootstrap_gap(alone, assisted, expert, seed=seed, key=f"gap:{name}", resamples=resamples)
    note = "" if estimate is not None else "experts do no better than non-experts alone: no gap to close"
    if estimate is not None and skipped:
        note = f"{skipped} of {resamples} resamples skipped (a condition unanswered or expert ≤ alone)"
    return GapClosed(name, estimate, low, high, condition_id, strategy_id, items, skipped, note)


# --- the study ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Cond:
    id: int
    name: str
    kind: str
    strategy_id: int | None


def _load(study_id: int) -> tuple[list[_Cond], dict[int, str], dict[int, tuple[int, bool, int | None, int]],
                                  set[int]]:
    """The study's conditions (chart order), version labels, assignments (condition, practice, strategy,
    participant) and simulated users. Read-only."""
    with session_scope(write=False) as s:
        if s.get(Study, study_id) is None:
            raise ValueError(f"study {study_id} does not exist")
        conditions = [_Cond(c.id, c.name, c.kind, c.strategy_id) for c in s.exec(
            select(Condition).where(Condition.study_id == study_id).order_by(Condition.position, Condition.id)).all()]
        versions = {st.id: f"{st.name} v{st.version}"
                    for st in s.exec(select(Strategy).where(Strategy.study_id == study_id)).all()}
        assignments = {a.id: (a.condition_id, bool(a.practice), a.strategy_id, a.participant_id)
                       for a in s.exec(select(Assignment).where(Assignment.study_id == study_id,
                                                                Assignment.condition_id != None)).all()}  # noqa: E711
        simulated = set(s.exec(select(User.id).where(User.external_study_id == SIMULATED)).all())
    rank = {k: i for i, k in enumerate(KIND_ORDER)}
    conditions.sort(key=lambda c: rank.get(c.kind, len(KIND_ORDER)))  # stable: keeps position order within a kind
    return conditions, versions, assignments, simulated


def sandwich(*, study_id: int, seed: int = SEED, resamples: int = RESAMPLES) -> SandwichResult:
    """The sandwich analysis of a study (see the module docstring). Raises ValueError for an unknown study."""
    conditions, versions, assignments, simulated_users = _load(study_id)
    if not conditions:
        return SandwichResult(study_id, seed=seed, resamples=resamples,
                              message="This study declares no conditions, so there is no sandwich to show.")
    by_id = {c.id: c for c in conditions}
    counts: dict[int, Counts] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    by_version: dict[tuple[int, int | None], Counts] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    simulated = False
    model_conditions = [c for c in conditions if c.kind == "model"]
    for r in load_judgments(study_id=study_id, final_only=True):
        if r.correct is None:
            continue
        hit = int(r.correct)
        dealt = assignments.get(r.assignment_id) if r.assignment_id is not None else None
        if dealt is not None and dealt[1]:
            continue  # practice items are excluded from every result
        if r.judge_kind == "human" and dealt is not None:
            cond = by_id.get(dealt[0])
            if cond is None or cond.kind == "model":
                continue
            counts[cond.id][r.item_id][0] += hit
            counts[cond.id][r.item_id][1] += 1
            if cond.kind == "assisted":
                version = by_version[(cond.id, dealt[2])][r.item_id]
                version[0] += hit
                version[1] += 1
            simulated = simulated or dealt[3] in simulated_users or r.judge_id in simulated_users
        elif r.judge_kind == "ai" and r.transcript_id is not None:
            for cond in model_conditions:
                if cond.strategy_id is not None and r.strategy_id == cond.strategy_id:
                    counts[cond.id][r.item_id][0] += hit
                    counts[cond.id][r.item_id][1] += 1

    plain = {cid: {i: list(v) for i, v in g.items()} for cid, g in counts.items()}
    of_kind = {k: [plain.get(c.id, {}) for c in conditions if c.kind == k] for k in KIND_ORDER}
    rows: list[ConditionAccuracy] = []
    for c in conditions:
        if c.kind == "expert":
            continue  # after the assisted rows, below (one row per expert condition, or the gold)
        rows.append(_row(c.name, c.kind, plain.get(c.id, {}), seed=seed, resamples=resamples, condition_id=c.id))
        if c.kind == "assisted":
            # An assignment without a version (none should exist) counts in the pooled row only.
            for (cid, sid), g in sorted(by_version.items(), key=lambda kv: kv[0][1] or 0):
                if cid == c.id and sid is not None:
                    rows.append(_row(f"{c.name} · {versions.get(sid, f'strategy {sid}')}", "assisted", dict(g),
                                     seed=seed, resamples=resamples, condition_id=c.id, strategy_id=sid))
    alone = _pool(of_kind["alone"])
    expert_measured = _pool(of_kind["expert"])
    gold = not expert_measured
    human_items = set(alone) | set(_pool(of_kind["assisted"]))
    if gold:
        rows.append(ConditionAccuracy(name="Experts (gold stands in)", kind="expert", estimate=1.0, ci_low=1.0,
                                      ci_high=1.0, n=len(human_items), n_items=len(human_items), gold_stands_in=True))
    else:
        rows += [_row(c.name, "expert", plain.get(c.id, {}), seed=seed, resamples=resamples, condition_id=c.id)
                 for c in conditions if c.kind == "expert"]
    expert = None if gold else expert_measured

    gap_by, paired = [], []
    assisted_conditions = [c for c in conditions if c.kind == "assisted"]
    for c in assisted_conditions:
        pooled = plain.get(c.id, {})
        gap_by.append(_gap(c.name, alone, pooled, expert, seed=seed, resamples=resamples, condition_id=c.id))
        paired.append(paired_comparison(c.name, alone, pooled, condition_id=c.id, seed=seed, resamples=resamples))
        for row in rows:
            if row.condition_id == c.id and row.strategy_id is not None:
                g = dict(by_version[(c.id, row.strategy_id)])
                gap_by.append(_gap(row.name, alone, g, expert, seed=seed, resamples=resamples, condition_id=c.id,
                                   strategy_id=row.strategy_id))
                paired.append(paired_comparison(row.name, alone, g, condition_id=c.id, strategy_id=row.strategy_id,
                                                seed=seed, resamples=resamples))
    overall = _gap("Non-expert + model (all assisted conditions)", alone, _pool(of_kind["assisted"]), expert,
                   seed=seed, resamples=resamples) if assisted_conditions else None
    result = SandwichResult(study_id, rows, overall, gap_by, paired, simulated=simulated, gold_stands_in=gold,
                            seed=seed, resamples=resamples)
    if result.empty:
        return SandwichResult(study_id, rows, None, [], [], gold_stands_in=gold, seed=seed, resamples=resamples,
                              message="No final answers in any condition yet (practice items do not count): the "
                                      "sandwich appears as participants, experts and model-alone runs finish.")
    return result


# --- output -------------------------------------------------------------------------------------------------------

def _gap_json(g: GapClosed | None) -> dict[str, Any]:
    return {"estimate": g.estimate if g else None, "ci_low": g.ci_low if g else None,
            "ci_high": g.ci_high if g else None}


def to_json(result: SandwichResult) -> dict[str, Any]:
    """The sandwich as JSON: `conditions` (name, kind, estimate, ci_low, ci_high, n, strategy_id, gold_stands_in),
    `gap_closed` (estimate, ci_low, ci_high; all assisted conditions pooled), `gap_closed_by_version` (per assisted
    condition, strategy_id None, and per version), `paired`, and whether simulated data is included."""
    return {
        "empty": result.empty,
        "message": result.message,
        "simulated": result.simulated,
        "gold_stands_in": result.gold_stands_in,
        "interval": f"95% percentile cluster bootstrap over items ({result.resamples} resamples, seed {result.seed})",
        "conditions": [{"name": c.name, "kind": c.kind, "estimate": c.estimate, "ci_low": c.ci_low,
                        "ci_high": c.ci_high, "n": c.n, "strategy_id": c.strategy_id,
                        "gold_stands_in": c.gold_stands_in} for c in result.conditions],
        "gap_closed": _gap_json(result.gap_closed),
        "gap_closed_note": result.gap_closed.note if result.gap_closed else "",
        "gap_closed_by_version": [{"name": g.name, "strategy_id": g.strategy_id, **_gap_json(g), "skipped": g.skipped,
                                   "note": g.note} for g in result.gap_by],
        "paired": [{"name": p.name, "strategy_id": p.strategy_id, "n_items": p.n_items, "mean_alone": p.mean_alone,
                    "mean_assisted": p.mean_assisted, "difference": p.difference, "ci_low": p.ci_low,
                    "ci_high": p.ci_high} for p in result.paired],
    }


TABLE_COLUMNS = ("name", "kind", "strategy_id", "estimate", "ci_low", "ci_high", "n", "n_items", "gold_stands_in",
                 "simulated")


def table_rows(result: SandwichResult) -> list[dict[str, Any]]:
    """One row per condition (and version), for the page's table and the CSV."""
    return [{"name": c.name, "kind": c.kind, "strategy_id": c.strategy_id, "estimate": c.estimate,
             "ci_low": c.ci_low, "ci_high": c.ci_high, "n": c.n, "n_items": c.n_items,
             "gold_stands_in": c.gold_stands_in, "simulated": result.simulated} for c in result.conditions]


def to_csv(result: SandwichResult) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=TABLE_COLUMNS)
    writer.writeheader()
    writer.writerows(table_rows(result))
    return out.getvalue()


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}"


def text_table(data: dict[str, Any]) -> str:
    """A short plain-text sandwich table for the CLI report, from `to_json`'s output."""
    if data["empty"]:
        return f"sandwich: {data['message']}"
    lines = ["sandwich (accuracy %, 95% cluster bootstrap over items)"
             + (" — includes simulated participants" if data["simulated"] else "")]
    width = max(len(c["name"]) for c in data["conditions"])
    for c in data["conditions"]:
        note = " (gold stands in)" if c["gold_stands_in"] else ""
        lines.append(f"  {c['name']:<{width}} {_pct(c['estimate']):>6} [{_pct(c['ci_low'])}, {_pct(c['ci_high'])}] "
                     f"n={c['n']}{note}")
    g = data["gap_closed"]
    if g["estimate"] is not None:
        note = f" ({data['gap_closed_note']})" if data["gap_closed_note"] else ""
        lines.append(f"  gap closed: {_pct(g['estimate'])}% [{_pct(g['ci_low'])}, {_pct(g['ci_high'])}]{note}")
    elif data["gap_closed_note"]:
        lines.append(f"  gap closed: — ({data['gap_closed_note']})")
    return "\n".join(lines)
