"""Agreement statistics against hand-computed cases, and the study's agreement table from stored labels."""

from __future__ import annotations

import pytest

from oversight.db import session_scope
from oversight.importers import import_path
from oversight.rlaif.agreement import (agreement_table, cohen_kappa, krippendorff_alpha, majority,
                                       percent_agreement)
from storage.models import Judgment, User

A = {1: 0, 2: 0, 3: 1, 4: 1}
B = {1: 0, 2: 1, 3: 1, 4: 1, 5: 0}  # 5 is not labelled by A: left out


def test_percent_agreement_with_wilson_interval():
    got = percent_agreement(A, B)
    assert (got["k"], got["n"], got["estimate"]) == (3, 4, 0.75)
    # Wilson 95 %: centre (0.75 + 1.96²/8) / (1 + 1.96²/4), half-width 1.96·sqrt(.1875/4 + 1.96²/64) / (1 + 1.96²/4)
    assert got["ci_low"] == pytest.approx(0.3007, abs=1e-3) and got["ci_high"] == pytest.approx(0.9544, abs=1e-3)


def test_cohen_kappa_hand_computed():
    # observed 3/4; chance: A has two 0s and two 1s, B one 0 and three 1s -> (2·1 + 2·3)/16 = 0.5
    assert cohen_kappa(A, B) == pytest.approx(0.5)
    assert cohen_kappa({1: 0}, {1: 0}) is None  # chance agreement is total: undefined
    assert cohen_kappa({}, B) is None


def test_krippendorff_alpha_hand_computed():
    # Pairable values 0,0 | 1,1 | 0,1 (item 4 has one rating): n=6, D_o = 2/6, D_e = 2·3·3/(6·5) = 0.6
    ratings = {"r1": {1: 0, 2: 1, 3: 0}, "r2": {1: 0, 2: 1, 3: 1, 4: 1}}
    assert krippendorff_alpha(ratings) == pytest.approx(1 - (2 / 6) / 0.6)
    assert krippendorff_alpha({"r1": {1: 0, 2: 1}, "r2": {1: 0, 2: 1}}) == pytest.approx(1.0)
    assert krippendorff_alpha({"only": {1: 0}}) is None
    assert krippendorff_alpha({"r1": {1: 0}, "r2": {1: 0}}) is None  # no variation: undefined


def test_majority_leaves_ties_out_and_table_covers_every_pair_of_sources():
    assert majority({"r1": {1: 0, 2: 0}, "r2": {1: 0, 2: 1}, "r3": {1: 1}}) == {1: 0}
    rows = agreement_table({"a": A, "b": B, "c": {1: 1}})
    assert [(r["a"], r["b"], r["n"]) for r in rows] == [("a", "b", 4), ("a", "c", 1), ("b", "c", 1)]
    assert rows[0]["agreement"] == 0.75 and rows[0]["kappa"] == pytest.approx(0.5)


def _judge(s, role: str, name: str) -> int:
    user = User(role=role, name=name)
    s.add(user)
    s.flush()
    return user.id


def test_study_table_compares_ai_versions_with_people_and_lists_disagreements(study, pairs_file, models):
    from oversight.rlaif.config import create_labeller
    from oversight.rlaif.store import disagreements, label_study, study_agreement, study_pairs

    import_path(study_id=study.id, fmt="hh-rlhf", path=pairs_file)
    pairs = study_pairs(study_id=study.id)[:6]
    v1 = create_labeller(name="harmless", model="extractive")
    summary = label_study(study_id=study.id, labeller_id=v1.id, limit=6)
    assert summary["n_new"] == 6 and summary["n"] == 6
    assert label_study(study_id=study.id, labeller_id=v1.id, limit=6)["n_new"] == 6  # the next six, not again
    with session_scope() as s:
        experts = [_judge(s, "expert", f"e{i}") for i in range(2)]
        novice = _judge(s, "participant", "p1")
        for p in pairs:
            for e in experts:  # experts agree with the data set
                s.add(Judgment(item_id=p.item_id, judge_id=e, judge_kind="human", is_final=True,
                               probabilities=[0.9, 0.1] if p.preferred == 0 else [0.1, 0.9]))
            # the non-expert always picks the first response; a draft (not final) is ignored
            s.add(Judgment(item_id=p.item_id, judge_id=novice, judge_kind="human", is_final=True, probabilities=[0.7, 0.3]))
            s.add(Judgment(item_id=p.item_id, judge_id=novice, judge_kind="human", is_final=False, probabilities=[0.0, 1.0]))
    table = study_agreement(study_id=study.id)
    assert table["n_pairs"] == 24
    by = {(r["a"], r["b"]): r for r in table["table"]}
    ai = f"AI harmless v1 (#{v1.id})"
    assert by[("data set", "experts")]["agreement"] == 1.0 and by[("data set", "experts")]["n"] == 6
    first_is_gold = sum(p.preferred == 0 for p in pairs)
    assert by[("data set", "non-experts")]["agreement"] == pytest.approx(first_is_gold / 6)
    assert by[("data set", ai)]["n"] == 12
    assert table["alpha"]["experts"] == pytest.approx(1.0)
    assert table["alpha_ci"]["experts"]["n"] == 6 and table["alpha_ci"]["experts"]["estimate"] == pytest.approx(1.0)
    assert set(table["alpha"]) == {"non-experts", "experts"}  # never pooled
    assert table["labellers"][0]["n"] == 12
    # Disagreements with the experts are exactly the labelled pairs where the AI differs from the data set.
    ai_wrong = {d["item_id"] for d in disagreements(study_id=study.id, labeller_id=v1.id, against="data set")}
    vs_experts = {d["item_id"] for d in disagreements(study_id=study.id, labeller_id=v1.id)}
    assert ai_wrong and vs_experts == ai_wrong & {p.item_id for p in pairs}


def test_labelling_runs_as_a_job_with_progress(study, pairs_file, models):
    from oversight.jobs import enqueue, get_job, run_worker
    from oversight.rlaif.config import create_labeller
    from oversight.rlaif.store import ai_labels

    import_path(study_id=study.id, fmt="hh-rlhf", path=pairs_file)
    v = create_labeller(name="harmless", model="extractive")
    job_id = enqueue(kind="rlaif-label", study_id=study.id, params={"labeller_id": v.id})
    assert run_worker(once=True) == 1
    job = get_job(job_id)
    assert job.state == "done" and job.progress == 1.0 and job.message.startswith("24/24")
    assert job.result["n_new"] == 24 and len(ai_labels(study_id=study.id, labeller_id=v.id)) == 24
