"""The sandwich analysis recovers planted accuracies: rows per condition and version, intervals from the one engine
(two-way cluster bootstrap over items and people), the gap closed (no estimate, no interval; unbounded when the data
cannot bound it), the paired comparison, practice left out, timed-out tasks counted, non-experts and experts never
pooled, the model-alone row one result per item, the gold standing in for missing experts."""

from __future__ import annotations

import csv
import io
import json
import random

import pytest

from oversight.db import session_scope
from oversight.results import intervals
from oversight.sandwiching.analysis import Outcome, paired_comparison, sandwich, text_table, to_csv, to_json
from storage.models import Assignment, Condition, Item, ItemGold, Judgment, Strategy, Study, Transcript, User

GOLD = 1  # every item's gold answer; a correct judgment puts 0.8 on it, a wrong one 0.2 (a 50/50 is wrong)


def outcomes(n: int, p: float, rng: random.Random) -> list[bool]:
    """Exactly round(p * n) correct out of n, in random order: the planted accuracy is the true sample accuracy."""
    hits = [True] * round(p * n) + [False] * (n - round(p * n))
    rng.shuffle(hits)
    return hits


class Builder:
    """Rows inserted directly: a study with items, conditions, people, assignments and final judgments."""

    def __init__(self, s, n_items: int, name: str = "Sandwich"):
        self.s = s
        self.study = Study(name=name)
        s.add(self.study)
        s.flush()
        self.items = [Item(study_id=self.study.id, external_id=f"q{i}", question=f"Q{i}?", options=["a", "b"])
                      for i in range(n_items)]
        s.add_all(self.items)
        s.flush()
        s.add_all([ItemGold(item_id=it.id, gold_index=GOLD) for it in self.items])
        self.gold = {it.id: GOLD for it in self.items}
        self.people = 0

    def strategy(self, name: str, version: int = 1, protocol: str = "assisted-qa") -> Strategy:
        st = Strategy(study_id=self.study.id, name=name, version=version, protocol=protocol)
        self.s.add(st)
        self.s.flush()
        return st

    def condition(self, name: str, kind: str, strategy: Strategy | None = None, position: int = 0) -> Condition:
        c = Condition(study_id=self.study.id, name=name, kind=kind, strategy_id=strategy.id if strategy else None,
                      position=position)
        self.s.add(c)
        self.s.flush()
        return c

    def person(self, role: str = "participant", simulated: bool = False) -> User:
        self.people += 1
        who = User(role=role, name=f"u{self.study.id}-{self.people}", study_id=self.study.id,
                   external_study_id="simulated" if simulated else None)
        self.s.add(who)
        self.s.flush()
        return who

    def answer(self, condition: Condition, item: Item, correct: bool | None, *, strategy: Strategy | None = None,
               practice: bool = False, role: str = "participant", simulated: bool = False, final: bool = True,
               who: User | None = None):
        """A final answer (correct True/False), or a timed-out task (correct None: the assignment is skipped)."""
        who = who or self.person(role, simulated)
        a = Assignment(study_id=self.study.id, participant_id=who.id, item_id=item.id, condition_id=condition.id,
                       strategy_id=(strategy.id if strategy else condition.strategy_id), practice=practice,
                       state="skipped" if correct is None else "done")
        self.s.add(a)
        self.s.flush()
        if correct is None:
            return
        p = [0.8, 0.2] if correct == (self.gold[item.id] == 0) else [0.2, 0.8]
        self.s.add(Judgment(item_id=item.id, assignment_id=a.id, judge_id=who.id, judge_kind="human",
                            probabilities=p, is_final=final))

    def ai(self, strategy: Strategy, item: Item, correct: bool, *, judge_kind: str = "ai", final: bool = True,
           status: str = "complete"):
        t = Transcript(study_id=self.study.id, item_id=item.id, strategy_id=strategy.id, protocol="model alone",
                       status=status)
        self.s.add(t)
        self.s.flush()
        self.s.add(Judgment(item_id=item.id, transcript_id=t.id, judge_kind=judge_kind,
                            probabilities=[0.2, 0.8] if correct else [0.8, 0.2], is_final=final))


PLANTED = {"model": 0.6, "alone": 0.55, "v1": 0.7, "v2": 0.8, "expert": 0.9}
N_ITEMS = 400


@pytest.fixture
def planted(db):
    """400 items; each answered once alone, once under v1 and once under v2 of the assisted condition, once by an
    expert, and once by the model alone; exact planted accuracies. Practice and non-final answers are all wrong,
    and an AI judge run afterwards (ai-offline) is wrong too: none of them may count."""
    rng = random.Random(7)
    with session_scope() as s:
        b = Builder(s, N_ITEMS)
        model_st = b.strategy("Model", protocol="model-alone")
        v1 = b.strategy("Assist", 1)
        v2 = b.strategy("Assist", 2)
        expert = b.condition("Experts", "expert", position=3)
        assisted = b.condition("With model", "assisted", v2, position=2)
        alone = b.condition("Alone", "alone", position=1)
        b.condition("Model", "model", model_st, position=0)
        for it, ok in zip(b.items, outcomes(N_ITEMS, PLANTED["alone"], rng)):
            b.answer(alone, it, ok)
        for key, st in (("v1", v1), ("v2", v2)):
            for it, ok in zip(b.items, outcomes(N_ITEMS, PLANTED[key], rng)):
                b.answer(assisted, it, ok, strategy=st)
        for it, ok in zip(b.items, outcomes(N_ITEMS, PLANTED["expert"], rng)):
            b.answer(expert, it, ok, role="expert")
        for it, ok in zip(b.items, outcomes(N_ITEMS, PLANTED["model"], rng)):
            b.ai(model_st, it, ok)
        for it in b.items[:50]:
            b.answer(alone, it, False, practice=True)
            b.answer(assisted, it, False, strategy=v1, final=False)
            b.ai(model_st, it, False, judge_kind="ai-offline")
        return {"study": b.study.id, "v1": v1.id, "v2": v2.id, "alone": alone.id, "assisted": assisted.id}


def by_name(result) -> dict:
    return {c.name: c for c in result.conditions}


def test_planted_accuracies_are_recovered_with_intervals_that_cover_them(planted):
    result = sandwich(study_id=planted["study"])
    rows = by_name(result)
    assert [c.name for c in result.conditions] == [
        "Model", "Alone", "With model", "With model · Assist v1", "With model · Assist v2", "Experts"]
    expected = {"Model": PLANTED["model"], "Alone": PLANTED["alone"], "With model · Assist v1": PLANTED["v1"],
                "With model · Assist v2": PLANTED["v2"], "With model": (PLANTED["v1"] + PLANTED["v2"]) / 2,
                "Experts": PLANTED["expert"]}
    for name, planted_value in expected.items():
        row = rows[name]
        assert row.estimate == pytest.approx(planted_value), name
        assert row.ci_low < planted_value < row.ci_high, name
        assert row.n_timed_out == 0 and row.itt == row.accuracy
    assert rows["Alone"].n == N_ITEMS  # the practice answers are not counted
    assert (rows["Alone"].n_items, rows["Alone"].n_people) == (N_ITEMS, N_ITEMS)  # one person per answer here
    assert (rows["Model"].n, rows["Model"].n_items, rows["Model"].n_people) == (N_ITEMS, N_ITEMS, 0)
    assert rows["With model"].n == 2 * N_ITEMS and rows["With model"].strategy_id is None
    assert rows["With model · Assist v1"].strategy_id == planted["v1"]
    assert not result.gold_stands_in and not result.dry_run

    gap = result.gap_closed
    planted_gap = ((PLANTED["v1"] + PLANTED["v2"]) / 2 - PLANTED["alone"]) / (PLANTED["expert"] - PLANTED["alone"])
    assert gap.estimate == pytest.approx(planted_gap)
    assert gap.ci_low < planted_gap < gap.ci_high and not gap.unbounded and gap.note == ""
    per_version = {g.strategy_id: g for g in result.gap_by}
    for key in ("v1", "v2"):
        planted_v = (PLANTED[key] - PLANTED["alone"]) / (PLANTED["expert"] - PLANTED["alone"])
        g = per_version[planted[key]]
        assert g.estimate == pytest.approx(planted_v) and g.ci_low < planted_v < g.ci_high

    paired = {p.strategy_id: p for p in result.paired}
    v2 = paired[planted["v2"]]
    assert v2.n_items == N_ITEMS
    assert v2.difference.estimate == pytest.approx(PLANTED["v2"] - PLANTED["alone"])
    assert v2.ci_low < PLANTED["v2"] - PLANTED["alone"] < v2.ci_high and v2.ci_low > 0


def test_json_contract_csv_and_text(planted):
    result = sandwich(study_id=planted["study"], resamples=200)
    data = json.loads(json.dumps(to_json(result)))
    for row in data["conditions"]:
        assert set(row) == {"name", "kind", "estimate", "ci_low", "ci_high", "n", "n_items", "n_people",
                            "n_timed_out", "itt_estimate", "itt_ci_low", "itt_ci_high", "strategy_id",
                            "gold_stands_in"}
    assert [r["kind"] for r in data["conditions"]] == ["model", "alone", "assisted", "assisted", "assisted", "expert"]
    assert set(data["gap_closed"]) == {"estimate", "ci_low", "ci_high", "unbounded", "undefined_share", "n",
                                       "n_items", "n_people", "note", "itt"}
    assert {g["strategy_id"] for g in data["gap_closed_by_version"]} == {None, planted["v1"], planted["v2"]}
    assert data["simulated"] is False and data["dry_run"] is False and data["empty"] is False
    assert data["interval"].startswith("95% two-way cluster bootstrap over items and people")
    csv_text = to_csv(result)
    assert csv_text.splitlines()[0].startswith("name,kind,strategy_id,estimate")
    assert len(csv_text.splitlines()) == 1 + len(result.conditions) + 1 + len(result.gap_by)  # + gap closed rows
    text = text_table(to_json(result))
    assert "gap closed" in text and "With model · Assist v2" in text and "two-way cluster bootstrap" in text
    assert f"n={N_ITEMS} answers, {N_ITEMS} items, {N_ITEMS} people" in text


def test_bootstrap_is_deterministic_for_a_seed(planted):
    first = to_json(sandwich(study_id=planted["study"], seed=3, resamples=300))
    again = to_json(sandwich(study_id=planted["study"], seed=3, resamples=300))
    other = to_json(sandwich(study_id=planted["study"], seed=4, resamples=300))
    assert first == again
    assert first["gap_closed"]["ci_low"] != other["gap_closed"]["ci_low"]
    assert first["gap_closed"]["estimate"] == other["gap_closed"]["estimate"]


def test_gap_closed_formula_on_hand_made_data(db):
    assert intervals.gap_closed_value(0.754, 0.572, 0.90) == pytest.approx((0.754 - 0.572) / (0.90 - 0.572))
    assert intervals.gap_closed_value(0.7, 0.6, 0.6) is None and intervals.gap_closed_value(0.7, 0.6, 0.5) is None
    with session_scope() as s:
        b = Builder(s, 4)
        alone, assisted = b.condition("Alone", "alone"), b.condition("With model", "assisted", b.strategy("A"))
        expert = b.condition("Experts", "expert")
        for cond, hits in ((alone, [1, 0, 0, 0]), (assisted, [1, 1, 0, 0]), (expert, [1, 1, 1, 0])):
            for it, ok in zip(b.items, hits):
                b.answer(cond, it, bool(ok), role="expert" if cond is expert else "participant")
        study_id = b.study.id
    result = sandwich(study_id=study_id)
    gap = result.gap_closed
    assert gap.estimate == pytest.approx((0.5 - 0.25) / (0.75 - 0.25))
    # On 4 items the experts do no better than non-experts alone in many resamples: the interval is unbounded
    # (with that share), never the interval of the resamples that happened to have a gap.
    assert gap.unbounded and gap.ci_low is None and gap.ci_high is None and gap.gap.undefined_share > 0.025
    assert "unbounded" in gap.note


def test_gold_stands_in_without_expert_answers(db):
    with session_scope() as s:
        b = Builder(s, 10)
        alone = b.condition("Alone", "alone")
        assisted = b.condition("With model", "assisted", b.strategy("A"))
        b.condition("Experts", "expert")  # declared, nobody answered yet
        for i, it in enumerate(b.items):
            b.answer(alone, it, i < 5)
            b.answer(assisted, it, i < 8)
        study_id = b.study.id
    result = sandwich(study_id=study_id)
    expert = result.conditions[-1]
    assert expert.gold_stands_in and expert.estimate == 1.0 and result.gold_stands_in
    assert result.gap_closed.estimate == pytest.approx((0.8 - 0.5) / (1.0 - 0.5))
    assert to_json(result)["conditions"][-1]["gold_stands_in"] is True
    assert "gold stands in" in text_table(to_json(result)) and "DRY RUN" not in text_table(to_json(result))


def test_simulated_people_count_in_a_dry_run_only_and_it_says_so(db):
    """In a real study simulated people's answers are not results; in its dry-run copy they are the results, and
    every output says the figures are from simulated people."""
    ids = {}
    with session_scope() as s:
        for name, copy_of in (("Real", None), ("Dry run", "real")):
            b = Builder(s, 10, name=name)
            if copy_of:
                b.study.dry_run_of = ids["real"]
            alone = b.condition("Alone", "alone")
            assisted = b.condition("With model", "assisted", b.strategy("A"))
            for i, it in enumerate(b.items):
                b.answer(alone, it, i < 5, simulated=True)
                b.answer(assisted, it, i < 8, simulated=True)
            b.answer(alone, b.items[0], True)  # one real person in each
            ids["real" if copy_of is None else "dry"] = b.study.id
    real, dry = sandwich(study_id=ids["real"]), sandwich(study_id=ids["dry"])
    assert by_name(real)["Alone"].n == 1 and by_name(real)["With model"].n == 0 and not real.dry_run
    assert by_name(dry)["Alone"].n == 11 and by_name(dry)["With model"].n == 10 and dry.dry_run
    data = to_json(dry)
    assert data["dry_run"] is True and data["simulated"] is True
    assert "DRY RUN: every figure below is from simulated people" in text_table(data)
    assert all(row["dry_run"] == "True" for row in csv.DictReader(io.StringIO(to_csv(dry))))


def test_the_gap_closed_on_forty_items_is_unbounded_not_conditional(db):
    """Alone 0.60, assisted 0.65, experts 0.70 on 40 items (each answered once per condition): the experts' lead
    is too small to divide by. The old item bootstrap dropped the resamples with expert ≤ alone and printed
    -3.00 to 3.24; the gap closed must come out unbounded, with the share of resamples, on every output."""
    with session_scope() as s:
        b = Builder(s, 40)
        alone, expert = b.condition("Alone", "alone"), b.condition("Experts", "expert")
        assisted = b.condition("With model", "assisted", b.strategy("A"))
        for cond, k, role in ((alone, 24, "participant"), (assisted, 26, "participant"), (expert, 28, "expert")):
            for i, it in enumerate(b.items):
                b.answer(cond, it, i < k, role=role)
        study_id = b.study.id
    result = sandwich(study_id=study_id)
    assert [round(c.estimate, 2) for c in result.conditions] == [0.60, 0.65, 0.65, 0.70]
    gap = result.gap_closed
    assert gap.estimate == pytest.approx(0.5)
    assert gap.unbounded and gap.ci_low is None and gap.ci_high is None and gap.gap.undefined_share > 0.025
    share = f"{100 * gap.gap.undefined_share:.0f}%"
    data = to_json(result)
    assert data["gap_closed"]["unbounded"] is True and data["gap_closed"]["ci_low"] is None
    assert f"unbounded (undefined in {share} of resamples)" in text_table(data)
    row = next(r for r in csv.DictReader(io.StringIO(to_csv(result))) if r["kind"] == "gap closed")
    assert (row["unbounded"], row["ci_low"], row["ci_high"]) == ("True", "", "")
    assert float(row["undefined_share"]) == pytest.approx(gap.gap.undefined_share)
    from oversight.sandwiching.figures import figure_html, sandwich_figure

    assert f"unbounded (undefined in {share} of resamples)" in json.dumps(sandwich_figure(result).to_dict()["layout"])
    assert "two-way cluster bootstrap over items and people" in figure_html(result)  # an exported figure names it


def test_no_gap_to_close_means_no_estimate_and_no_interval(db):
    with session_scope() as s:
        b = Builder(s, 10)
        alone, expert = b.condition("Alone", "alone"), b.condition("Experts", "expert")
        assisted = b.condition("With model", "assisted", b.strategy("A"))
        for cond, k, role in ((alone, 7, "participant"), (assisted, 9, "participant"), (expert, 6, "expert")):
            for i, it in enumerate(b.items):
                b.answer(cond, it, i < k, role=role)
        study_id = b.study.id
    gap = sandwich(study_id=study_id).gap_closed
    assert (gap.estimate, gap.ci_low, gap.ci_high, gap.unbounded) == (None, None, None, False)
    assert "no gap to close" in gap.note
    assert "gap closed: — (experts do no better" in text_table(to_json(sandwich(study_id=study_id)))


def test_timed_out_tasks_are_counted_and_scored_both_ways(db):
    """4 items answered alone (3 right) and 1 timed out; with the model 4 answered (all right), none timed out.
    Accuracy over answers: 0.75 and 1.0; counting the timed-out task as incorrect: 3/5 alone. A practice or a catch
    task that timed out, or one by an excluded/simulated person, is no outcome."""
    with session_scope() as s:
        b = Builder(s, 6)
        alone = b.condition("Alone", "alone")
        assisted = b.condition("With model", "assisted", b.strategy("A"))
        expert = b.condition("Experts", "expert")
        for it, ok in zip(b.items, (True, True, True, False, None)):
            b.answer(alone, it, ok)
        for it in b.items[:4]:
            b.answer(assisted, it, True)
            b.answer(expert, it, True, role="expert")
        b.answer(expert, b.items[4], None, role="expert")
        b.answer(alone, b.items[5], None, practice=True)
        b.answer(alone, b.items[5], None, simulated=True)
        study_id = b.study.id
    result = sandwich(study_id=study_id)
    rows = by_name(result)
    assert (rows["Alone"].n, rows["Alone"].n_timed_out, rows["Alone"].estimate) == (4, 1, 0.75)
    assert rows["Alone"].itt.estimate == pytest.approx(3 / 5) and rows["Alone"].itt.n == 5
    assert rows["Alone"].itt.has_interval
    assert (rows["With model"].n_timed_out, rows["With model"].itt) == (0, rows["With model"].accuracy)
    assert (rows["Experts"].n, rows["Experts"].n_timed_out, rows["Experts"].itt.estimate) == (4, 1, 0.8)
    # The gap closed both ways: (1 − .75) / (1 − .75) = 1 over answers; (1 − .6) / (.8 − .6) = 2 counting them.
    assert result.gap_closed.estimate == pytest.approx(1.0)
    assert result.gap_closed.itt.estimate == pytest.approx(2.0)
    data = to_json(result)
    alone_json = next(c for c in data["conditions"] if c["name"] == "Alone")
    assert (alone_json["n_timed_out"], alone_json["itt_estimate"]) == (1, pytest.approx(0.6))
    assert "1 timed out, counting them incorrect 60.0" in text_table(data)


def test_non_experts_and_experts_are_never_pooled(db):
    """An expert's answer in a non-expert condition (or a participant's in the expert one) counts in neither."""
    with session_scope() as s:
        b = Builder(s, 4)
        alone, expert = b.condition("Alone", "alone"), b.condition("Experts", "expert")
        for it in b.items:
            b.answer(alone, it, False)
            b.answer(expert, it, True, role="expert")
        b.answer(alone, b.items[0], True, role="expert")
        b.answer(expert, b.items[0], False, role="participant")
        study_id = b.study.id
    rows = by_name(sandwich(study_id=study_id))
    assert (rows["Alone"].n, rows["Alone"].estimate) == (4, 0.0)
    assert (rows["Experts"].n, rows["Experts"].estimate) == (4, 1.0)


def test_people_are_clusters_too(db):
    """Three people answer every item alone, two always right and one always wrong: the interval must show the
    people's spread (an items-only bootstrap would give a zero-width interval here), and n_people is 3."""
    with session_scope() as s:
        b = Builder(s, 10)
        alone = b.condition("Alone", "alone")
        people = [b.person() for _ in range(3)]
        for it in b.items:
            for k, who in enumerate(people):
                b.answer(alone, it, k < 2, who=who)
        study_id = b.study.id
    row = by_name(sandwich(study_id=study_id))["Alone"]
    assert (row.n, row.n_items, row.n_people) == (30, 10, 3)
    assert row.estimate == pytest.approx(2 / 3) and row.ci_high - row.ci_low > 0.3


def test_model_alone_counts_one_result_per_item_and_version(db):
    """A re-run of the model-alone condition replaces: the latest final AI judgment per item counts, transcripts
    marked superseded never do, and items set aside for practice are not in the model's row."""
    with session_scope() as s:
        b = Builder(s, 4)
        model_st = b.strategy("Model", protocol="model-alone")
        b.condition("Model", "model", model_st)
        alone = b.condition("Alone", "alone")
        b.answer(alone, b.items[0], True)
        for it in b.items[:3]:
            b.ai(model_st, it, False)  # the first run: all wrong
        for it in b.items[:3]:
            b.ai(model_st, it, True)  # the re-run: all right, and it is the one that counts
        b.ai(model_st, b.items[0], False, status="superseded")  # newer, but replaced
        b.items[3].split = "practice"
        b.ai(model_st, b.items[3], False)
        study_id = b.study.id
    row = by_name(sandwich(study_id=study_id))["Model"]
    assert (row.n, row.n_items, row.n_people, row.estimate) == (3, 3, 0, 1.0)
    # The report, through the same results filter, leaves out the superseded transcript's and the practice item's
    # judgments too: the six of the two runs on the three real items remain.
    from oversight.results.report import study_report

    (ai,) = [r for r in study_report(study_id=study_id)["by_strategy"] if r["judge_kind"] == "ai"]
    assert ai["n"] == 6


def test_paired_comparison_weighs_every_item_the_same_on_items_answered_both_ways():
    def outcome(item, person, ok):
        return Outcome(1, None, item, person, ok)

    alone = [outcome(1, "a", False), outcome(2, "a", True), outcome(2, "b", False), outcome(3, "b", True),
             outcome(4, "a", None)]
    assisted = [outcome(1, "c", True), outcome(2, "c", True), outcome(5, "c", True), outcome(4, "c", True)]
    p = paired_comparison("x", alone, assisted, resamples=300)
    assert [r.item_id for r in p.items] == [1, 2]  # item 4 timed out alone: not answered both ways
    assert (p.mean_alone, p.mean_assisted) == (pytest.approx(0.25), pytest.approx(1.0))
    assert p.difference.estimate == pytest.approx(((1 - 0) + (1 - 0.5)) / 2)
    assert (p.difference.n_items, p.difference.n_people) == (2, 3)
    # Five people answering ten items both ways: the difference has its interval, on shared resamples.
    alone = [outcome(i, k, (i + k) % 3 == 0) for i in range(10) for k in range(5)]
    assisted = [outcome(i, k, (i + k) % 3 != 1) for i in range(10) for k in range(5)]
    p = paired_comparison("y", alone, assisted, resamples=500)
    assert p.difference.estimate == pytest.approx(p.mean_assisted - p.mean_alone)
    assert not p.difference.unbounded and p.ci_low <= p.difference.estimate <= p.ci_high


def test_empty_study_gives_a_clear_empty_result(db):
    with session_scope() as s:
        b = Builder(s, 3)
        bare = Study(name="No conditions")
        s.add(bare)
        s.flush()
        alone = b.condition("Alone", "alone")
        b.condition("With model", "assisted", b.strategy("A"))
        b.answer(alone, b.items[0], True, practice=True)  # practice only: still nothing to show
        ids = b.study.id, bare.id
    result = sandwich(study_id=ids[0])
    assert result.empty and result.gap_closed is None and "No final answers" in result.message
    data = to_json(result)
    assert data["empty"] and (data["gap_closed"]["estimate"], data["gap_closed"]["ci_low"]) == (None, None)
    assert data["gap_closed"]["unbounded"] is False
    assert all(c["n"] == 0 for c in data["conditions"])
    assert "no conditions" in sandwich(study_id=ids[1]).message
    with pytest.raises(ValueError, match="does not exist"):
        sandwich(study_id=9999)


def test_model_alone_from_a_real_batch_run_and_the_report_cli(db, capsys):
    """The model-alone row reads the batch runner's AI judgments under the condition's strategy; `report --json`
    carries the sandwich section and the plain report prints its table."""
    from oversight import models
    from oversight.protocols import strategies
    from oversight.cli import main
    from oversight.models.config import ModelsConfig, ScriptedConfig
    from oversight.protocols.batch import run_batch

    with session_scope() as s:
        b = Builder(s, 0, name="Batch")
        for i, gold in enumerate((0, 0, 0, 1)):
            item = Item(study_id=b.study.id, external_id=f"k{i}", question="Where was the key?",
                        options=["Under the flowerpot", "In the mailbox"],
                        source_text="The key was under the blue flowerpot by the door.")
            s.add(item)
            s.flush()
            s.add(ItemGold(item_id=item.id, gold_index=gold))
            b.items.append(item)
            b.gold[item.id] = gold
        alone = b.condition("Alone", "alone")
        for it, ok in zip(b.items, (True, False, False, False)):
            b.answer(alone, it, ok)
        study_id = b.study.id
    models.configure(ModelsConfig(
        models={"s": ScriptedConfig(name="s", responses=["It is under the flowerpot."], choice_probs=[0.9, 0.1])},
        roles={r: "s" for r in ("debater", "consultant", "assistant", "judge", "feedback")}))
    try:
        model_st = strategies.create_strategy(study_id=study_id, name="model", protocol="model-alone",
                                                   rules={"randomise_answer_order": False})
        other = strategies.create_strategy(study_id=study_id, name="other", protocol="model-alone",
                                                   rules={"randomise_answer_order": False})
        assert all(o.error is None for o in run_batch(study_id=study_id, strategy_id=model_st.id).outcomes)
        run_batch(study_id=study_id, strategy_id=other.id)  # another strategy's run is not this condition's
    finally:
        models.configure(None)
    with session_scope() as s:
        s.add(Condition(study_id=study_id, name="Model", kind="model", strategy_id=model_st.id))
    main(["report", "--study", str(study_id), "--json"])
    report = json.loads(capsys.readouterr().out)
    rows = {c["name"]: c for c in report["sandwich"]["conditions"]}
    # The AI judge scores both answer orders, so the scripted model's fixed choice scores come out 50/50: wrong.
    # n is 4, not 8: the other strategy's run is not this condition's.
    assert (rows["Model"]["estimate"], rows["Model"]["n"]) == (0.0, 4)
    assert (rows["Alone"]["estimate"], rows["Alone"]["n"]) == (0.25, 4)
    assert rows["Experts (gold stands in)"]["gold_stands_in"] is True
    assert report["sandwich"]["gap_closed"]["estimate"] is None  # no assisted condition
    assert "agreement" in report
    main(["report", "--study", str(study_id)])
    text = capsys.readouterr().out
    assert "sandwich (accuracy %" in text and "Model" in text and "25.0" in text




def test_the_csv_shows_formula_like_names_as_text_and_keeps_negative_numbers_numbers(db):
    """A condition named like a spreadsheet formula is written with a leading quote (a spreadsheet shows it as text,
    runs nothing); the negative gap closed of a model that made people worse stays a number."""
    with session_scope() as s:
        b = Builder(s, 40)
        alone = b.condition('=HYPERLINK("http://127.0.0.1/x","click")', "alone")
        expert = b.condition("@SUM(1+1)", "expert")
        assisted = b.condition("-A1", "assisted", b.strategy("+cmd"))
        for cond, k, role in ((alone, 24, "participant"), (assisted, 20, "participant"), (expert, 28, "expert")):
            for i, it in enumerate(b.items):
                b.answer(cond, it, i < k, role=role)
        study_id = b.study.id
    rows = list(csv.DictReader(io.StringIO(to_csv(sandwich(study_id=study_id, resamples=50)))))
    names = {r["name"] for r in rows if r["kind"] != "gap closed"}
    assert '\'=HYPERLINK("http://127.0.0.1/x","click")' in names and "'@SUM(1+1)" in names
    assert all(name.startswith("'") for name in names if name[:1] in "=+-@")
    assert not [name for name in names if name[:1] in "=+-@\t\r"]
    gap = next(r for r in rows if r["kind"] == "gap closed")
    assert float(gap["estimate"]) == pytest.approx(-1.0) and gap["estimate"].startswith("-")
