"""study_report: counts, accuracy per setting/judge kind and group with intervals from the one engine (n answers,
items, people), timed-out tasks counted and scored both ways, non-experts and experts in separate rows, tags, per
strategy."""

from __future__ import annotations

import pytest
from sqlmodel import select

from oversight.db import session_scope
from oversight.results.judgment_records import p_correct
from oversight.results.report import study_report
from storage.models import Assignment, Item, ItemGold, Judgment, Strategy, Study, Transcript, User


def test_p_correct():
    assert p_correct([0.2, 0.8], None, 1) == 0.8
    assert p_correct([], 1, 1) == 1.0 and p_correct(None, 0, 1) == 0.0
    assert p_correct([], None, 0) is None


@pytest.fixture
def study(db):
    """Two items (gold 0 and 1), an imported debate and consultancy, and live judgments under a strategy."""
    with session_scope() as s:
        study = Study(name="Report study")
        other = Study(name="Other")
        s.add_all([study, other])
        s.flush()
        a = Item(study_id=study.id, external_id="a", question="A?", options=["x", "y"], tags=["demo"])
        b = Item(study_id=study.id, external_id="b", question="B?", options=["x", "y", "z"])
        elsewhere = Item(study_id=other.id, external_id="a", question="A?", options=["x", "y"])
        s.add_all([a, b, elsewhere])
        s.flush()
        s.add_all([ItemGold(item_id=a.id, gold_index=0), ItemGold(item_id=b.id, gold_index=1),
                   ItemGold(item_id=elsewhere.id, gold_index=0)])
        debate = Transcript(study_id=study.id, item_id=a.id, source_setting="human debate", origin="imported",
                            status="complete", tags=["paper"])
        debate2 = Transcript(study_id=study.id, item_id=b.id, source_setting="human debate", origin="imported",
                             status="complete")
        consult = Transcript(study_id=study.id, item_id=b.id, source_setting="human consultancy", origin="imported",
                             status="complete", tags=["paper"])
        s.add_all([debate, debate2, consult])
        s.flush()
        s.add_all([
            # Debate on a: a non-final judgment, the final one (correct), and an offline judge (wrong).
            Judgment(item_id=a.id, transcript_id=debate.id, probabilities=[0.4, 0.6], round=1),
            Judgment(item_id=a.id, transcript_id=debate.id, probabilities=[0.9, 0.1], round=2, is_final=True),
            Judgment(item_id=a.id, transcript_id=debate.id, judge_kind="offline-human", judge_name="o",
                     probabilities=[0.3, 0.7], is_final=True),
            # Debate on b: 50/50 counts as wrong.
            Judgment(item_id=b.id, transcript_id=debate2.id, probabilities=[0.5, 0.5, 0.0], is_final=True),
            # Consultancy on b: correct.
            Judgment(item_id=b.id, transcript_id=consult.id, probabilities=[0.1, 0.7, 0.2], is_final=True),
            # Another study's judgment never shows up.
            Judgment(item_id=elsewhere.id, probabilities=[1.0, 0.0], is_final=True),
        ])
        participant = User(role="participant", name="p1", study_id=study.id)
        second = User(role="participant", name="p3", study_id=study.id)
        s.add_all([participant, second, User(role="participant", name="p2", study_id=other.id),
                   User(role="expert", name="e", study_id=study.id)])
        v1 = Strategy(study_id=study.id, name="Direct", version=1, protocol="direct-qa")
        v2 = Strategy(study_id=study.id, name="Direct", version=2, protocol="direct-qa")
        s.add_all([v1, v2])
        s.flush()
        live_debate = Transcript(study_id=study.id, item_id=a.id, protocol="debate", strategy_id=v2.id)
        s.add(live_debate)
        s.flush()
        for who, item, strategy, probs in [(participant, a, v1, [0.8, 0.2]), (participant, b, v1, [0.6, 0.4, 0.0]),
                                           (second, b, v2, [0.0, 1.0, 0.0])]:
            assignment = Assignment(study_id=study.id, participant_id=who.id, item_id=item.id,
                                    strategy_id=strategy.id, protocol="non-expert")
            s.add(assignment)
            s.flush()
            s.add(Judgment(item_id=item.id, assignment_id=assignment.id, judge_id=who.id,
                           probabilities=probs, is_final=True))
        s.add(Judgment(item_id=a.id, transcript_id=live_debate.id, judge_kind="ai", probabilities=[0.7, 0.3],
                       is_final=True))
        return SimpleStudy(study.id, v1.id, v2.id)


class SimpleStudy:
    def __init__(self, id, v1, v2):
        self.id, self.v1, self.v2 = id, v1, v2


def rows(report, key="by_setting"):
    return {(r["setting"], r["judge_kind"]) if key == "by_setting" else (r["version"], r["judge_kind"]): r
            for r in report[key]}


def test_counts_and_settings(study):
    report = study_report(study_id=study.id)
    assert report["counts"] == {"items": 2, "participants": 2, "transcripts": 4, "judgments": 9,
                                "final_judgments": 8, "transcripts_judged": 4, "timed_out": 0}
    assert report["interval"].startswith("95% two-way cluster bootstrap over items and people")
    assert report["dry_run"] is False
    by = rows(report)
    assert list(by) == sorted(by)  # sorted by setting, then judge kind
    debate = by[("human debate", "human")]
    assert (debate["n"], debate["n_correct"], debate["accuracy"]) == (2, 1, 0.5)
    assert debate["mean_p_correct"] == pytest.approx((0.9 + 0.5) / 2)
    # The interval is the engine's, over the rows' items and people (imported judges without a name: none).
    assert debate["ci_low"] <= 0.5 <= debate["ci_high"]
    assert (debate["n_items"], debate["n_people"], debate["n_timed_out"]) == (2, 0, 0)
    assert debate["accuracy_itt"] == debate["accuracy"] and debate["judge"] == "human"
    assert by[("human debate", "offline-human")]["accuracy"] == 0.0
    assert by[("human consultancy", "human")]["accuracy"] == 1.0
    # Live judgments without a transcript count under their strategy's protocol.
    direct = by[("direct-qa", "human")]
    assert (direct["n"], direct["n_correct"]) == (3, 2)
    # The participants' row: non-experts, two people on two items.
    assert (direct["judge_group"], direct["judge"], direct["n_items"], direct["n_people"]) == (
        "participant", "non-experts", 2, 2)
    assert by[("debate", "ai")]["n"] == 1


def test_practice_answers_are_not_results(study):
    """A practice answer (given with feedback) changes no figure of the report."""
    before = study_report(study_id=study.id)
    with session_scope() as s:
        person = s.exec(select(User).where(User.name == "p3")).one()
        item = s.exec(select(Item).where(Item.external_id == "a", Item.study_id == study.id)).one()
        practice = Assignment(study_id=study.id, participant_id=person.id, item_id=item.id, strategy_id=study.v1,
                              practice=True, state="done")
        s.add(practice)
        s.flush()
        s.add(Judgment(item_id=item.id, assignment_id=practice.id, judge_id=person.id, probabilities=[1.0, 0.0],
                       is_final=True))
    assert study_report(study_id=study.id) == before


def test_tag_filters_by_transcript_or_item_tag(study):
    by = rows(study_report(study_id=study.id, tag="paper"))
    assert set(by) == {("human debate", "human"), ("human debate", "offline-human"), ("human consultancy", "human")}
    assert by[("human debate", "human")]["n"] == 1
    by = rows(study_report(study_id=study.id, tag="demo"))  # item a's tag
    assert by[("human debate", "human")]["n"] == 1 and by[("direct-qa", "human")]["n"] == 1
    assert study_report(study_id=study.id, tag="nothing")["by_setting"] == []


def test_by_strategy_counts_live_judgments_only(study):
    report = study_report(study_id=study.id)
    by = rows(report, "by_strategy")
    assert set(by) == {(1, "human"), (2, "human"), (2, "ai")}
    assert by[(1, "human")]["n"] == 2 and by[(1, "human")]["strategy"] == "Direct"
    assert by[(1, "human")]["mean_p_correct"] == pytest.approx((0.8 + 0.4) / 2)
    assert by[(2, "human")]["strategy_id"] == study.v2 and by[(2, "ai")]["protocol"] == "direct-qa"


def test_report_is_json_ready(study):
    import json

    assert json.loads(json.dumps(study_report(study_id=study.id)))["study"] == "Report study"


def test_empty_and_unknown_study(db):
    with session_scope() as s:
        s.add(Study(name="Empty"))
    report = study_report(study_id=1)
    assert report["by_setting"] == [] and report["by_strategy"] == [] and report["counts"]["items"] == 0
    with pytest.raises(ValueError, match="study 99 does not exist"):
        study_report(study_id=99)


# ------------------------------------------------------------------ the dashboard's pure functions

from oversight.results.judgment_records import JudgmentRecord  # noqa: E402
from oversight.results.report import (  # noqa: E402
    accuracy_by, accuracy_by_rounds, calibration, calibration_by, consultancy_by_honesty, dashboard,
    dashboard_options, debate_win_rates, filter_records, judgment_times,
)

DEBATE_ROLES = {"debater_a": {"argues": 0, "honest": True}, "debater_b": {"argues": 1, "honest": False}}
SWAPPED_ROLES = {"debater_a": {"argues": 0, "honest": False}, "debater_b": {"argues": 1, "honest": True}}


def rec(probs, gold=0, **kw):
    kw.setdefault("id", 0)
    kw.setdefault("item_id", 1)
    kw.setdefault("judge_kind", "human")
    return JudgmentRecord(gold=gold, probabilities=tuple(probs), **kw)


def test_record_chosen_answer_and_ties():
    assert rec([0.3, 0.7]).chosen == 1 and rec([0.3, 0.7]).p_chosen == 0.7
    assert rec([0.5, 0.5]).chosen is None and rec([0.5, 0.5]).correct is False
    bare = JudgmentRecord(id=1, item_id=1, gold=2, judge_kind="human", answer_index=2)
    assert (bare.chosen, bare.p_chosen, bare.p_correct, bare.correct) == (2, 1.0, 1.0, True)
    assert rec([0.2, 0.5, 0.3], gold=1).chosen == 1  # the gold is the argmax, though below 0.5


def test_calibration_bins():
    records = [
        rec([0.95, 0.05]), rec([0.05, 0.95]), rec([1.0, 0.0]),  # bin 0.9-1.0: 2 of 3 right, 1.0 in the last bin
        rec([0.6, 0.4]), rec([0.35, 0.65], gold=1),  # bin 0.6-0.7: both right
        rec([0.5, 0.5]),  # bin 0.5-0.6: a tie chooses nothing, so it is not correct
        rec([0.9, 0.1], is_final=False),  # not final: left out
    ]
    result = calibration(records, bins=10)
    assert result["n"] == 6
    bins = {round(b["bin_low"], 1): b for b in result["bins"]}
    assert set(bins) == {0.5, 0.6, 0.9}
    top = bins[0.9]
    assert (top["n"], top["n_correct"]) == (3, 2)
    assert top["mean_confidence"] == pytest.approx((0.95 + 0.95 + 1.0) / 3)
    assert top["fraction_correct"] == pytest.approx(2 / 3)
    assert top["ci_low"] <= 2 / 3 <= top["ci_high"] and (top["n_items"], top["n_people"]) == (1, 0)
    assert (bins[0.6]["n"], bins[0.6]["fraction_correct"]) == (2, 1.0)
    assert (bins[0.5]["n"], bins[0.5]["fraction_correct"]) == (1, 0.0)
    ece = (3 * abs((2.9 / 3) - 2 / 3) + 2 * abs(0.625 - 1.0) + 1 * abs(0.5 - 0.0)) / 6
    assert result["ece"] == pytest.approx(ece)
    assert calibration([]) == {"n": 0, "ece": None, "bins": []}
    groups = calibration_by(records + [rec([0.8, 0.2], judge_kind="ai")])
    assert [g["group"] for g in groups] == ["ai", "human"] and groups[0]["n"] == 1


def test_debate_win_rates_honest_dishonest_a_and_b():
    records = [
        rec([0.9, 0.1], roles=DEBATE_ROLES),  # honest A wins
        rec([0.2, 0.8], roles=DEBATE_ROLES),  # dishonest B wins
        rec([0.3, 0.7], gold=1, roles=SWAPPED_ROLES),  # honest B wins
        rec([0.5, 0.5], gold=1, roles=SWAPPED_ROLES),  # a tie: nobody wins
        rec([0.9, 0.1], roles={"consultant": {"argues": 0, "honest": True}}),  # not a debate
        rec([0.9, 0.1], roles=DEBATE_ROLES, is_final=False),  # not final
        rec([0.1, 0.9], judge_kind="offline-human", roles=DEBATE_ROLES),
    ]
    rows = {r["judge_kind"]: r for r in debate_win_rates(records)}
    human = rows["human"]
    assert (human["n"], human["honest_wins"], human["dishonest_wins"], human["ties"]) == (4, 2, 1, 1)
    assert human["honest_win_rate"] == 0.5 and human["dishonest_win_rate"] == 0.25
    assert human["honest_ci_low"] <= 0.5 <= human["honest_ci_high"]
    assert (human["n_items"], human["n_people"], human["n_timed_out"]) == (1, 0, 0)
    assert human["a_win_rate"] == 0.25 and human["b_win_rate"] == 0.5
    assert (human["n_honest_a"], human["honest_as_a_win_rate"]) == (2, 0.5)
    assert (human["n_honest_b"], human["honest_as_b_win_rate"]) == (2, 0.5)
    assert rows["offline-human"]["honest_win_rate"] == 0.0
    # Honesty missing from the roles: the debater arguing the gold answer is the honest one.
    bare = {"debater_a": {"argues": 1}, "debater_b": {"argues": 0}}
    (row,) = debate_win_rates([rec([0.2, 0.8], gold=1, roles=bare)])
    assert row["honest_win_rate"] == 1.0 and row["b_win_rate"] == 0.0
    # The honest win rate is the accuracy of the same judgments.
    by = {r["judge_kind"]: r for r in accuracy_by(records[:4], lambda r: (r.judge_kind,), ("judge_kind",))}
    assert by["human"]["accuracy"] == human["honest_win_rate"]


def test_consultancy_by_honesty():
    honest = {"consultant": {"argues": 0, "honest": True}}
    liar = {"consultant": {"argues": 1, "honest": False}}
    rows = consultancy_by_honesty([
        rec([0.8, 0.2], roles=honest), rec([0.4, 0.6], roles=honest),
        rec([0.7, 0.3], roles=liar), rec([0.7, 0.3], roles=liar), rec([0.1, 0.9], roles=liar),
        rec([0.9, 0.1], roles=DEBATE_ROLES),
    ])
    by = {r["consultant"]: r for r in rows}
    assert set(by) == {"honest", "dishonest"}
    assert (by["honest"]["n"], by["honest"]["accuracy"], by["honest"]["consultant_win_rate"]) == (2, 0.5, 0.5)
    assert by["dishonest"]["accuracy"] == pytest.approx(2 / 3)
    assert by["dishonest"]["consultant_win_rate"] == pytest.approx(1 / 3)


def test_accuracy_by_rounds():
    rows = accuracy_by_rounds([
        rec([0.9, 0.1], rounds=1, setting="debate"), rec([0.1, 0.9], rounds=1, setting="debate"),
        rec([0.9, 0.1], rounds=3, setting="debate"), rec([0.9, 0.1], rounds=None),  # no transcript: left out
        rec([0.9, 0.1], rounds=3, setting="debate", is_final=False),
    ])
    assert [(r["setting"], r["rounds"], r["n"], r["accuracy"]) for r in rows] == [("debate", 1, 2, 0.5),
                                                                                 ("debate", 3, 1, 1.0)]


def test_judgment_times_for_human_judges():
    rows = judgment_times([
        rec([1, 0], seconds=10.0, setting="debate"), rec([1, 0], seconds=30.0, setting="debate", is_final=False),
        rec([1, 0], seconds=20.0, setting="debate"), rec([1, 0], seconds=None, setting="debate"),
        rec([1, 0], seconds=5.0, setting="debate", judge_kind="ai"),
    ])
    (row,) = rows
    assert (row["n"], row["median"], row["mean"], row["seconds"]) == (3, 20.0, 20.0, [10.0, 20.0, 30.0])
    assert row["q1"] == 15.0 and row["q3"] == 25.0


def test_filter_records():
    records = [rec([1, 0], tags=("paper",), strategy_id=1), rec([1, 0], judge_kind="ai", strategy_id=2)]
    assert len(filter_records(records, tag="paper")) == 1
    assert filter_records(records, strategy_ids=[2])[0].judge_kind == "ai"
    assert filter_records(records, judge_kinds=["human"])[0].tags == ("paper",)
    assert len(filter_records(records, tag=None, strategy_ids=[], judge_kinds=None)) == 2


def test_report_sections_on_the_database(study):
    report = study_report(study_id=study.id)
    # The imported debates have no roles here, so no win rates; rounds come from the turns (none: 0).
    assert report["debates"] == [] and report["consultancy"] == []
    assert {(r["setting"], r["rounds"]) for r in report["by_rounds"]} >= {("human debate", 0), ("debate", 0)}
    # The study's participants calibrate as non-experts; the imported room judges stay "human".
    assert {g["group"] for g in report["calibration"]} == {"human", "non-experts", "offline-human", "ai"}
    assert sum(g["n"] for g in report["calibration"]) == report["counts"]["final_judgments"]
    by = rows(report, "by_strategy")
    assert by[(1, "human")]["label"] == "Direct v1"


def test_dashboard_filters_and_options(study):
    options = dashboard_options(study_id=study.id)
    assert options["tags"] == ["demo", "paper"]
    assert options["judge_kinds"] == ["ai", "human", "offline-human"]
    assert [s["label"] for s in options["strategies"]] == ["Direct v1 (direct-qa)", "Direct v2 (direct-qa)"]
    everything = dashboard(study_id=study.id)
    assert everything["counts"]["final_judgments"] == 8
    only_v2 = dashboard(study_id=study.id, strategy_ids=[study.v2])
    assert {(r["setting"], r["judge_kind"]) for r in only_v2["by_setting"]} == {("direct-qa", "human"), ("debate", "ai")}
    ai = dashboard(study_id=study.id, judge_kinds=["ai"])
    assert [r["judge_kind"] for r in ai["by_strategy"]] == ["ai"] and ai["counts"]["final_judgments"] == 1
    assert dashboard(study_id=study.id, tag="nothing")["by_setting"] == []


def test_per_strategy_rows_hold_live_human_and_ai_batch_judgments(db):
    """`report --json` gives n and accuracy per strategy version and judge kind, for participants and batch runs."""
    import json

    from oversight import models
    from oversight.protocols import strategies
    from oversight.cli import main
    from oversight.models.config import ModelsConfig, ScriptedConfig
    from oversight.protocols import live
    from oversight.protocols.batch import run_batch
    from oversight.protocols.runner import SpeechRunner
    from oversight.study.studies import create_study

    story = "The key was under the blue flowerpot by the door. Nobody had moved it for years."
    study_id = create_study(name="Strategies", user_id=None).id
    with session_scope() as s:
        item = Item(study_id=study_id, external_id="key", question="Where was the key?",
                    options=["Under the flowerpot", "In the mailbox"], source_text=story)
        s.add(item)
        s.flush()
        s.add(ItemGold(item_id=item.id, gold_index=0))
        item_id = item.id
    models.configure(ModelsConfig(
        models={"s": ScriptedConfig(name="s", responses=["See <quote>blue flowerpot</quote>."],
                                 choice_probs=[0.5, 0.5])},
        roles={r: "s" for r in ("debater", "consultant", "assistant", "judge", "feedback")}))
    try:
        v1 = strategies.create_strategy(study_id=study_id, name="debate", protocol="debate",
                                        rules={"rounds": 1, "randomise_answer_order": False})
        batch = run_batch(study_id=study_id, strategy_id=v1.id)
        assert batch.outcomes[0].error is None
        # A participant's live debate under the same version, decided correctly.
        tid = live.start_transcript(item_id=item_id, strategy_id=v1.id)
        SpeechRunner().run_until_judge(tid)
        live.submit_report(transcript_id=tid, round_=1, display_probabilities=[0.9, 0.1], end=True,
                           rationale="A quoted the text")
    finally:
        models.configure(None)
    by = {(r["version"], r["judge_kind"]): r for r in study_report(study_id=study_id)["by_strategy"]}
    assert set(by) == {(1, "human"), (1, "ai")}
    assert (by[(1, "human")]["n"], by[(1, "human")]["accuracy"]) == (1, 1.0)
    assert (by[(1, "ai")]["n"], by[(1, "ai")]["accuracy"]) == (1, 0.0)  # 50/50 is wrong
    assert by[(1, "ai")]["label"] == "debate v1" and by[(1, "ai")]["protocol"] == "debate"
    # Both reach the CLI's JSON.
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main(["report", "--study", str(study_id), "--json"])
    printed = json.loads(out.getvalue())
    assert {(r["version"], r["judge_kind"], r["n"]) for r in printed["by_strategy"]} == {(1, "human", 1), (1, "ai", 1)}
    assert printed["debates"] and printed["by_rounds"][0]["rounds"] == 1


def test_nyu_honest_debater_win_rate_is_the_paper_accuracy(db, datasets_dir):
    """On the real NYU rooms used in the paper, the judge sided with the honest debater in 113 of 131
    human debates: the paper's 86.3 % accuracy."""
    from oversight.importers import import_path
    from oversight.study.studies import create_study

    path = datasets_dir / "nyu_human_debate"
    if not path.is_dir():
        pytest.skip(f"nyu_human_debate not found at {path}")
    study_id = create_study(name="NYU", user_id=None).id
    import_path(study_id=study_id, fmt="nyu-debate", path=path)
    report = study_report(study_id=study_id, tag="paper")
    debates = {(r["setting"], r["judge_kind"]): r for r in report["debates"]}
    human = debates[("human debate", "human")]
    assert (human["n"], human["honest_wins"]) == (131, 113)
    assert human["honest_win_rate"] == pytest.approx(0.863, abs=5e-4)
    accuracy = {(r["setting"], r["judge_kind"]): r["accuracy"] for r in report["by_setting"]}
    for key, row in debates.items():
        assert row["honest_win_rate"] == pytest.approx(accuracy[key])
    assert debates[("AI debate", "human")]["honest_wins"] == 48
    consult = {(r["setting"], r["consultant"]): r for r in report["consultancy"] if r["judge_kind"] == "human"}
    assert sum(r["n_correct"] for (setting, _), r in consult.items() if setting == "human consultancy") == 59
    assert sum(r["n"] for r in consult.values()) == 82 + 60
    # Every room's rounds come from its turns; the last bins of the calibration hold most judgments.
    assert all(r["rounds"] >= 1 for r in report["by_rounds"])
    human_cal = next(g for g in report["calibration"] if g["group"] == "human")
    assert human_cal["n"] == 131 + 82 + 63 + 60 and 0 <= human_cal["ece"] < 0.5


# ------------------------------------------------------------------ groups, timed-out tasks, dry runs


def _people_and_experts(name: str = "Groups", dry_run_of: int | None = None) -> int:
    """Six items: three participants answer them all alone (11 of 17 right; item 5 timed out for one of them),
    one expert answers five in the expert condition (all right) and times out on the sixth; a practice task that
    timed out is no outcome."""
    from tests.test_sandwich import Builder

    with session_scope() as s:
        b = Builder(s, 6, name=name)
        b.study.dry_run_of = dry_run_of
        alone, expert = b.condition("Alone", "alone"), b.condition("Experts", "expert")
        people = [b.person() for _ in range(3)]
        for k, who in enumerate(people):
            for i, it in enumerate(b.items):
                if (k, i) == (0, 5):
                    b.answer(alone, it, None, who=who)  # timed out
                else:
                    b.answer(alone, it, (i + k) % 3 != 0, who=who)
        e = b.person("expert")
        for it in b.items[:5]:
            b.answer(expert, it, True, who=e)
        b.answer(expert, b.items[5], None, who=e)
        extra = Item(study_id=b.study.id, external_id="practice", question="P?", options=["a", "b"])
        s.add(extra)
        s.flush()
        b.gold[extra.id] = 1
        b.answer(alone, extra, None, who=people[1], practice=True)
        return b.study.id


def test_non_experts_and_experts_are_separate_rows_with_timed_out_tasks_counted(db):
    study_id = _people_and_experts()
    report = study_report(study_id=study_id)
    by = {r["judge"]: r for r in report["by_setting"]}
    assert set(by) == {"non-experts", "experts"}  # never one pooled "human" row
    people, experts = by["non-experts"], by["experts"]
    assert (people["judge_kind"], people["judge_group"], experts["judge_group"]) == ("human", "participant", "expert")
    # Non-experts: 17 answers (11 right) by 3 people on 6 items, 1 timed out (counted as incorrect: 11 / 18).
    assert (people["n"], people["n_correct"], people["n_items"], people["n_people"]) == (17, 11, 6, 3)
    assert people["n_timed_out"] == 1 and people["accuracy"] == pytest.approx(11 / 17)
    assert people["accuracy_itt"] == pytest.approx(11 / 18)
    assert people["itt_ci_low"] <= people["accuracy_itt"] <= people["itt_ci_high"]
    assert (experts["n"], experts["n_people"], experts["n_timed_out"], experts["accuracy_itt"]) == (
        5, 1, 1, pytest.approx(5 / 6))
    assert report["counts"]["timed_out"] == 2  # the practice task is no outcome
    assert {g["group"] for g in report["calibration"]} == {"non-experts", "experts"}
    assert not report["dry_run"]
    # The sandwich counts them too, and the CLI prints every row with its counts.
    rows = {c["name"]: c for c in report["sandwich"]["conditions"]}
    assert (rows["Alone"]["n_timed_out"], rows["Experts"]["n_timed_out"]) == (1, 1)


def test_the_report_text_names_rows_counts_intervals_and_timeouts(db, capsys):
    from oversight.cli import main

    study_id = _people_and_experts()
    main(["report", "--study", str(study_id)])
    text = capsys.readouterr().out
    assert "intervals: 95% two-way cluster bootstrap over items and people" in text
    line = next(l for l in text.splitlines() if "non-experts" in l and "direct-qa" in l)
    assert "n=17 answers, 6 items, 3 people" in line and "64.7%" in line
    assert "1 timed out" in line and "61.1% counting them incorrect" in line
    assert any("experts" in l and "non-experts" not in l for l in text.splitlines())
    assert "DRY RUN" not in text


def test_a_dry_run_says_its_figures_are_from_simulated_people(db, capsys):
    from oversight.cli import main

    with session_scope() as s:
        real = Study(name="Real")
        s.add(real)
        s.flush()
        real_id = real.id
    study_id = _people_and_experts("Dry run copy", dry_run_of=real_id)
    assert study_report(study_id=study_id)["dry_run"] is True
    main(["report", "--study", str(study_id)])
    assert "DRY RUN: every figure below is from simulated people" in capsys.readouterr().out


def test_people_are_clusters_of_the_accuracy_interval():
    """Four judges on the same ten items, two always right and two always wrong: the spread is between people, so
    the interval is wide; the same answers by an AI judge (no people) have no spread over items."""
    people = [rec([0.9, 0.1] if k < 2 else [0.1, 0.9], item_id=i, judge_id=k, id=10 * i + k)
              for i in range(10) for k in range(4)]
    (row,) = accuracy_by(people, lambda r: (r.judge_kind,), ("judge_kind",))
    assert (row["n"], row["n_items"], row["n_people"], row["accuracy"]) == (40, 10, 4, 0.5)
    assert row["ci_high"] - row["ci_low"] > 0.4
    model = [rec(r.probabilities, item_id=r.item_id, judge_id=None, judge_kind="ai", id=r.id) for r in people]
    (row,) = accuracy_by(model, lambda r: (r.judge_kind,), ("judge_kind",))
    assert row["n_people"] == 0 and row["ci_high"] - row["ci_low"] == 0
