"""study_report: counts, accuracy per setting/judge kind with Wilson intervals, tags, per strategy."""

from __future__ import annotations

import pytest

from oversight.db import session_scope
from oversight.report import p_correct, study_report, wilson_interval
from storage.models import Assignment, Item, ItemGold, Judgment, Strategy, Study, Transcript, User


def test_wilson_interval_known_values():
    assert wilson_interval(0, 0) == (None, None)
    low, high = wilson_interval(5, 10)
    assert low == pytest.approx(0.2366, abs=1e-4) and high == pytest.approx(0.7634, abs=1e-4)
    low, high = wilson_interval(10, 10)
    assert low == pytest.approx(0.7225, abs=1e-4) and high == 1.0
    assert wilson_interval(0, 4)[0] == 0.0


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
        debate = Transcript(study_id=study.id, item_id=a.id, setting="human debate", origin="imported",
                            status="complete", tags=["paper"])
        debate2 = Transcript(study_id=study.id, item_id=b.id, setting="human debate", origin="imported",
                             status="complete")
        consult = Transcript(study_id=study.id, item_id=b.id, setting="human consultancy", origin="imported",
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
        live_debate = Transcript(study_id=study.id, item_id=a.id, setting="debate", strategy_id=v2.id)
        s.add(live_debate)
        s.flush()
        for who, item, strategy, probs in [(participant, a, v1, [0.8, 0.2]), (participant, b, v1, [0.6, 0.4, 0.0]),
                                           (second, b, v2, [0.0, 1.0, 0.0])]:
            assignment = Assignment(study_id=study.id, participant_id=who.id, item_id=item.id,
                                    strategy_id=strategy.id, arm="non-expert")
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
                                "final_judgments": 8, "transcripts_judged": 4}
    by = rows(report)
    assert list(by) == sorted(by)  # sorted by setting, then judge kind
    debate = by[("human debate", "human")]
    assert (debate["n"], debate["n_correct"], debate["accuracy"]) == (2, 1, 0.5)
    assert debate["mean_p_correct"] == pytest.approx((0.9 + 0.5) / 2)
    assert (debate["ci_low"], debate["ci_high"]) == pytest.approx(wilson_interval(1, 2))
    assert by[("human debate", "offline-human")]["accuracy"] == 0.0
    assert by[("human consultancy", "human")]["accuracy"] == 1.0
    # Live judgments without a transcript count under their strategy's protocol.
    direct = by[("direct-qa", "human")]
    assert (direct["n"], direct["n_correct"]) == (3, 2)
    assert by[("debate", "ai")]["n"] == 1


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
