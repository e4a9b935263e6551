"""The sandwich analysis of a study: accuracy per condition, the paired per-item comparison and the gap closed.

Rows (`SandwichResult.conditions`), in the order the chart draws them:
- model alone (kind "model"): final AI judgments (judge_kind "ai") of transcripts run under the condition's strategy,
  one per item (the latest, where a run was repeated; transcripts marked "superseded" by a re-run never count; items
  set aside for practice never count);
- non-expert alone (kind "alone"): non-experts' (role participant) final answers in the condition;
- non-expert + model (kind "assisted"): the condition pooled (strategy_id None), then one row per strategy version
  actually dealt (Assignment.strategy_id; Thompson allocation may deal candidate versions);
- experts (kind "expert"): experts' final answers; where none exist the gold stands in at 100 %
  (`gold_stands_in=True`, a fixed point without interval).
Only results count (`oversight.results.results_filter`: no practice, catch, excluded, preview or, outside a dry run,
simulated people). Non-experts and experts are never pooled: a non-expert condition counts non-experts' answers
only and an expert condition experts' only. Correct = `oversight.vocab.is_correct` (the gold option strictly
likeliest).

Timed-out tasks (assignment state "skipped") are an outcome: each row counts them (`n_timed_out`) and gives its
accuracy twice, over the final answers (`accuracy`) and counting every timed-out task as incorrect (`itt`,
intention to treat); the gap closed too.

Intervals: every one comes from `oversight.results.intervals` (two-way cluster bootstrap over items and people; the model's
answers over items), reproducible for a seed, and every figure carries n answers, n items and n people.

Gap closed = (assisted − alone) / (expert − alone), with "alone" and "expert" pooled over their conditions
(`intervals.gap_closed`): no estimate (experts no better than non-experts alone), no interval; where expert ≤ alone
in more than 2.5 % of the resamples it is unbounded, with that share. Given for all assisted conditions pooled
(`gap_closed`), and per assisted condition and per version (`gap_by`).

Paired comparison: on the items answered both alone and assisted, the mean per-item accuracy alone and assisted
(every item weighs the same) and their difference, by `intervals.difference` on the same resamples.

`analyse` is a pure function over the outcomes; `sandwich` reads a study's outcomes and calls it.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import select

from oversight.results import intervals
from oversight.db import session_scope
from oversight.results.intervals import Estimate, Obs
from oversight.results.judgment_records import load_judgments
from oversight.text import spreadsheet_safe_row
from oversight.results.results_filter import EXPERT, NON_EXPERT, is_dry_run, judge_group, people_left_out, result_assignment
from storage.models import Assignment, Condition, Strategy, Study, User

RESAMPLES = intervals.RESAMPLES
SEED = intervals.SEED
KIND_ORDER = ("model", "alone", "assisted", "expert")
KIND_LABELS = {"model": "Model alone", "alone": "Non-expert alone", "assisted": "Non-expert + model",
               "expert": "Experts"}
GROUP_OF_KIND = {"alone": NON_EXPERT, "assisted": NON_EXPERT, "expert": EXPERT}  # whose answers a condition counts
TIMED_OUT = "skipped"  # the assignment state of a task whose time ran out


def method(resamples: int = RESAMPLES, seed: int = SEED) -> str:
    """The intervals' method, named once on the page, in the CLI text and the JSON."""
    return intervals.method(resamples, seed)


@dataclass(frozen=True)
class Outcome:
    """One task of a row: a final answer (`correct` True/False) or a timed-out task (`correct` None).
    `person` is None for the model."""

    condition_id: int
    strategy_id: int | None
    item: int
    person: Hashable | None
    correct: bool | None

    @property
    def timed_out(self) -> bool:
        return self.correct is None


def answered(outcomes: Iterable[Outcome]) -> list[Obs]:
    return [Obs(o.item, o.person, float(o.correct)) for o in outcomes if not o.timed_out]


def intention_to_treat(outcomes: Iterable[Outcome]) -> list[Obs]:
    """Every task, a timed-out one counted as incorrect."""
    return [Obs(o.item, o.person, float(bool(o.correct))) for o in outcomes]


@dataclass(frozen=True)
class ConditionAccuracy:
    name: str
    kind: str
    accuracy: Estimate  # over final answers (timed-out tasks left out)
    itt: Estimate  # timed-out tasks counted as incorrect
    n_timed_out: int = 0
    condition_id: int | None = None
    strategy_id: int | None = None  # set on the per-version rows of an assisted condition only
    gold_stands_in: bool = False

    @property
    def estimate(self) -> float | None:
        return self.accuracy.estimate

    @property
    def ci_low(self) -> float | None:
        return self.accuracy.ci_low

    @property
    def ci_high(self) -> float | None:
        return self.accuracy.ci_high

    @property
    def n(self) -> int:
        return self.accuracy.n

    @property
    def n_items(self) -> int:
        return self.accuracy.n_items

    @property
    def n_people(self) -> int:
        return self.accuracy.n_people


@dataclass(frozen=True)
class GapClosed:
    name: str
    gap: Estimate  # over final answers
    itt: Estimate  # timed-out tasks counted as incorrect
    condition_id: int | None = None
    strategy_id: int | None = None
    note: str = ""

    @property
    def estimate(self) -> float | None:
        return self.gap.estimate

    @property
    def ci_low(self) -> float | None:
        return self.gap.ci_low

    @property
    def ci_high(self) -> float | None:
        return self.gap.ci_high

    @property
    def unbounded(self) -> bool:
        return self.gap.unbounded

    @property
    def n_items(self) -> int:
        return self.gap.n_items


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
    difference: Estimate  # mean assisted − mean alone over the paired items, every item weighing the same

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def ci_low(self) -> float | None:
        return self.difference.ci_low

    @property
    def ci_high(self) -> float | None:
        return self.difference.ci_high


@dataclass(frozen=True)
class SandwichResult:
    study_id: int
    conditions: list[ConditionAccuracy] = field(default_factory=list)
    gap_closed: GapClosed | None = None
    gap_by: list[GapClosed] = field(default_factory=list)
    paired: list[PairedComparison] = field(default_factory=list)
    dry_run: bool = False  # a dry-run copy: every figure is from simulated people
    gold_stands_in: bool = False
    seed: int = SEED
    resamples: int = RESAMPLES
    message: str = ""  # why the result is empty, if it is

    @property
    def empty(self) -> bool:
        return not any(c.n or c.n_timed_out for c in self.conditions if not c.gold_stands_in)

    @property
    def method(self) -> str:
        return method(self.resamples, self.seed)


# --- the analysis (pure) ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cond:
    id: int
    name: str
    kind: str
    strategy_id: int | None


def _row(name: str, kind: str, outcomes: Sequence[Outcome], *, seed: int, resamples: int,
         condition_id: int | None, strategy_id: int | None = None) -> ConditionAccuracy:
    acc = intervals.accuracy(answered(outcomes), seed=seed, key=name, resamples=resamples)
    timed_out = sum(o.timed_out for o in outcomes)
    itt = intervals.accuracy(intention_to_treat(outcomes), seed=seed, key=f"itt:{name}", resamples=resamples) \
        if timed_out else acc
    return ConditionAccuracy(name, kind, acc, itt, timed_out, condition_id, strategy_id)


def _gap(name: str, alone: Sequence[Outcome], assisted: Sequence[Outcome], expert: Sequence[Outcome] | None, *,
         seed: int, resamples: int, condition_id: int | None = None, strategy_id: int | None = None) -> GapClosed:
    gap = intervals.gap_closed(answered(alone), answered(assisted), None if expert is None else answered(expert),
                               seed=seed, key=name, resamples=resamples)
    if any(o.timed_out for o in [*alone, *assisted, *(expert or [])]):
        itt = intervals.gap_closed(intention_to_treat(alone), intention_to_treat(assisted),
                                   None if expert is None else intention_to_treat(expert), seed=seed,
                                   key=f"itt:{name}", resamples=resamples)
    else:
        itt = gap
    return GapClosed(name, gap, itt, condition_id, strategy_id, gap_note(gap, answered(alone), answered(assisted),
                                                                         None if expert is None else answered(expert)))


def gap_note(gap: Estimate, alone: Sequence[Obs], assisted: Sequence[Obs], expert: Sequence[Obs] | None) -> str:
    """Why a gap closed has no estimate or no finite interval, in words."""
    if not alone or not assisted or (expert is not None and not expert):
        return "needs final answers alone, with the model and by experts (or the gold)"
    if gap.estimate is None:
        return "experts do no better than non-experts alone: no gap to close, so no estimate and no interval"
    if gap.unbounded:
        return (f"unbounded: experts did no better than non-experts alone in {100 * gap.undefined_share:.0f}% of "
                f"resamples, so the data cannot bound the gap closed")
    return ""


def paired_comparison(name: str, alone: Sequence[Outcome], assisted: Sequence[Outcome], *,
                      condition_id: int | None = None, strategy_id: int | None = None, seed: int = SEED,
                      resamples: int = RESAMPLES) -> PairedComparison:
    """On the items answered both alone and assisted (final answers): per item, the accuracy alone and assisted;
    the mean of each over those items (every item weighs the same: an answer weighs 1 / its item's answers in its
    condition) and their difference with its interval (`intervals.difference`)."""
    a_obs, b_obs = answered(alone), answered(assisted)
    both = sorted({o.item for o in a_obs} & {o.item for o in b_obs})
    keep = set(both)

    def per_item(obs: list[Obs]) -> tuple[list[Obs], dict[int, list[float]]]:
        by_item: dict[int, list[float]] = defaultdict(list)
        for o in obs:
            if o.item in keep:
                by_item[o.item].append(o.value)
        weighted = [Obs(o.item, o.person, o.value, 1.0 / len(by_item[o.item])) for o in obs if o.item in keep]
        return weighted, by_item

    a_w, a_items = per_item(a_obs)
    b_w, b_items = per_item(b_obs)
    rows = [PairedItem(i, sum(a_items[i]) / len(a_items[i]), sum(b_items[i]) / len(b_items[i]), len(a_items[i]),
                       len(b_items[i])) for i in both]
    diff = intervals.difference(a_w, b_w, seed=seed, key=f"paired:{name}", resamples=resamples)
    return PairedComparison(name, condition_id, strategy_id, rows, intervals.mean(a_w), intervals.mean(b_w), diff)


def _gold_row(human_items: set, n_timed_out: int) -> ConditionAccuracy:
    fixed = Estimate(1.0, 1.0, 1.0, len(human_items), len(human_items), 0)
    return ConditionAccuracy("Experts (gold stands in)", "expert", fixed, fixed, n_timed_out, gold_stands_in=True)


def analyse(study_id: int, conditions: Sequence[Cond], versions: dict[int, str], outcomes: Iterable[Outcome], *,
            dry_run: bool = False, seed: int = SEED, resamples: int = RESAMPLES) -> SandwichResult:
    """The sandwich over a study's outcomes (see the module docstring). `conditions` in chart order."""
    if not conditions:
        return SandwichResult(study_id, dry_run=dry_run, seed=seed, resamples=resamples,
                              message="This study declares no conditions, so there is no sandwich to show.")
    by_condition: dict[int, list[Outcome]] = defaultdict(list)
    by_version: dict[tuple[int, int], list[Outcome]] = defaultdict(list)
    for o in outcomes:
        by_condition[o.condition_id].append(o)
        if o.strategy_id is not None:
            by_version[(o.condition_id, o.strategy_id)].append(o)
    kw = {"seed": seed, "resamples": resamples}

    def of_kind(kind: str) -> list[Outcome]:
        return [o for c in conditions if c.kind == kind for o in by_condition[c.id]]

    rows: list[ConditionAccuracy] = []
    for c in conditions:
        if c.kind == "expert":
            continue  # after the assisted rows, below (one row per expert condition, or the gold)
        rows.append(_row(c.name, c.kind, by_condition[c.id], condition_id=c.id, **kw))
        if c.kind == "assisted":
            # An assignment without a version (none should exist) counts in the pooled row only.
            for (cid, sid) in sorted(k for k in by_version if k[0] == c.id):
                rows.append(_row(f"{c.name} · {versions.get(sid, f'strategy {sid}')}", "assisted",
                                 by_version[(cid, sid)], condition_id=c.id, strategy_id=sid, **kw))
    alone, expert_all = of_kind("alone"), of_kind("expert")
    gold = not answered(expert_all)
    if gold:
        human_items = {o.item for o in [*alone, *of_kind("assisted")] if not o.timed_out}
        rows.append(_gold_row(human_items, sum(o.timed_out for o in expert_all)))
    else:
        rows += [_row(c.name, "expert", by_condition[c.id], condition_id=c.id, **kw)
                 for c in conditions if c.kind == "expert"]
    expert = None if gold else expert_all

    gap_by, paired = [], []
    assisted_conditions = [c for c in conditions if c.kind == "assisted"]
    for c in assisted_conditions:
        gap_by.append(_gap(c.name, alone, by_condition[c.id], expert, condition_id=c.id, **kw))
        paired.append(paired_comparison(c.name, alone, by_condition[c.id], condition_id=c.id, **kw))
        for row in rows:
            if row.condition_id == c.id and row.strategy_id is not None:
                part = by_version[(c.id, row.strategy_id)]
                gap_by.append(_gap(row.name, alone, part, expert, condition_id=c.id, strategy_id=row.strategy_id,
                                   **kw))
                paired.append(paired_comparison(row.name, alone, part, condition_id=c.id,
                                                strategy_id=row.strategy_id, **kw))
    overall = _gap("Non-expert + model (all assisted conditions)", alone, of_kind("assisted"), expert,
                   **kw) if assisted_conditions else None
    result = SandwichResult(study_id, rows, overall, gap_by, paired, dry_run=dry_run, gold_stands_in=gold, seed=seed,
                            resamples=resamples)
    if result.empty:
        return SandwichResult(study_id, rows, None, [], [], dry_run=dry_run, gold_stands_in=gold, seed=seed,
                              resamples=resamples,
                              message="No final answers in any condition yet (practice items do not count): the "
                                      "sandwich appears as participants, experts and model-alone runs finish.")
    return result


def latest_per_item(answers: Iterable[tuple[Any, int, bool]]) -> dict[int, bool]:
    """(order key, item, correct) of a model's final judgments: the latest per item (a re-run replaces)."""
    out: dict[int, tuple[Any, bool]] = {}
    for key, item, correct in answers:
        if item not in out or key > out[item][0]:
            out[item] = (key, correct)
    return {item: correct for item, (_, correct) in out.items()}


# --- the study ----------------------------------------------------------------------------------------------------


def _load(study_id: int) -> tuple[bool, list[Cond], dict[int, str], list[Outcome]]:
    """Whether the study is a dry run, its conditions (chart order), version labels and outcomes. Read-only."""
    with session_scope(write=False) as s:
        study = s.get(Study, study_id)
        if study is None:
            raise ValueError(f"study {study_id} does not exist")
        dry_run = is_dry_run(study)
        conditions = [Cond(c.id, c.name, c.kind, c.strategy_id) for c in s.exec(
            select(Condition).where(Condition.study_id == study_id).order_by(Condition.position, Condition.id)).all()]
        versions = {st.id: f"{st.name} v{st.version}"
                    for st in s.exec(select(Strategy).where(Strategy.study_id == study_id)).all()}
        left_out = people_left_out(s, study_id)
        dealt = {a.id: (a.condition_id, a.strategy_id, a.participant_id) for a in s.exec(
            select(Assignment).where(Assignment.study_id == study_id, Assignment.condition_id != None,  # noqa: E711
                                     result_assignment(left_out))).all()}
        timed_out = s.exec(
            select(Assignment.condition_id, Assignment.strategy_id, Assignment.item_id, Assignment.participant_id,
                   User.role)
            .join(User, User.id == Assignment.participant_id)
            .where(Assignment.study_id == study_id, Assignment.condition_id != None,  # noqa: E711
                   Assignment.state == TIMED_OUT, result_assignment(left_out))).all()
    rank = {k: i for i, k in enumerate(KIND_ORDER)}
    conditions.sort(key=lambda c: rank.get(c.kind, len(KIND_ORDER)))  # stable: keeps position order within a kind
    kind_of = {c.id: c.kind for c in conditions}

    outcomes: list[Outcome] = []
    model_runs: dict[int, list[tuple[Any, int, bool]]] = defaultdict(list)  # strategy -> (order, item, correct)
    for r in load_judgments(study_id=study_id, final_only=True):
        if r.correct is None:
            continue
        if r.judge_kind == "human" and r.assignment_id in dealt:
            cid, sid, person = dealt[r.assignment_id]
            if GROUP_OF_KIND.get(kind_of.get(cid)) == r.judge_group:  # never pool non-experts and experts
                outcomes.append(Outcome(cid, sid, r.item_id, r.judge_id or person, r.correct))
        elif r.judge_kind == "ai" and r.transcript_id is not None:
            model_runs[r.strategy_id].append(((r.created_at is not None, r.created_at, r.id), r.item_id, r.correct))
    for cid, sid, item, person, role in timed_out:
        if GROUP_OF_KIND.get(kind_of.get(cid)) == judge_group(role):
            outcomes.append(Outcome(cid, sid, item, person, None))
    for c in conditions:
        if c.kind == "model" and c.strategy_id is not None:
            latest = latest_per_item(model_runs.get(c.strategy_id, []))
            outcomes += [Outcome(c.id, None, item, None, ok) for item, ok in sorted(latest.items())]
    return dry_run, conditions, versions, outcomes


def sandwich(*, study_id: int, seed: int = SEED, resamples: int = RESAMPLES) -> SandwichResult:
    """The sandwich analysis of a study (see the module docstring). Raises ValueError for an unknown study."""
    dry_run, conditions, versions, outcomes = _load(study_id)
    return analyse(study_id, conditions, versions, outcomes, dry_run=dry_run, seed=seed, resamples=resamples)


# --- output -------------------------------------------------------------------------------------------------------


def _estimate_json(e: Estimate) -> dict[str, Any]:
    return {"estimate": e.estimate, "ci_low": e.ci_low, "ci_high": e.ci_high, "unbounded": e.unbounded,
            "undefined_share": e.undefined_share, "n": e.n, "n_items": e.n_items, "n_people": e.n_people}


def _gap_json(g: GapClosed | None) -> dict[str, Any]:
    if g is None:
        return {**_estimate_json(intervals.EMPTY), "note": "", "itt": _estimate_json(intervals.EMPTY)}
    return {**_estimate_json(g.gap), "note": g.note, "itt": _estimate_json(g.itt)}


def _condition_json(c: ConditionAccuracy) -> dict[str, Any]:
    return {"name": c.name, "kind": c.kind, "estimate": c.estimate, "ci_low": c.ci_low, "ci_high": c.ci_high,
            "n": c.n, "n_items": c.n_items, "n_people": c.n_people, "n_timed_out": c.n_timed_out,
            "itt_estimate": c.itt.estimate, "itt_ci_low": c.itt.ci_low, "itt_ci_high": c.itt.ci_high,
            "strategy_id": c.strategy_id, "gold_stands_in": c.gold_stands_in}


def to_json(result: SandwichResult) -> dict[str, Any]:
    """The sandwich as JSON: `conditions` (name, kind, estimate, ci_low, ci_high, n, n_items, n_people,
    n_timed_out, itt_estimate, itt_ci_low, itt_ci_high, strategy_id, gold_stands_in), `gap_closed` (estimate,
    ci_low, ci_high, unbounded, undefined_share, n, n_items, n_people, note, itt: the same counting timed-out
    tasks as incorrect; all assisted conditions pooled), `gap_closed_by_version` (per assisted condition,
    strategy_id None, and per version), `paired`, the interval method, and whether the study is a dry run (its
    figures from simulated people)."""
    return {
        "empty": result.empty,
        "message": result.message,
        "simulated": result.dry_run,
        "dry_run": result.dry_run,
        "gold_stands_in": result.gold_stands_in,
        "interval": result.method,
        "conditions": [_condition_json(c) for c in result.conditions],
        "gap_closed": _gap_json(result.gap_closed),
        "gap_closed_note": result.gap_closed.note if result.gap_closed else "",
        "gap_closed_by_version": [{"name": g.name, "strategy_id": g.strategy_id, **_gap_json(g)}
                                  for g in result.gap_by],
        "paired": [{"name": p.name, "strategy_id": p.strategy_id, "n_items": p.n_items,
                    "n_people": p.difference.n_people, "n": p.difference.n, "mean_alone": p.mean_alone,
                    "mean_assisted": p.mean_assisted, "difference": p.difference.estimate, "ci_low": p.ci_low,
                    "ci_high": p.ci_high} for p in result.paired],
    }


TABLE_COLUMNS = ("name", "kind", "strategy_id", "estimate", "ci_low", "ci_high", "n", "n_items", "n_people",
                 "n_timed_out", "itt_estimate", "itt_ci_low", "itt_ci_high", "gold_stands_in", "unbounded",
                 "undefined_share", "note", "dry_run")


def table_rows(result: SandwichResult) -> list[dict[str, Any]]:
    """One row per condition (and version), for the page's table and the CSV."""
    return [{**{k: v for k, v in _condition_json(c).items() if k in TABLE_COLUMNS}, "dry_run": result.dry_run}
            for c in result.conditions]


def gap_rows(result: SandwichResult) -> list[dict[str, Any]]:
    """One row per gap closed (all assisted conditions pooled first, then per condition and version)."""
    rows = []
    for g in ([result.gap_closed] if result.gap_closed else []) + result.gap_by:
        rows.append({"name": g.name, "kind": "gap closed", "strategy_id": g.strategy_id, "estimate": g.estimate,
                     "ci_low": g.ci_low, "ci_high": g.ci_high, "n": g.gap.n, "n_items": g.gap.n_items,
                     "n_people": g.gap.n_people, "itt_estimate": g.itt.estimate, "itt_ci_low": g.itt.ci_low,
                     "itt_ci_high": g.itt.ci_high, "unbounded": g.unbounded,
                     "undefined_share": g.gap.undefined_share, "note": g.note, "dry_run": result.dry_run})
    return rows


def to_csv(result: SandwichResult) -> str:
    """The conditions' rows, then the gap closed rows (kind "gap closed"; an unbounded one has no bounds,
    `unbounded` true and the share of resamples where it was undefined)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=TABLE_COLUMNS)
    writer.writeheader()
    writer.writerows(spreadsheet_safe_row(row) for row in table_rows(result) + gap_rows(result))
    return out.getvalue()


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}"


def interval_text(e: dict[str, Any]) -> str:
    """'[48.1, 75.0]', 'unbounded (undefined in 31% of resamples)' or '' (no interval), from `_estimate_json`."""
    if e.get("unbounded"):
        return f"unbounded (undefined in {100 * e['undefined_share']:.0f}% of resamples)"
    if e["ci_low"] is None or e["ci_high"] is None:
        return ""
    return f"[{_pct(e['ci_low'])}, {_pct(e['ci_high'])}]"


def text_table(data: dict[str, Any]) -> str:
    """A short plain-text sandwich table for the CLI report, from `to_json`'s output."""
    if data["empty"]:
        return f"sandwich: {data['message']}"
    lines = ["sandwich (accuracy %; " + data["interval"] + ")"]
    if data.get("dry_run"):
        lines.append("  DRY RUN: every figure below is from simulated people")
    width = max(len(c["name"]) for c in data["conditions"])
    for c in data["conditions"]:
        note = " (gold stands in)" if c["gold_stands_in"] else ""
        people = f", {c['n_people']} people" if c["n_people"] else ""
        line = (f"  {c['name']:<{width}} {_pct(c['estimate']):>6} {interval_text(c)} "
                f"n={c['n']} answers, {c['n_items']} items{people}{note}")
        if c["n_timed_out"]:
            line += (f"; {c['n_timed_out']} timed out, counting them incorrect {_pct(c['itt_estimate'])} "
                     f"[{_pct(c['itt_ci_low'])}, {_pct(c['itt_ci_high'])}]")
        lines.append(line)
    g = data["gap_closed"]
    if g["estimate"] is not None:
        note = f" ({g['note']})" if g["note"] and not g["unbounded"] else ""
        line = f"  gap closed: {_pct(g['estimate'])}% {interval_text(g)}{note}"
        if g["itt"]["estimate"] != g["estimate"] or g["itt"]["unbounded"] != g["unbounded"]:
            line += f"; counting timed-out tasks incorrect: {_pct(g['itt']['estimate'])}% {interval_text(g['itt'])}"
        lines.append(line.rstrip())
    elif g["note"]:
        lines.append(f"  gap closed: — ({g['note']})")
    return "\n".join(lines)
