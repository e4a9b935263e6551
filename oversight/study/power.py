"""Power before paying: how many participants a study needs for its gap-closed interval to exclude 0.

Pure functions over the study's design, no database writes (the design is read once, `study_design`):

- People are dealt by `oversight.sandwiching.dealing.deal` exactly as `participation` deals them (the study's items that every
  dealt condition can run on, `oversight.study.eligibility`; its items per participant, within or between, practice
  items; practice and catch items are never results, so they are dealt and dropped), participant p getting place p.
- Answers come from a logistic model with crossed random effects: P(correct) = expit(b_condition + u_person +
  v_item), u ~ N(0, skill_sd), v ~ N(0, item_sd) (an item is hard in every condition, a person skilled in every
  condition). The planted accuracies are *population* accuracies: b_condition is solved so that the average of
  expit(b + u + v) over people and items, computed by Gauss-Hermite quadrature (u + v is normal with sd
  sqrt(skill_sd² + item_sd²)), equals the planted accuracy. So the planted gap closed is exactly
  (assisted − alone) / (expert − alone) of the planted numbers, and assisted = alone is exactly no effect.
- Experts: where the study has an expert condition, `experts` simulated experts (own skill draws, same sd) answer it
  as they would be dealt; otherwise the gold stands in (expert accuracy 1), as in the sandwich.
- Every simulated study's gap closed and its interval come from `oversight.results.intervals.gap_closed` (the engine every
  page uses), with `resamples` resamples.

Per participant count: power = share of simulated studies whose 95 % interval excludes 0 (either side, a two-sided
5 % test; `power_positive` counts only lower bound > 0, the claim "the model helps"); coverage = share whose
interval contains the planted gap closed (an unbounded interval contains everything; a study with no estimate
covers nothing); the median interval width (unbounded ones count as infinitely wide: None when more than half
are). With assisted = alone, power is the false-positive rate.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from oversight.sandwiching.dealing import DESIGNS, deal, group_items
from oversight.results.intervals import Obs, gap_closed
from oversight.study.studies import StudyError

Progress = Callable[[int, int, str], None]
RESAMPLES = 1000  # per simulated study (the pages use 2000): the power estimate averages over many studies
MAX_SIMS = 5000
MAX_PARTICIPANTS = 5000
_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(80)  # probabilists' Hermite: weight exp(-x²/2)
_WEIGHTS = _WEIGHTS / math.sqrt(2 * math.pi)


class PowerError(StudyError):
    """A power calculation this design or these planted numbers cannot run; the message is safe to show."""


@dataclass(frozen=True)
class StudyDesign:
    """What dealing needs of a study, read once. Condition keys are the study's condition ids (None: direct QA
    without a condition)."""

    groups: list[list[Hashable]]  # the participants' real items, grouped by source, in a stable order
    conditions: list[Hashable]  # the conditions dealt to participants, in a stable order
    kinds: dict[Hashable, str]  # condition -> "alone" | "assisted"
    design: str = "within"
    items_per_participant: int | None = None
    practice_items: int = 0
    practice_pool: list[Hashable] = field(default_factory=list)
    expert_conditions: list[Hashable] = field(default_factory=list)  # none: the gold stands in
    expert_groups: list[list[Hashable]] = field(default_factory=list)
    seed: int = 0  # the study's dealing seed (its id)

    def describe(self) -> str:
        n_items = sum(len(g) for g in self.groups)
        per = self.items_per_participant or n_items
        kinds = [self.kinds[c] for c in self.conditions]
        experts = "experts answer the expert condition" if self.expert_conditions else \
            "no expert condition: the gold stands in"
        return (f"{n_items} items the design can deal, {min(per, n_items)} per participant, {self.design} subject, "
                f"conditions dealt: {', '.join(kinds)}; {experts}")


@dataclass(frozen=True)
class Planted:
    alone: float
    assisted: float
    expert: float = 1.0  # ignored where the gold stands in
    skill_sd: float = 0.5  # person effect, logit scale
    item_sd: float = 1.0  # item difficulty, logit scale

    def check(self) -> None:
        for name in ("alone", "assisted", "expert"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise PowerError(f"{name} must be an accuracy from 0 to 1 (got {v})")
        for name in ("skill_sd", "item_sd"):
            v = getattr(self, name)
            if not 0.0 <= v <= 10.0:
                raise PowerError(f"{name.replace('_', ' ')} must be from 0 to 10 on the logit scale (got {v})")


@dataclass(frozen=True)
class PowerRow:
    participants: int
    power: float  # interval excludes 0 (either side)
    coverage: float  # interval contains the planted gap closed
    ci_width_median: float | None  # None: more than half the intervals unbounded
    power_positive: float  # lower bound > 0
    unbounded: float  # share of studies whose interval is unbounded
    no_estimate: float  # share of studies with no estimate (experts no better than alone in that sample)
    gap_closed_median: float | None
    sims: int


@dataclass(frozen=True)
class PowerResult:
    rows: list[PowerRow]
    planted_gap_closed: float
    gold_stands_in: bool
    experts: int
    resamples: int
    seed: int
    design: str

    def to_json(self) -> dict:
        return {"rows": [asdict(r) for r in self.rows], "planted_gap_closed": self.planted_gap_closed,
                "gold_stands_in": self.gold_stands_in, "experts": self.experts, "resamples": self.resamples,
                "seed": self.seed, "design": self.design,
                "method": "two-way cluster bootstrap over items and people (oversight.results.intervals.gap_closed), "
                          "planted accuracies are population accuracies under logit person and item effects"}


# --- the planted model ---------------------------------------------------------------------------------------------


def _expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def population_accuracy(intercept: float, sd: float) -> float:
    """E[expit(intercept + sd·Z)], Z standard normal (Gauss-Hermite)."""
    if math.isinf(intercept):
        return 1.0 if intercept > 0 else 0.0
    return float(np.dot(_WEIGHTS, _expit(intercept + sd * _NODES)))


def intercept_for(accuracy: float, sd: float) -> float:
    """The logit intercept whose population accuracy (over N(0, sd) effects) is `accuracy` (bisection)."""
    if accuracy <= 0.0:
        return -math.inf
    if accuracy >= 1.0:
        return math.inf
    lo, hi = -60.0, 60.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if population_accuracy(mid, sd) < accuracy:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12:
            break
    return (lo + hi) / 2


def planted_gap_closed(planted: Planted, gold_stands_in: bool) -> float:
    expert = 1.0 if gold_stands_in else planted.expert
    if expert <= planted.alone:
        raise PowerError("experts must be more accurate than non-experts alone, or there is no gap to close")
    return (planted.assisted - planted.alone) / (expert - planted.alone)


# --- dealing ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Dealt:
    """The real answers of the first n people, as arrays (people in place order, so a prefix is n people)."""

    person: np.ndarray
    item: np.ndarray  # index into the design's items
    kind: np.ndarray  # 0 alone, 1 assisted, 2 expert
    ends: np.ndarray  # ends[p]: answers of people 0..p-1

    def first(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        k = int(self.ends[n])
        return self.person[:k], self.item[:k], self.kind[:k]


_KIND_CODE = {"alone": 0, "assisted": 1, "expert": 2}


def _deal_people(design: StudyDesign, n: int, item_index: dict[Hashable, int], *, experts: bool) -> _Dealt:
    person, item, kind, ends = [], [], [], [0]
    for p in range(n):
        if experts:
            dealt = deal(participant_index=p, groups=design.expert_groups, conditions=design.expert_conditions,
                         design="within", items_per_participant=design.items_per_participant, seed=design.seed)
        else:
            dealt = deal(participant_index=p, groups=design.groups, conditions=design.conditions,
                         design=design.design, items_per_participant=design.items_per_participant,
                         practice_items=design.practice_items, practice_pool=design.practice_pool, seed=design.seed)
        for d in dealt:
            if d.practice or d.catch:
                continue  # never a result
            person.append(p)
            item.append(item_index.setdefault(d.item, len(item_index)))
            kind.append(2 if experts else _KIND_CODE[design.kinds[d.condition]])
        ends.append(len(person))
    return _Dealt(np.array(person, dtype=np.int64), np.array(item, dtype=np.int64), np.array(kind, dtype=np.int64),
                  np.array(ends, dtype=np.int64))


def check_design(design: StudyDesign) -> None:
    if design.design not in DESIGNS:
        raise PowerError(f"design must be one of {', '.join(DESIGNS)}")
    kinds = {design.kinds.get(c) for c in design.conditions}
    if not {"alone", "assisted"} <= kinds:
        raise PowerError("the gap closed needs both a non-expert alone and a non-expert + model condition: add them "
                         "under Conditions")
    if not any(design.groups):
        raise PowerError("the design can deal no items (see the launch check for why items are refused)")
    if design.expert_conditions and not any(design.expert_groups):
        raise PowerError("the expert condition can run on none of the items")


# --- the simulation --------------------------------------------------------------------------------------------------


def _observations(person, item, correct, prefix: str) -> list[Obs]:
    return [Obs(int(i), (prefix, int(p)), float(c)) for p, i, c in zip(person, item, correct)]


def simulate_power(design: StudyDesign, planted: Planted, participants: Sequence[int], *, sims: int = 200,
                   seed: int = 0, experts: int = 10, resamples: int = RESAMPLES,
                   progress: Progress | None = None) -> PowerResult:
    """Power, coverage and interval width of the gap closed per participant count (see the module docstring)."""
    planted.check()
    check_design(design)
    counts = sorted(set(int(n) for n in participants))
    if not counts or counts[0] < 1 or counts[-1] > MAX_PARTICIPANTS:
        raise PowerError(f"participant counts must be whole numbers from 1 to {MAX_PARTICIPANTS}")
    if not 1 <= sims <= MAX_SIMS:
        raise PowerError(f"simulations must be from 1 to {MAX_SIMS}")
    if not 100 <= resamples <= 10_000:
        raise PowerError("resamples must be from 100 to 10000")
    gold = not design.expert_conditions
    if not gold and not 1 <= experts <= 200:
        raise PowerError("simulate from 1 to 200 experts for the expert condition")
    truth = planted_gap_closed(planted, gold)

    item_index: dict[Hashable, int] = {}
    people = _deal_people(design, counts[-1], item_index, experts=False)
    expert_people = None if gold else _deal_people(design, experts, item_index, experts=True)
    sd = math.hypot(planted.skill_sd, planted.item_sd)
    b = np.array([intercept_for(planted.alone, sd), intercept_for(planted.assisted, sd),
                  intercept_for(planted.expert, sd)])
    n_items = len(item_index)

    rows, done, total = [], 0, len(counts) * sims
    for n in counts:
        person, item, kind = people.first(n)
        hits = covers = positive = unbounded = missing = 0
        widths, estimates = [], []
        for r in range(sims):
            rng = np.random.default_rng([seed, n, r])
            v = rng.normal(0.0, planted.item_sd, n_items)
            u = rng.normal(0.0, planted.skill_sd, n)
            correct = rng.random(len(person)) < _expit(b[kind] + u[person] + v[item])
            alone = _observations(person[kind == 0], item[kind == 0], correct[kind == 0], "p")
            assisted = _observations(person[kind == 1], item[kind == 1], correct[kind == 1], "p")
            expert_obs = None
            if expert_people is not None:
                ue = rng.normal(0.0, planted.skill_sd, experts)
                ce = rng.random(len(expert_people.person)) < _expit(
                    b[2] + ue[expert_people.person] + v[expert_people.item])
                expert_obs = _observations(expert_people.person, expert_people.item, ce, "e")
            est = gap_closed(alone, assisted, expert_obs, seed=seed, key=f"power:{n}:{r}", resamples=resamples)
            if est.estimate is None:
                missing += 1
            else:
                estimates.append(est.estimate)
            if est.unbounded:
                unbounded += 1
                covers += 1
                widths.append(math.inf)
            elif est.has_interval:
                hits += est.ci_low > 0 or est.ci_high < 0
                positive += est.ci_low > 0
                covers += est.ci_low <= truth <= est.ci_high
                widths.append(est.ci_high - est.ci_low)
            done += 1
            if progress and (done % 10 == 0 or done == total):
                progress(done, total, f"{n} participants")
        width = float(np.median(widths)) if widths else None
        rows.append(PowerRow(participants=n, power=hits / sims, coverage=covers / sims,
                             ci_width_median=width if width is not None and math.isfinite(width) else None,
                             power_positive=positive / sims, unbounded=unbounded / sims, no_estimate=missing / sims,
                             gap_closed_median=float(np.median(estimates)) if estimates else None, sims=sims))
    return PowerResult(rows, truth, gold, 0 if gold else experts, resamples, seed, design.describe())


# --- the study -------------------------------------------------------------------------------------------------------


def _source_key(item) -> str | None:
    # As participation groups items: one source (title + text) is one group.
    return (item.source_title or "") + "\x00" + (item.source_text or "") if (item.source_text or item.source_title) \
        else None


def study_design(study_id: int) -> StudyDesign:
    """Read a study's design (read-only): what `participation` would deal its participants and experts."""
    from sqlmodel import select

    from oversight.sandwiching.conditions import DEALT_KINDS
    from oversight.db import session_scope
    from oversight.study.eligibility import design_pool, practice_to_deal
    from storage.models import Condition, Study

    with session_scope(write=False) as s:
        study = s.get(Study, study_id)
        if study is None:
            raise PowerError(f"no study with id {study_id}")
        conds = list(s.exec(select(Condition).where(Condition.study_id == study_id)
                            .order_by(Condition.position, Condition.id)).all())
        dealt = [c for c in conds if c.kind in DEALT_KINDS]
        expert = [c for c in conds if c.kind == "expert"]
        pool = design_pool(s, study_id, dealt or [None])
        expert_pool = design_pool(s, study_id, expert) if expert else None
        return StudyDesign(
            groups=group_items([(i.id, _source_key(i)) for i in pool.real]),
            conditions=[c.id for c in dealt], kinds={c.id: c.kind for c in dealt},
            design=study.design, items_per_participant=study.items_per_participant,
            practice_items=practice_to_deal(study.practice_items, pool), practice_pool=list(pool.practice),
            expert_conditions=[c.id for c in expert],
            expert_groups=group_items([(i.id, _source_key(i)) for i in expert_pool.real]) if expert_pool else [],
            seed=study_id)


def plan(*, study_id: int, planted: Planted, participants: Sequence[int], sims: int = 200, seed: int = 0,
         experts: int = 10, resamples: int = RESAMPLES, progress: Progress | None = None) -> PowerResult:
    """`simulate_power` over the study's own design. Reads the study once; writes nothing."""
    return simulate_power(study_design(study_id), planted, participants, sims=sims, seed=seed, experts=experts,
                          resamples=resamples, progress=progress)
