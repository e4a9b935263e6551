"""The RLAIF lab on the database: a study's pair items, AI labels per item and labeller version, people's labels,
the agreement table, disagreements for review, and reward-model runs.

Pairs in a study are two-option items (format `hh-rlhf`): source text = conversation, options = the two
responses, gold = the data set's preferred one. People's labels are their final `Judgment` rows on those items
with `judge_kind == "human"` that are results of the study (`oversight.results.results_filter`: no practice or catch
answer, no excluded, preview or, outside a dry run, simulated person); the judge's role says whether they count
as a non-expert ("participant") or an expert (`judge_group`), never both. These queries need nothing from the protocol that collected the judgments, so the preference
protocol's labels count here as soon as they exist.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import col, select

from oversight.audit import log_event
from oversight.db import session_scope
from oversight.rlaif.agreement import agreement_table, krippendorff_alpha, majority
from oversight.rlaif.config import LabellerSpec, get_labeller
from oversight.rlaif.labeller import PairLabel, bias_summary, label_pairs, make_labeller
from oversight.rlaif.pairs import Pair, pairs_from_items
from oversight.results.results_filter import is_result, judge_group
from storage.models import (
    Assignment, Item, ItemGold, Judgment, RewardModelRun, RlaifLabel, RlaifLabeller, User,
)

Progress = Callable[[int, int, str], None]
PEOPLE = {"participant": "non-experts", "expert": "experts"}


def study_pairs(*, study_id: int, tag: str | None = None) -> list[Pair]:
    """The study's two-option items as pairs, in id order, with the data set's label where there is one."""
    with session_scope(write=False) as s:
        items = s.exec(select(Item).where(Item.of_study(study_id)).order_by(Item.id)).all()
        items = [i for i in items if len(i.options) == 2 and (tag is None or tag in i.tags)]
        ids = [i.id for i in items]
        gold = dict(s.exec(select(ItemGold.item_id, ItemGold.gold_index).where(col(ItemGold.item_id).in_(ids))).all())
        return pairs_from_items(items, gold)


def study_of_item(item_id: int) -> int:
    with session_scope(write=False) as s:
        return s.get(Item, item_id).study_id


def label_study(*, study_id: int, labeller_id: int, limit: int | None = None, progress: Progress | None = None) -> dict:
    """Label the study's pairs this labeller version has not labelled yet (both orders), store them, and return
    the bias summary over all of its labels in the study."""
    row = get_labeller(labeller_id)
    pairs = study_pairs(study_id=study_id)
    done = set(ai_labels(study_id=study_id, labeller_id=labeller_id))
    todo = [p for p in pairs if p.item_id not in done][: limit or None]
    labeller = make_labeller(LabellerSpec.from_row(row))
    labels = label_pairs(labeller, todo, progress)
    with session_scope() as s:
        s.add_all([RlaifLabel(labeller_id=labeller_id, item_id=lab.item_id, p_first_forward=lab.p_forward,
                              p_first_backward=lab.p_backward, p_first=lab.p_first, flipped=lab.flipped)
                   for lab in labels])
        log_event(s, "rlaif-label", study_id=study_id, labeller_id=labeller_id, n=len(labels))
    return summary_for(study_id=study_id, labeller_id=labeller_id) | {"n_new": len(labels)}


def ai_labels(*, study_id: int, labeller_id: int) -> dict[int, PairLabel]:
    """item id -> the stored label of this labeller version."""
    with session_scope(write=False) as s:
        rows = s.exec(select(RlaifLabel).join(Item, Item.id == RlaifLabel.item_id)
                      .where(Item.of_study(study_id), RlaifLabel.labeller_id == labeller_id)).all()
        return {r.item_id: PairLabel(key=f"item/{r.item_id}", p_forward=r.p_first_forward,
                                     p_backward=r.p_first_backward, item_id=r.item_id) for r in rows}


def summary_for(*, study_id: int, labeller_id: int) -> dict:
    labels = ai_labels(study_id=study_id, labeller_id=labeller_id)
    pairs = [p for p in study_pairs(study_id=study_id) if p.item_id in labels]
    return bias_summary(pairs, [labels[p.item_id] for p in pairs])


def labellers_used(*, study_id: int) -> list[RlaifLabeller]:
    """Labeller versions with labels in this study."""
    with session_scope(write=False) as s:
        ids = set(s.exec(select(RlaifLabel.labeller_id).join(Item, Item.id == RlaifLabel.item_id)
                         .where(Item.of_study(study_id))).all())
        rows = s.exec(select(RlaifLabeller).where(col(RlaifLabeller.id).in_(ids)).order_by(RlaifLabeller.id)).all()
        for r in rows:
            s.expunge(r)
        return list(rows)


def _label_of(j: Judgment) -> int | None:
    probs = list(j.probabilities or [])
    if len(probs) == 2 and probs[0] != probs[1]:
        return 0 if probs[0] > probs[1] else 1
    return j.answer_index if j.answer_index in (0, 1) else None


def human_ratings(*, study_id: int) -> dict[str, dict[int, dict[int, int]]]:
    """group ("participant" | "expert") -> judge user id -> {item id: label}, from the final human judgments on
    the study's two-option items that are results of the study (a judge's latest final judgment of an item
    wins)."""
    out: dict[str, dict[int, dict[int, int]]] = {role: {} for role in PEOPLE}
    with session_scope(write=False) as s:
        rows = s.exec(select(Judgment, User.role, Item.options).join(User, User.id == Judgment.judge_id)
                      .join(Item, Item.id == Judgment.item_id)
                      .outerjoin(Assignment, Assignment.id == Judgment.assignment_id)
                      .where(Item.of_study(study_id), Judgment.judge_kind == "human", Judgment.is_final,
                             is_result(s, study_id))
                      .order_by(Judgment.id)).all()
    for j, role, options in rows:
        label, group = _label_of(j), judge_group(role)
        if group is not None and len(options) == 2 and label is not None:
            out[group].setdefault(j.judge_id, {})[j.item_id] = label
    return out


def study_agreement(*, study_id: int) -> dict:
    """The agreement table: every AI labeller version used in the study, non-experts and experts (majority per
    pair, from their results only) and the data set's labels, pairwise; Krippendorff's alpha among the
    non-experts and among the experts; per-version bias figures."""
    pairs = study_pairs(study_id=study_id)
    sources: dict[str, dict[int, int]] = {"data set": {p.item_id: p.preferred for p in pairs if p.preferred is not None}}
    versions = []
    for row in labellers_used(study_id=study_id):
        name = f"AI {row.name} v{row.version} (#{row.id})"
        labels = ai_labels(study_id=study_id, labeller_id=row.id)
        sources[name] = {k: lab.choice for k, lab in labels.items() if lab.choice is not None}
        versions.append({"id": row.id, "source": name} | summary_for(study_id=study_id, labeller_id=row.id))
    people = human_ratings(study_id=study_id)
    for role, title in PEOPLE.items():
        if people[role]:
            sources[title] = majority(people[role])
    # Non-experts and experts are never pooled (oversight.results.results_filter): an alpha per group, with its interval
    # (bootstrap over the pairs).
    alpha = {title: krippendorff_alpha(people[role]) for role, title in PEOPLE.items()}
    alpha_ci = {title: _alpha_interval(people[role], title) for role, title in PEOPLE.items()}
    return {"n_pairs": len(pairs), "sources": {k: len(v) for k, v in sources.items()},
            "table": agreement_table(sources), "alpha": alpha, "alpha_ci": alpha_ci, "labellers": versions}


def _alpha_interval(ratings: dict[int, dict[int, int]], key: str) -> dict:
    """Nominal alpha among one group's judges over the pairs, with a 95% bootstrap interval over the pairs."""
    from oversight.sandwiching.agreement import alpha_with_interval

    by_pair: dict[int, dict[int, int]] = {}
    for judge, labels in ratings.items():
        for item, label in labels.items():
            by_pair.setdefault(item, {})[judge] = label
    return alpha_with_interval(list(by_pair.values()), 2, "nominal", key=f"rlaif:{key}")


def disagreements(*, study_id: int, labeller_id: int, against: str = "experts", limit: int = 200) -> list[dict]:
    """Pairs where this AI labeller's verdict differs from the experts' majority (or the data set's label, with
    `against="data set"`), most confident AI verdicts first."""
    pairs = {p.item_id: p for p in study_pairs(study_id=study_id)}
    labels = ai_labels(study_id=study_id, labeller_id=labeller_id)
    if against == "experts":
        reference = majority(human_ratings(study_id=study_id)["expert"])
    else:
        reference = {k: p.preferred for k, p in pairs.items() if p.preferred is not None}
    out = []
    for item_id, lab in labels.items():
        if item_id in reference and lab.choice is not None and lab.choice != reference[item_id]:
            p = pairs[item_id]
            out.append({"item_id": item_id, "ai_choice": lab.choice, "p_first": lab.p_first, "flipped": lab.flipped,
                        "reference_choice": reference[item_id], "data_set_choice": p.preferred,
                        "conversation": p.conversation, "responses": list(p.responses)})
    out.sort(key=lambda d: -abs(d["p_first"] - 0.5))
    return out[:limit]


def save_reward_run(*, label_source: str, backend: str, params: dict, result: dict, study_id: int | None = None,
                    user_id: int | None = None) -> int:
    with session_scope() as s:
        row = RewardModelRun(study_id=study_id, label_source=label_source, backend=backend, params=params,
                             result=result, created_by=user_id)
        s.add(row)
        s.flush()
        log_event(s, "rlaif-reward-model", user_id=user_id, study_id=study_id, run_id=row.id, label_source=label_source)
        return row.id


def list_reward_runs(*, study_id: int | None = None) -> list[RewardModelRun]:
    with session_scope(write=False) as s:
        q = select(RewardModelRun).order_by(RewardModelRun.id.desc())
        if study_id is not None:
            q = q.where(RewardModelRun.study_id == study_id)
        rows = list(s.exec(q).all())
        for r in rows:
            s.expunge(r)
        return rows
