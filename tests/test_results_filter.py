"""One answer of each kind that is not an ordinary result, planted in one real study, and what every consumer of
"a result" does with it (oversight.results.results_filter):

- ann and bob, ordinary participants: ann alone on q0 (right) and q1 (right), bob assisted on q0 (right) and q1
  (wrong); they are the only non-experts' results;
- practice: ann's practice item, answered right and reviewed;
- catch: ann answers the attention check right, bob wrong;
- expert: eve answers q0 in the expert condition;
- excluded: cat (an admin excluded her) answers q2 assisted, right, reviewed;
- simulated: sim, a simulated person in this real (not dry-run) study, answers q3 assisted, right, reviewed;
- timed out: bob's task on q2 timed out (no answer);
- preview: a staff member's preview participant answers q2 alone, right.
"""

from __future__ import annotations

import csv
import json
from functools import partial

import pytest

from oversight.access import auth
from oversight.sandwiching.allocation import success_counts
from oversight.study.attention import CATCH, attention
from oversight.db import session_scope
from oversight.results.export import export_study
from oversight.results.judgment_records import load_judgments
from oversight.sandwiching.outer_loop import version_figures
from oversight.study.payments import held, ledger, owed
from oversight.results.report import study_report
from oversight.results.results_filter import left_out_reasons, people_left_out
from oversight.rlaif.store import human_ratings, study_agreement
from oversight.sandwiching.analysis import sandwich
from oversight.study.studies import create_study
from oversight.vocab import SIMULATED
from oversight.w2s.data import study_labelled
from storage.models import Study, User
from tests import factories


@pytest.fixture
def world(study):
    sid = study.id
    with session_scope() as s:
        st = s.get(Study, sid)
        st.base_pay, st.bonus_rule, st.bonus_amount = 2.0, "per_correct", 1.0
        st.catch_items, st.attention_warn, st.attention_exclude = 1, 1, 0  # a wrong catch answer warns only
    q = factories.items(sid, 4)
    [practice_item] = factories.items(sid, 1, prefix="practice", split="practice")
    [catch_item] = factories.items(sid, 1, prefix="catch", split=CATCH)
    v1 = factories.assisted_strategy(sid)
    alone = factories.condition(sid, "alone", "alone", position=0)
    assisted = factories.condition(sid, "assisted", "assisted", v1, position=1)
    expert_cond = factories.condition(sid, "experts", "expert", position=2)
    ann, bob, cat, sim, pre = factories.participants(sid, 5)
    eve, reviewer = factories.expert("eve"), factories.expert("rex")
    admin = auth.create_user(role="admin", name="ada", password="long enough").id
    with session_scope() as s:
        s.get(User, cat).attention_override = "exclude"
        s.get(User, sim).external_study_id = SIMULATED
        s.get(User, pre).preview_by = admin
    answer = partial(factories.answered, sid, answer=0)  # right, unless answer=1 or None says otherwise
    a = {
        "ann q0": answer(ann, q[0], condition_id=alone),
        "ann q1": answer(ann, q[1], condition_id=alone),
        "practice": answer(ann, practice_item, condition_id=assisted, strategy_id=v1, practice=True),
        "ann catch": answer(ann, catch_item, condition_id=None, catch=True),
        "bob q0": answer(bob, q[0], condition_id=assisted, strategy_id=v1),
        "bob q1": answer(bob, q[1], condition_id=assisted, strategy_id=v1, answer=1),
        "timed out": answer(bob, q[2], condition_id=assisted, strategy_id=v1, answer=None, state="skipped"),
        "bob catch": answer(bob, catch_item, condition_id=None, catch=True, answer=1),
        "expert": answer(eve, q[0], condition_id=expert_cond),
        "excluded": answer(cat, q[2], condition_id=assisted, strategy_id=v1),
        "simulated": answer(sim, q[3], condition_id=assisted, strategy_id=v1),
        "preview": answer(pre, q[2], condition_id=alone),
    }
    for key, outcome in (("bob q0", "correct"), ("bob q1", "incorrect"), ("practice", "correct"),
                         ("excluded", "correct"), ("simulated", "correct")):
        factories.review(sid, reviewer, a[key], outcome=outcome)
    return {"study": sid, "q": q, "v1": v1, "a": a, "ann": ann, "bob": bob, "cat": cat, "sim": sim, "pre": pre,
            "eve": eve, "alone": alone, "assisted": assisted, "expert": expert_cond}


def test_the_filter_names_who_is_left_out_and_why(world):
    with session_scope(write=False) as s:
        assert people_left_out(s, world["study"]) == {world["cat"], world["sim"], world["pre"]}
        assert left_out_reasons(s, world["study"]) == {world["cat"]: "excluded", world["sim"]: "simulated",
                                                       world["pre"]: "preview"}


def test_judgment_records_hold_the_results_only_with_their_group(world):
    records = load_judgments(study_id=world["study"])
    assert sorted(r.assignment_id for r in records) == sorted(
        world["a"][k] for k in ("ann q0", "ann q1", "bob q0", "bob q1", "expert"))
    groups = {r.assignment_id: r.judge_group for r in records}
    assert groups[world["a"]["expert"]] == "expert" and list(groups.values()).count("participant") == 4


def test_sandwich_and_report_count_the_results(world):
    result = sandwich(study_id=world["study"], resamples=50)
    n = {(r.kind, r.strategy_id): r.n for r in result.conditions}
    assert n[("alone", None)] == 2  # ann's two; not the preview answer
    assert n[("assisted", None)] == 2 and n[("assisted", world["v1"])] == 2  # bob's two; not practice, cat, sim
    assert n[("expert", None)] == 1  # eve, in her own row
    report = study_report(study_id=world["study"])
    assert report["counts"]["judgments"] == 5 and report["counts"]["final_judgments"] == 5


def test_outer_loop_and_allocation_count_non_experts_results(world):
    [f] = version_figures(world["study"])
    assert (f["n_judgments"], f["accuracy"]["n"], f["accuracy"]["hits"]) == (2, 2, 1)
    assert (f["expert_success"]["n"], f["expert_success"]["hits"]) == (2, 1)
    assert f["n_timed_out"] == 1 and (f["accuracy_itt"]["n"], f["accuracy_itt"]["hits"]) == (3, 1)
    assert f["simulated"] is False
    with session_scope(write=False) as s:
        assert success_counts(s, world["study"], [world["v1"]]) == {world["v1"]: (1, 1)}


def test_attention_flags_and_pay(world):
    _, people = attention(study_id=world["study"])
    by = {p.user_id: p for p in people}
    assert (by[world["ann"]].catch_answered, by[world["ann"]].catch_wrong, by[world["ann"]].status) == (1, 0, "ok")
    assert (by[world["bob"]].catch_wrong, by[world["bob"]].status) == (1, "warn")
    assert by[world["cat"]].status == "excluded"
    # Base pay 2 for finishing (a timed-out task is finished); a bonus of 1 per right answer on real tasks only:
    # ann's practice and catch answers are right but earn nothing. cat, whom an admin excluded, is listed to reject
    # as screened out (not held: held is for exclusions nobody has decided yet); sim and the preview never paid.
    pay = {o.user_id: (o.base, o.bonus) for o in owed(study_id=world["study"])}
    assert pay == {world["ann"]: (2.0, 2.0), world["bob"]: (2.0, 1.0)}
    assert held(study_id=world["study"]) == []
    book = ledger(study_id=world["study"])
    assert {p.user_id: p.decision for p in book.people if p.decision == "reject"} == {world["cat"]: "reject"}
    assert not ({world["sim"], world["pre"]} & {p.user_id for p in book.people})


def test_weak_to_strong_people_labels_are_non_experts_results(world):
    q = world["q"]
    # By default people answering alone (ann); not eve's expert answer, nor bob's answers with the assistant.
    examples, labels = study_labelled("boolq", world["study"])
    assert sorted(e.key for e in examples) == [f"item/{q[0]}", f"item/{q[1]}"]
    assert labels[f"item/{q[0]}"] == pytest.approx([0.8, 0.2])
    assert labels[f"item/{q[1]}"] == pytest.approx([0.8, 0.2])
    # Chosen: the assisted condition's answers (bob's), the same filter otherwise (no practice, catch, excluded).
    examples, labels = study_labelled("boolq", world["study"], setting="assisted-qa")
    assert sorted(e.key for e in examples) == [f"item/{q[0]}", f"item/{q[1]}"]
    assert labels[f"item/{q[1]}"] == pytest.approx([0.2, 0.8])


def test_rlaif_people_agreement_keeps_groups_and_results(world):
    q = world["q"]
    people = human_ratings(study_id=world["study"])
    assert people["participant"] == {world["ann"]: {q[0]: 0, q[1]: 0}, world["bob"]: {q[0]: 0, q[1]: 1}}
    assert people["expert"] == {world["eve"]: {q[0]: 0}}
    table = study_agreement(study_id=world["study"])
    assert table["sources"]["non-experts"] == 1  # q0 (q1 is a tie); not the catch, practice or left-out items
    assert table["sources"]["experts"] == 1 and set(table["alpha"]) == {"non-experts", "experts"}
    assert table["alpha_ci"]["non-experts"]["n"] == 2  # q0 and q1, each judged by ann and bob


def test_export_keeps_every_row_and_marks_its_status(world, tmp_path):
    export_study(study_id=world["study"], out_dir=tmp_path)
    a = world["a"]
    with (tmp_path / "judgments.csv").open(newline="") as f:
        status = {int(r["assignment_id"]): r["status"] for r in csv.DictReader(f)}
    assert status == {a["ann q0"]: "result", a["ann q1"]: "result", a["bob q0"]: "result", a["bob q1"]: "result",
                      a["expert"]: "result", a["practice"]: "practice", a["ann catch"]: "catch",
                      a["bob catch"]: "catch", a["excluded"]: "excluded", a["simulated"]: "simulated",
                      a["preview"]: "preview"}
    jsonl = {r["assignment_id"]: r["status"] for r in map(json.loads, (tmp_path / "judgments.jsonl").open())}
    assert jsonl == status
    dealt = {r["id"]: r for r in map(json.loads, (tmp_path / "assignments.jsonl").open())}
    assert dealt[a["timed out"]]["timed_out"] is True and dealt[a["timed out"]]["status"] == "result"
    assert sum(r["timed_out"] for r in dealt.values()) == 1
    people = {r["id"]: r for r in map(json.loads, (tmp_path / "participants.jsonl").open())}
    assert (people[world["pre"]]["preview"], people[world["pre"]]["left_out"]) == (True, "preview")
    assert (people[world["sim"]]["simulated"], people[world["sim"]]["left_out"]) == (True, "simulated")
    assert people[world["cat"]]["left_out"] == "excluded" and people[world["ann"]]["left_out"] is None


def test_in_a_dry_run_the_simulated_answers_are_results(world):
    with session_scope() as s:
        s.get(Study, world["study"]).dry_run_of = create_study(name="Real", user_id=None).id
    q3 = f"item/{world['q'][3]}"
    assert q3 in study_labelled("boolq", world["study"], setting="assisted-qa")[1]  # sim answered with the assistant
    assert world["sim"] in human_ratings(study_id=world["study"])["participant"]
    [f] = version_figures(world["study"])
    assert (f["accuracy"]["n"], f["simulated"]) == (3, True)
    assert world["sim"] not in {o.user_id for o in owed(study_id=world["study"])}  # still never paid
