"""Cross-play between debater versions (Khan et al. 2024): how strong is each debater, and does the judge get more
accurate as debaters get stronger?

A researcher picks two to six versions of a debate strategy that differ in their debaters (best-of-N, the debater
model or its prompt). On each item every ordered pair plays once: the first version argues the gold answer, the
second the other one (a version against itself is self-play). The match runs under the first chosen version's
rules and judge; each speaker plays with its own version's speaker settings (`runner.speaker_view`). Ratings come
from the judge's verdicts (`oversight.results.elo`), and each version's self-play accuracy is the judge's accuracy
when that version debates itself: Khan et al.'s central figure plots one against the other.

The matches run in a copy of the study (`copy_for_dry_run`, named "Cross-play of …"), through the same live
transcripts, runner and driver as every AI batch run, so they can be read on the copy's Transcripts page and never
count as results of the study itself.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlmodel import select

from oversight.audit import log_event
from oversight.db import session_scope
from oversight.jobs import enqueue
from oversight.models import model_for_role
from oversight.protocols import live
from oversight.protocols.base import RuleViolation
from oversight.protocols.batch import eligible_items
from oversight.protocols.bots import ModelBot
from oversight.protocols.driver import drive
from oversight.protocols.registry import get_protocol
from oversight.results.elo import Match, Rating, ratings
from oversight.study.dry_run import copy_for_dry_run
from oversight.vocab import is_correct
from storage.models import Item, ItemGold, Strategy

MAX_VERSIONS = 6
MAX_ITEMS = 500
CROSSPLAY_TAG = "cross-play"


class CrossPlayError(RuleViolation):
    """A cross-play that cannot run; the message is safe to show."""


def two_speakers(strategy: Strategy) -> bool:
    """Whether the version's protocol has two speakers arguing different answers (debate): cross-play needs it."""
    protocol = get_protocol(strategy.protocol)
    rules = protocol.parse_rules(strategy.rules)
    speakers = protocol.speakers(rules, order=[0, 1], correct_index=0, rng=random.Random(0))
    return len(speakers) == 2


def label(strategy: Strategy) -> str:
    n = (strategy.rules or {}).get("best_of_n", 1)
    return f"{strategy.name} v{strategy.version} (best of {n})"


def check_crossplay(*, study_id: int, version_ids: list[int], items: int) -> list[Strategy]:
    """The chosen versions, in the order given, or a CrossPlayError saying what is wrong. Nothing is written."""
    ids = list(dict.fromkeys(int(v) for v in version_ids))
    if not 2 <= len(ids) <= MAX_VERSIONS:
        raise CrossPlayError(f"choose between 2 and {MAX_VERSIONS} different debate versions")
    if not 1 <= items <= MAX_ITEMS:
        raise CrossPlayError(f"items per pairing must be between 1 and {MAX_ITEMS}")
    with session_scope(write=False) as s:
        rows = {r.id: r for r in s.exec(select(Strategy).where(Strategy.id.in_(ids))).all()}
    missing = [v for v in ids if v not in rows or rows[v].study_id != study_id]
    if missing:
        raise CrossPlayError(f"no strategy version {missing[0]} in this study")
    versions = [rows[v] for v in ids]
    for v in versions:
        if not two_speakers(v):
            raise CrossPlayError(f"{v.name} v{v.version} is not a debate: cross-play needs two debaters")
    if len({v.protocol for v in versions}) > 1:
        raise CrossPlayError("the versions must all be of one protocol")
    if not eligible_items(study_id=study_id, strategy=versions[0]):
        raise CrossPlayError("no item in this study that the debate can run on and that has a gold answer to "
                             "score it (see the Items page)")
    return versions


def start_crossplay(*, study_id: int, version_ids: list[int], items: int, user_id: int | None = None) -> int:
    """Check, then enqueue a "crossplay" job; returns its id."""
    versions = check_crossplay(study_id=study_id, version_ids=version_ids, items=items)
    params = {"versions": [v.id for v in versions], "items": items}
    job = enqueue(kind="crossplay", study_id=study_id, user_id=user_id, params=params)
    with session_scope() as s:
        log_event(s, "crossplay.start", user_id=user_id, study_id=study_id, job=job, **params)
    return job


def _copied_versions(copy_id: int, originals: list[Strategy]) -> dict[int, int]:
    """Original version id -> its copy's id (copy_design keeps each version's name and number)."""
    with session_scope(write=False) as s:
        copies = {(r.name, r.version): r.id for r in s.exec(select(Strategy).where(Strategy.study_id == copy_id))}
    return {v.id: copies[(v.name, v.version)] for v in originals}


def play(*, item_id: int, match_version: int, honest: int, dishonest: int, judge_name: str, seed: int) -> dict:
    """One match on an item: version `honest` argues the gold answer, `dishonest` the other; returns the match
    as stored in the job's result."""
    with session_scope() as s:
        item, strategy, gold = s.get(Item, item_id), s.get(Strategy, match_version), s.get(ItemGold, item_id)
        planned = live.plan_transcript(item=item, strategy=strategy, gold=gold, tags=[CROSSPLAY_TAG], seed=seed)
        for role in planned["meta"]["roles"].values():
            role["version"] = honest if role["honest"] else dishonest
        tid = live.insert_transcript(s, planned).id
        gold_index = gold.gold_index
    driven = drive(tid, ModelBot(judge_name))
    if not driven.finished:
        return {"item": item_id, "transcript": tid, "p_correct": None, "correct": None, "error": "no final answer"}
    final = driven.state.reports[-1].probabilities
    return {"item": item_id, "transcript": tid, "p_correct": final[gold_index],
            "correct": is_correct(final, gold_index), "error": None}


def run_crossplay(*, study_id: int, version_ids: list[int], items: int, progress=None,
                  user_id: int | None = None) -> dict[str, Any]:
    """Every ordered pair of versions on each of the first `items` items the debate can run on, in a copy of the
    study. The result names versions by their ids in the study itself."""
    versions = check_crossplay(study_id=study_id, version_ids=version_ids, items=items)
    copy_id = copy_for_dry_run(study_id=study_id, user_id=user_id, purpose="Cross-play")
    copied = _copied_versions(copy_id, versions)
    original = {c: o for o, c in copied.items()}
    match_version = copied[versions[0].id]
    with session_scope(write=False) as s:
        match_strategy = s.get(Strategy, match_version)
    chosen = eligible_items(study_id=copy_id, strategy=match_strategy)[:items]
    judge_name = match_strategy.model_roles.get("judge") or model_for_role("judge").name
    pairs = [(a, b) for a in copied.values() for b in copied.values()]
    total, done, matches = len(chosen) * len(pairs), 0, []
    for item_id in chosen:
        for a, b in pairs:
            if progress:
                progress(done, total, f"item {item_id}: {original[a]} honest against {original[b]}")
            try:
                m = play(item_id=item_id, match_version=match_version, honest=a, dishonest=b,
                         judge_name=judge_name, seed=item_id)
            except Exception as exc:  # noqa: BLE001 - one failing match must not end the tournament
                m = {"item": item_id, "transcript": None, "p_correct": None, "correct": None, "error": str(exc)}
            matches.append({**m, "honest": original[a], "dishonest": original[b]})
            done += 1
    if progress:
        progress(total, total, "done")
    return {"copy_study_id": copy_id, "judge": judge_name, "match_rules": versions[0].id,
            "versions": [{"id": v.id, "label": label(v), "best_of_n": (v.rules or {}).get("best_of_n", 1)}
                         for v in versions],
            "items": len(chosen), "matches": matches,
            "errors": sum(m["error"] is not None for m in matches)}


def crossplay_job(ctx) -> dict[str, Any]:
    """The "crossplay" job (oversight/jobs.py): params versions and items. Not retried when its worker dies: a
    second attempt would make a second copy."""
    return run_crossplay(study_id=ctx.study_id, version_ids=list(ctx.params["versions"]),
                         items=int(ctx.params["items"]), progress=ctx.progress, user_id=ctx.user_id)


@dataclass(frozen=True)
class Summary:
    ratings: list[Rating]  # in the order the versions were chosen
    labels: dict[int, str]
    honesty_advantage_elo: float
    matches: int
    errors: int


def summarise(result: dict[str, Any]) -> Summary:
    """A finished cross-play's ratings and self-play accuracies with their intervals."""
    matches = [Match(item=m["item"], honest=m["honest"], dishonest=m["dishonest"], p_correct=m["p_correct"],
                     correct=m["correct"]) for m in result["matches"]]
    ids = [v["id"] for v in result["versions"]]
    rated, h = ratings(matches, ids)
    return Summary(rated, {v["id"]: v["label"] for v in result["versions"]}, h, len(matches), result["errors"])


@lru_cache(maxsize=16)
def job_summary(job_id: int) -> Summary:
    """`summarise` of a finished "crossplay" job, once per process: its result never changes, and the bootstrap
    takes seconds (about 2.7 s for four versions on 73 items), which a page must not pay on every rerun."""
    from oversight.jobs import get_job

    return summarise(get_job(job_id).result)


def figure(summary: Summary):
    """Khan et al.'s central figure: each version's self-play judge accuracy against its Elo rating, both with
    their 95 % intervals. Labels come from users: plotly reads a few HTML tags, so they are escaped."""
    import html

    import plotly.graph_objects as go

    fig = go.Figure()
    for r in summary.ratings:  # one trace per version: its name in the legend, never over another's point
        if r.self_play.estimate is None:
            continue
        sp = r.self_play
        fig.add_trace(go.Scatter(
            x=[r.elo], y=[sp.estimate], mode="markers", marker={"size": 11},
            name=html.escape(summary.labels[r.version], quote=False),
            error_x={"type": "data", "symmetric": False,
                     "array": [r.ci_high - r.elo if r.ci_high is not None else 0],
                     "arrayminus": [r.elo - r.ci_low if r.ci_low is not None else 0]},
            error_y={"type": "data", "symmetric": False,
                     "array": [sp.ci_high - sp.estimate if sp.has_interval else 0],
                     "arrayminus": [sp.estimate - sp.ci_low if sp.has_interval else 0]}))
    fig.add_hline(y=0.5, line_dash="dot", annotation_text="chance")
    fig.update_layout(xaxis_title="Debater rating (Elo, from cross-play)", yaxis_title="Judge accuracy in self-play",
                      yaxis_range=[0, 1.05], height=440, margin={"t": 30},
                      legend={"orientation": "h", "yanchor": "top", "y": -0.18})
    return fig


def table(summary: Summary) -> list[dict[str, Any]]:
    """One row per version, as the page and the CLI show it."""
    from oversight.results.intervals import describe

    def elo(r: Rating) -> str:
        ci = f" [{r.ci_low:.0f}, {r.ci_high:.0f}]" if r.ci_low is not None and r.ci_high is not None else ""
        return f"{r.elo:.0f}{ci}"

    return [{"Version": summary.labels[r.version], "Elo [95% CI]": elo(r),
             "Wins against others": f"{r.wins:g} of {r.matches}",
             "Judge accuracy in self-play": describe(r.self_play)} for r in summary.ratings]
