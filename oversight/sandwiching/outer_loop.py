"""The outer loop: experts' evaluations update the strategy, S_{k+1} = g(S_k, E(M_k)).

Per strategy version (the version each assignment was dealt, `Assignment.strategy_id`), from non-experts'
results (`oversight.results.results_filter`: no practice, catch item, excluded, preview or, outside a dry run, simulated
person; experts' own answers are not pooled in): the expert-judged success rate (the settled rubric label
`outcome` is "correct", `reviews.final_labels`; open disagreements are left out), non-expert accuracy against the
gold (excluding timed-out tasks, and counting them as incorrect), calibration (Brier score of the probability on
the chosen answer, binned ECE as in `report.calibration`), each flag's rate and the mean help quality. Every
figure's 95 % interval comes from `oversight.results.intervals` (two-way cluster bootstrap over items and people), with n
of answers, items and people.

Where Thompson sampling dealt the versions (oversight.sandwiching.allocation), who saw which version depended on earlier
outcomes: the per-version figures are adaptively sampled, and each also gets an inverse-probability-weighted
(Hájek) estimate, each answer weighted 1 / the probability its version had of being drawn
(`Assignment.allocation_probability`; a version dealt without a draw had probability 1).

The lineage of versions is a tree (`Strategy.parent_id`); `promote` and `retire` append `VersionDecision`s (a
version's status is its latest decision) and promoting re-points the study's assisted conditions of that lineage
to the promoted version.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import select

from oversight.results import intervals
from oversight.audit import log_event
from oversight.db import session_scope
from oversight.sandwiching.inner_loop import LoopError, require_admin, study_versions
from oversight.results.judgment_records import judgment_records
from oversight.results.report import calibration
from oversight.results.results_filter import NON_EXPERT, people_left_out, result_assignment
from oversight.sandwiching.reviews import final_labels
from oversight.sandwiching.rubrics import FLAGS
from oversight.vocab import SIMULATED
from storage.models import (
    Assignment, Condition, ExpertReview, Proposal, Strategy, Study, User, VersionDecision,
)


def _share(obs: list[intervals.Obs], key: str) -> dict[str, Any]:
    """A share (or mean) with its two-way cluster bootstrap interval, in the shape the page and CLI read."""
    e = intervals.accuracy(obs, key=key)
    return {"rate": e.estimate, "ci_low": e.ci_low, "ci_high": e.ci_high, "n": e.n, "n_items": e.n_items,
            "n_people": e.n_people, "hits": sum(1 for o in obs if o.value == 1), "unbounded": e.unbounded,
            "undefined_share": e.undefined_share}


def _mean(obs: list[intervals.Obs], key: str) -> dict[str, Any]:
    e = intervals.accuracy(obs, key=key)
    return {"mean": e.estimate, "ci_low": e.ci_low, "ci_high": e.ci_high, "n": e.n, "n_items": e.n_items,
            "n_people": e.n_people, "unbounded": e.unbounded, "undefined_share": e.undefined_share}


def _weighted(obs: list[intervals.Obs], chance: dict[int, float | None], assignment_of: list[int]
              ) -> list[intervals.Obs]:
    """The same answers weighted 1 / the probability their version had of being dealt."""
    return [intervals.Obs(o.item, o.person, o.value, 1.0 / (chance.get(a) or 1.0))
            for o, a in zip(obs, assignment_of)]


def adaptively_sampled(study_id: int) -> bool:
    """Whether Thompson sampling dealt this study's versions (now, or for some of its assignments)."""
    with session_scope(write=False) as s:
        study = s.get(Study, study_id)
        drawn = s.exec(select(Assignment.id).where(Assignment.study_id == study_id,
                                                   Assignment.allocation_probability < 1)).first()
    return study is not None and (study.allocation == "thompson" or drawn is not None)


def version_figures(study_id: int) -> list[dict[str, Any]]:
    """The outer loop's figures per strategy version of the study, JSON-ready, ordered by name and version. In an
    adaptively sampled study each version also has `accuracy_ipw` and `expert_success_ipw`."""
    labels = final_labels(study_id=study_id)
    adaptive = adaptively_sampled(study_id)
    with session_scope(write=False) as s:
        versions = study_versions(s, study_id)
        simulated = set(s.exec(select(User.id).where(User.study_id == study_id,
                                                     User.external_study_id == SIMULATED)).all())
        records = [r for r in judgment_records(s, study_id=study_id, final_only=True, gold_only=False)
                   if r.judge_kind == "human" and r.assignment_id is not None and r.strategy_id is not None
                   and r.judge_group == NON_EXPERT]
        # Timed-out tasks (no judgment) of the same people and versions: an outcome, counted as incorrect in the
        # intention-to-treat accuracy.
        timed_out = s.exec(select(Assignment.id, Assignment.item_id, Assignment.participant_id,
                                  Assignment.strategy_id)
                           .join(User, User.id == Assignment.participant_id)
                           .where(Assignment.study_id == study_id, Assignment.state == "skipped",
                                  Assignment.strategy_id.is_not(None), User.role == NON_EXPERT,
                                  result_assignment(people_left_out(s, study_id)))).all()
        chance = dict(s.exec(select(Assignment.id, Assignment.allocation_probability)
                             .where(Assignment.study_id == study_id)).all()) if adaptive else {}
    by_version: dict[int, list] = defaultdict(list)
    for r in records:
        by_version[r.strategy_id].append(r)
    skipped: dict[int, list] = defaultdict(list)
    for aid, item, person, sid in timed_out:
        skipped[sid].append((aid, item, person))
    # The default rubric's flags, and any other yes/no field a study's rubric adds.
    flag_names = list(FLAGS) + sorted({f for ls in labels.values() for f, lab in ls.items()
                                       if isinstance(lab.value, bool) and f not in FLAGS})

    def settled_obs(rs: list, name: str, value) -> tuple[list[intervals.Obs], list[int]]:
        """One observation per reviewed answer whose `name` label is settled: (observations, their assignments)."""
        obs, aids = [], []
        for r in rs:
            lab = labels.get(r.assignment_id, {}).get(name)
            if lab is None or lab.status == "open":
                continue
            v = value(lab.value)
            if v is not None:
                obs.append(intervals.Obs(r.item_id, r.judge_id, v))
                aids.append(r.assignment_id)
        return obs, aids

    out = []
    for v in versions:
        rs = by_version.get(v.id, [])
        key = f"v{v.id}"
        settled = [labels[r.assignment_id] for r in rs if r.assignment_id in labels]
        success, success_aids = settled_obs(rs, "outcome", lambda x: None if x is None else float(x == "correct"))
        gold = [r for r in rs if r.gold is not None]
        answers = [intervals.Obs(r.item_id, r.judge_id, float(bool(r.correct))) for r in gold]
        missed = [intervals.Obs(item, person, 0.0) for _, item, person in skipped.get(v.id, [])]
        chosen = [r for r in gold if r.p_chosen is not None]
        brier = [intervals.Obs(r.item_id, r.judge_id, (r.p_chosen - (1.0 if r.chosen == r.gold else 0.0)) ** 2)
                 for r in chosen]
        flags = {flag: _share(settled_obs(rs, flag, lambda x: float(x) if isinstance(x, bool) else None)[0],
                              f"{key}:flag:{flag}") for flag in flag_names}
        quality, _ = settled_obs(rs, "help_quality",
                                 lambda x: float(x) if isinstance(x, (int, float)) and not isinstance(x, bool)
                                 else None)
        row = {
            "strategy_id": v.id, "label": f"{v.name} v{v.version}", "name": v.name, "version": v.version,
            "protocol": v.protocol, "n_judgments": len(rs), "n_reviewed": len(settled),
            "n_timed_out": len(missed),
            "expert_success": _share(success, f"{key}:success"),
            "accuracy": _share(answers, f"{key}:accuracy"),
            "accuracy_itt": _share(answers + missed, f"{key}:accuracy-itt"),
            "brier": _mean(brier, f"{key}:brier"),
            "ece": calibration(chosen)["ece"],
            "flags": flags,
            "help_quality": _mean(quality, f"{key}:help"),
            "simulated": any(r.judge_id in simulated for r in rs),
            "adaptive": adaptive,
        }
        if adaptive:
            row["accuracy_ipw"] = _share(_weighted(answers, chance, [r.assignment_id for r in gold]),
                                         f"{key}:accuracy-ipw")
            row["expert_success_ipw"] = _share(_weighted(success, chance, success_aids), f"{key}:success-ipw")
        out.append(row)
    return out


@dataclass
class LineageNode:
    strategy_id: int
    name: str
    version: int
    parent_id: int | None
    depth: int
    reason: str
    protocol: str
    status: str  # the latest decision, or "" when none
    n_reviews: int
    conditions: list[str] = field(default_factory=list)  # conditions that deal it now
    decisions: list[dict[str, Any]] = field(default_factory=list)
    proposals: list[dict[str, Any]] = field(default_factory=list)  # the accepted proposals it was made from
    open_proposals: int = 0  # proposals about it still waiting


def lineage(study_id: int) -> list[LineageNode]:
    """Every strategy version of the study as a tree, in depth-first order (children by version)."""
    with session_scope(write=False) as s:
        strategies = s.exec(select(Strategy).where(Strategy.study_id == study_id)
                            .order_by(Strategy.name, Strategy.version)).all()
        decisions = s.exec(select(VersionDecision).where(VersionDecision.study_id == study_id)
                           .order_by(VersionDecision.id)).all()
        proposals = s.exec(select(Proposal).where(Proposal.study_id == study_id)).all()
        conditions = s.exec(select(Condition).where(Condition.study_id == study_id)).all()
        reviewed = s.exec(select(Assignment.strategy_id, ExpertReview.id)
                          .join(ExpertReview, ExpertReview.assignment_id == Assignment.id)
                          .where(Assignment.study_id == study_id,
                                 ExpertReview.kind.in_(("review", "adjudication")))).all()
    reviews: dict[int, int] = defaultdict(int)
    for sid, _ in reviewed:
        reviews[sid] += 1
    children: dict[int | None, list[Strategy]] = defaultdict(list)
    known = {st.id for st in strategies}
    for st in strategies:
        children[st.parent_id if st.parent_id in known else None].append(st)
    out: list[LineageNode] = []

    def visit(st: Strategy, depth: int) -> None:
        mine = [d for d in decisions if d.strategy_id == st.id]
        out.append(LineageNode(
            st.id, st.name, st.version, st.parent_id, depth, st.reason, st.protocol,
            mine[-1].decision if mine else "", reviews.get(st.id, 0),
            [c.name for c in conditions if c.strategy_id == st.id],
            [{"decision": d.decision, "rationale": d.rationale, "review_ids": list(d.review_ids),
              "proposal_id": d.proposal_id, "at": d.created_at.isoformat()} for d in mine],
            [{"id": p.id, "kind": p.kind, "text": p.text, "reason": p.reason}
             for p in proposals if p.child_strategy_id == st.id],
            sum(1 for p in proposals if p.strategy_id == st.id and p.status == "open"),
        ))
        for child in sorted(children.get(st.id, []), key=lambda c: c.version):
            visit(child, depth + 1)

    for root in children[None]:
        visit(root, 0)
    return out


def version_status(study_id: int) -> dict[int, str]:
    """Each decided version's status: its latest decision (candidate, promoted or retired)."""
    with session_scope(write=False) as s:
        rows = s.exec(select(VersionDecision).where(VersionDecision.study_id == study_id)
                      .order_by(VersionDecision.id)).all()
    return {d.strategy_id: d.decision for d in rows}


def _decide(strategy_id: int, decision: str, rationale: str, review_ids: list[int] | None,
            user_id: int | None) -> tuple[Strategy, list[str]]:
    rationale = (rationale or "").strip()
    if not rationale:
        raise LoopError("give a rationale: it is the record of why the strategy changed")
    review_ids = sorted(set(review_ids or []))
    with session_scope() as s:
        require_admin(s, user_id)
        # Row lock on PostgreSQL (SQLite writers are serialised): two admins deciding on one version at once
        # cannot both pass the "already decided" check.
        st = s.exec(select(Strategy).where(Strategy.id == strategy_id).with_for_update()).first()
        if st is None:
            raise LoopError(f"no strategy with id {strategy_id}")
        found = set(s.exec(select(ExpertReview.id).where(ExpertReview.id.in_(review_ids),
                                                         ExpertReview.study_id == st.study_id)).all())
        if set(review_ids) - found:
            raise LoopError(f"review(s) {', '.join(map(str, sorted(set(review_ids) - found)))} are not reviews of "
                            f"this study")
        last = s.exec(select(VersionDecision).where(VersionDecision.strategy_id == st.id)
                      .order_by(VersionDecision.id.desc())).first()
        if last is not None and last.decision == decision:
            raise LoopError(f"{st.name} v{st.version} is already {decision}")
        lineage_ids = set(s.exec(select(Strategy.id).where(Strategy.study_id == st.study_id,
                                                           Strategy.name == st.name)).all())
        conditions = s.exec(select(Condition).where(Condition.study_id == st.study_id, Condition.kind == "assisted",
                                                    Condition.strategy_id.in_(lineage_ids))
                            .order_by(Condition.position, Condition.id)).all()
        moved: list[str] = []
        if decision == "promoted":
            for c in conditions:
                if c.strategy_id != st.id:
                    c.strategy_id = st.id
                    moved.append(c.name)
        elif decision == "retired":
            using = [c.name for c in conditions if c.strategy_id == st.id]
            if using:
                raise LoopError(f"{st.name} v{st.version} is what {', '.join(using)} deal now: promote another "
                                f"version first")
        s.add(VersionDecision(study_id=st.study_id, strategy_id=st.id, decision=decision, rationale=rationale,
                              review_ids=review_ids, user_id=user_id))
        log_event(s, f"version.{decision}", user_id=user_id,
                  study_id=st.study_id, strategy=st.id, rationale=rationale, reviews=review_ids, conditions=moved)
        return st, moved


def promote(strategy_id: int, rationale: str, review_ids: list[int] | None, user_id: int | None) -> list[str]:
    """Promote a version with a rationale and the reviews it answers: a "promoted" decision, and the study's
    assisted conditions of its lineage (same strategy name) deal it from now on. Returns those conditions' names."""
    return _decide(strategy_id, "promoted", rationale, review_ids, user_id)[1]


def retire(strategy_id: int, rationale: str, user_id: int | None, review_ids: list[int] | None = None) -> None:
    """Retire a version (no condition may still deal it)."""
    _decide(strategy_id, "retired", rationale, review_ids, user_id)


def decision_history(study_id: int) -> list[dict[str, Any]]:
    """Every version decision of the study, newest first."""
    with session_scope(write=False) as s:
        rows = s.exec(select(VersionDecision, Strategy, User)
                      .join(Strategy, Strategy.id == VersionDecision.strategy_id)
                      .outerjoin(User, User.id == VersionDecision.user_id)
                      .where(VersionDecision.study_id == study_id).order_by(VersionDecision.id.desc())).all()
        return [{"id": d.id, "at": d.created_at, "version": f"{st.name} v{st.version}", "strategy_id": st.id,
                 "decision": d.decision, "rationale": d.rationale, "review_ids": list(d.review_ids),
                 "proposal_id": d.proposal_id, "by": u.name if u else "(command line)"} for d, st, u in rows]


def ancestry(s, strategy_id: int) -> list[int]:
    """A version and the versions it descends from (its parent, their parent, ...), nearest first."""
    out: list[int] = []
    current = s.get(Strategy, strategy_id)
    while current is not None and current.id not in out:
        out.append(current.id)
        current = s.get(Strategy, current.parent_id) if current.parent_id else None
    return out


def study_reviews(study_id: int, strategy_id: int | None = None) -> list[dict[str, Any]]:
    """The study's live reviews, for linking a decision to them: id, version reviewed, outcome, notes.
    `strategy_id`: only the reviews a decision on that version can answer, those of the version itself and of the
    versions it descends from (a new candidate has no reviews yet: it answers its parent's); reviews of answers
    given without a model never are."""
    with session_scope(write=False) as s:
        q = (select(ExpertReview, Assignment.strategy_id)
             .outerjoin(Assignment, Assignment.id == ExpertReview.assignment_id)
             .where(ExpertReview.study_id == study_id, ExpertReview.kind.in_(("review", "adjudication"))))
        if strategy_id is not None:
            q = q.where(Assignment.strategy_id.in_(ancestry(s, strategy_id)))
        rows = s.exec(q.order_by(ExpertReview.id.desc())).all()
        return [{"id": r.id, "strategy_id": sid, "kind": r.kind, "outcome": (r.labels or {}).get("outcome"),
                 "notes": r.notes, "at": r.created_at} for r, sid in rows]
