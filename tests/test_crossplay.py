"""Cross-play between debater versions and the ratings it gives (issue 19: debaters that try to win)."""

from __future__ import annotations

import random

import pytest
from sqlmodel import select

from oversight import models
from oversight.db import session_scope
from oversight.models.config import ModelsConfig, ScriptedConfig
from oversight.protocols import bots, crossplay, strategies
from oversight.protocols.crossplay import CrossPlayError, check_crossplay, run_crossplay, summarise
from oversight.results.elo import Match, fit, ratings
from storage.models import Study, Transcript, Turn
from tests.test_debate import item  # noqa: F401  (a fixture)


# --- the rating model ---------------------------------------------------------------------------------------------
def _matches(strength: dict[str, float], *, items: int, honesty: float, seed: int = 1) -> list[Match]:
    """Every ordered pair on each item; the honest side wins with σ(r_honest − r_dishonest + honesty)."""
    import math

    rng = random.Random(seed)
    out = []
    for item_id in range(items):
        for a in strength:
            for b in strength:
                p = 1 / (1 + math.exp(-(strength[a] - strength[b] + honesty)))
                won = rng.random() < p
                out.append(Match(item_id, a, b, 0.8 if won else 0.2, won))
    return out


def test_ratings_recover_the_order_of_planted_strengths_and_the_honesty_advantage():
    truth = {"weak": -1.0, "middle": 0.0, "strong": 1.0}
    rated, h = ratings(_matches(truth, items=150, honesty=0.8), list(truth), resamples=200)
    elo = {r.version: r for r in rated}
    assert elo["weak"].elo < elo["middle"].elo < elo["strong"].elo
    assert h > 0  # honest debaters win more often, and that is not credited to either version
    # Planted gaps of one logit are about 174 Elo points; the fit should land near them.
    assert elo["strong"].elo - elo["weak"].elo == pytest.approx(2 * 400 / 2.302585, rel=0.3)
    for r in rated:
        assert r.ci_low < r.elo < r.ci_high
        assert r.matches == 150 * 4  # each version meets the other two in both roles, self-play not counted


def test_a_version_that_wins_every_match_gets_a_finite_rating():
    matches = [Match(i, a, b, 0.9 if a == "s" else 0.1, a == "s") for i in range(5) for a, b in
               (("s", "w"), ("w", "s"))]
    point, _ = fit(matches, ["s", "w"])
    assert point["s"] > point["w"] and abs(point["s"]) < 50


def test_self_play_accuracy_uses_the_one_scoring_rule_a_tie_is_not_correct():
    matches = [Match(0, "x", "x", 0.5, False), Match(1, "x", "x", 0.9, True), Match(2, "x", "y", 0.9, True)]
    rated, _ = ratings(matches, ["x", "y"], resamples=50)
    x = next(r for r in rated if r.version == "x")
    assert x.self_play.estimate == 0.5 and x.self_play.n == 2  # only x against itself; the tie counts wrong
    assert x.wins == 1.0 and x.matches == 1


# --- cross-play through the real transcripts ----------------------------------------------------------------------
class KeywordJudge:
    """A judge that believes whichever side quoted STRONG evidence."""

    name = "keyword-judge"

    def score_choices(self, request, options):
        task = request.task
        strong = [any("STRONG" in text and f'arguing for "{o}"' in who for who, text in task.transcript)
                  for o in options]
        return [0.8 if s else 0.2 for s in strong] if any(strong) and not all(strong) else [0.5] * len(options)


@pytest.fixture
def two_debaters(monkeypatch):
    cfg = ModelsConfig(models={"strong": ScriptedConfig(name="strong", responses=["A STRONG case."]),
                               "weak": ScriptedConfig(name="weak", responses=["A weak case."])},
                       roles={r: "weak" for r in ("debater", "judge", "feedback")})
    models.configure(cfg)
    monkeypatch.setattr(bots, "model_for", lambda state, role: KeywordJudge())
    yield
    models.configure(None)


def _version(study_id: int, name: str, model: str, **rules) -> int:
    return strategies.create_strategy(study_id=study_id, name=name, protocol="debate", rules={"rounds": 1, **rules},
                                      model_roles={"debater": model}).id


def test_each_speaker_plays_with_its_own_version_and_the_stronger_one_rates_higher(two_debaters, study, item):
    strong = _version(study.id, "Strong", "strong")
    weak = _version(study.id, "Weak", "weak")
    result = run_crossplay(study_id=study.id, version_ids=[strong, weak], items=5)
    assert result["items"] == 1 and len(result["matches"]) == 4 and result["errors"] == 0

    with session_scope(write=False) as s:
        for m in result["matches"]:
            t = s.get(Transcript, m["transcript"])
            by_role = {r.role: r for r in s.exec(select(Turn).where(Turn.transcript_id == t.id,
                                                                    Turn.role != "judge")).all()}
            for role, meta in t.meta["roles"].items():
                expected = m["honest"] if meta["honest"] else m["dishonest"]
                assert ("STRONG" in by_role[role].text) == (expected == strong)
                assert by_role[role].model == ("strong" if expected == strong else "weak")
        # The matches live in the copy: the study's own results are untouched.
        assert s.exec(select(Transcript).where(Transcript.study_id == study.id)).all() == []
        copy = s.get(Study, result["copy_study_id"])
        assert copy.dry_run_of == study.id and copy.name.startswith("Cross-play of ")

    summary = summarise(result)
    elo = {r.version: r for r in summary.ratings}
    assert elo[strong].elo > elo[weak].elo and elo[strong].wins == 2
    assert all(r.self_play.estimate == 0.0 for r in summary.ratings)  # self-play: the judge cannot tell, a tie


def test_best_of_n_is_played_per_version(two_debaters, study, item, monkeypatch):
    """A version with best-of-N asks its model for N candidates per speech; the other version asks once."""
    from oversight.protocols import runner

    asked: list[tuple[str, int]] = []
    real = runner.generate_turn

    def counting(state, role, on_delta=None):
        view = runner.speaker_view(state, role)
        asked.append((view.model_roles.get("debater"), view.rules.best_of_n))
        return real(state, role, on_delta)

    monkeypatch.setattr(runner, "generate_turn", counting)
    many = _version(study.id, "Many", "strong", best_of_n=4)
    one = _version(study.id, "One", "weak")
    run_crossplay(study_id=study.id, version_ids=[one, many], items=1)
    assert set(asked) == {("strong", 4), ("weak", 1)}


def test_cross_play_refuses_what_it_cannot_run(study, item):
    debate = _version(study.id, "D", "weak")
    consult = strategies.create_strategy(study_id=study.id, name="C", protocol="consultancy").id
    with pytest.raises(CrossPlayError, match="between 2"):
        check_crossplay(study_id=study.id, version_ids=[debate, debate], items=3)
    with pytest.raises(CrossPlayError, match="not a debate"):
        check_crossplay(study_id=study.id, version_ids=[debate, consult], items=3)
    with pytest.raises(CrossPlayError, match="items per pairing"):
        check_crossplay(study_id=study.id, version_ids=[debate, _version(study.id, "E", "weak")], items=0)
    with pytest.raises(CrossPlayError, match="no strategy version"):
        check_crossplay(study_id=study.id, version_ids=[debate, 999], items=3)


def test_a_cross_play_job_runs_from_the_queue(two_debaters, study, item):
    from oversight.jobs import get_job, run_worker

    a, b = _version(study.id, "A", "strong"), _version(study.id, "B", "weak", best_of_n=2)
    job_id = crossplay.start_crossplay(study_id=study.id, version_ids=[a, b], items=1)
    assert run_worker(once=True) == 1
    job = get_job(job_id)
    assert job.state == "done", job.error
    assert [v["best_of_n"] for v in job.result["versions"]] == [1, 2]
    assert len(job.result["matches"]) == 4
