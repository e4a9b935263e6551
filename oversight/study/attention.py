"""Attention checks of a paid study: catch items and a minimum time per answer, flags, and who is excluded.

A participant's flags = their wrong answers on catch items (items whose split is "catch", dealt among the real
ones by oversight.sandwiching.dealing, answered as direct QA, their gold never shown) + their answers submitted sooner than
the study's `min_seconds_per_item` after the task was first shown (`Assignment.started_at` to the final
judgment's `created_at`; every answered task counts, practice and catch included; simulated people, who answer at
machine speed, are never flagged for time). A wrong catch answer given too fast counts twice. Status from the
study's thresholds: `excluded` at `attention_exclude` flags or more (0: never), `warn` at `attention_warn` or more
(0: never), else `ok`; an admin's override (include anyway / exclude) beats the thresholds, is stored on the
participant and is in the audit log.

Excluded participants' answers are not results (like practice answers: `results_filter.result_assignment` and
judgment_records), they earn no bonus and their base pay is held until an admin decides (payments: include to
approve, exclude to reject). Catch answers are never results. Computed on every read, so changing a threshold applies at once, to everyone.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, select

from oversight.audit import log_event
from oversight.db import session_scope
from oversight.vocab import SIMULATED, is_correct
from storage.models import Assignment, Event, ItemGold, Judgment, Study, User
from storage.vocabulary import ATTENTION_OVERRIDES as OVERRIDES

CATCH = "catch"  # the item split of attention checks


class AttentionError(Exception):
    """An attention-check operation that cannot be done; the message is safe to show."""


@dataclass(frozen=True)
class Attention:
    user_id: int
    name: str
    external_id: str | None
    catch_answered: int
    catch_wrong: int
    too_fast: int
    status: str  # ok | warn | excluded, after the override
    override: str | None  # include | exclude | None
    simulated: bool = False

    @property
    def flags(self) -> int:
        return self.catch_wrong + self.too_fast


def status_for(flags: int, *, warn: int, exclude: int, override: str | None = None) -> str:
    """ok / warn / excluded from the flag count and the study's thresholds (0: that threshold is off)."""
    if override == "exclude" or (override != "include" and exclude > 0 and flags >= exclude):
        return "excluded"
    return "warn" if warn > 0 and flags >= warn else "ok"


def describe_status(status: str, override: str | None, by: str | None = None) -> str:
    """A participant's attention status as the Monitor and Participants pages show it: an admin's decision says so
    and who made it ("included by alice"), since "warn" beside someone an admin already included reads as a
    problem nobody has looked at. The flag counts are shown beside it, unchanged."""
    if override is None:
        return status
    return f"{'included' if override == 'include' else 'excluded'} by {by or 'an admin'}"


def override_authors(s: Session, study_id: int) -> dict[int, str]:
    """participant id -> the name of who made their current attention decision, from the audit log (the
    decision itself is on the participant; the log says who). One read per study; "the command line" where it was
    set without a signed-in person (oversight/cli/attention.py)."""
    rows = s.exec(select(Event.detail, User.name).outerjoin(User, User.id == Event.user_id)
                  .where(Event.study_id == study_id, Event.kind == "attention.override").order_by(Event.id)).all()
    out: dict[int, str] = {}
    for detail, name in rows:  # oldest first: the latest decision's author wins
        if (pid := (detail or {}).get("participant")) is not None:
            out[int(pid)] = name or "the command line"
    return out


def describe_thresholds(study: Study) -> str:
    """The study's thresholds in words, for the pages and the CLI."""
    warn = f"warn at {study.attention_warn} flag(s)" if study.attention_warn else "never warn"
    exclude = f"exclude at {study.attention_exclude} flag(s)" if study.attention_exclude else "never exclude"
    return f"{warn}, {exclude}"


def _aware_seconds(start, end) -> float | None:
    if start is None or end is None:
        return None
    # SQLite returns naive datetimes for timezone-aware columns; both are UTC.
    if (start.tzinfo is None) != (end.tzinfo is None):
        start, end = start.replace(tzinfo=None), end.replace(tzinfo=None)
    return (end - start).total_seconds()


def study_attention(s: Session, study: Study) -> list[Attention]:
    """Every participant of the study with their flags and status, in id order (two reads for the study)."""
    people = s.exec(select(User).where(User.study_id == study.id, User.role == "participant")
                    .order_by(User.id)).all()
    rows = s.exec(select(Assignment.participant_id, Assignment.catch, Assignment.started_at, Judgment.created_at,
                         Judgment.probabilities, Judgment.answer_index, ItemGold.gold_index)
                  .join(Judgment, Judgment.assignment_id == Assignment.id)
                  .outerjoin(ItemGold, ItemGold.item_id == Assignment.item_id)
                  .where(Assignment.study_id == study.id, Judgment.is_final == True,  # noqa: E712
                         Judgment.judge_kind == "human")).all()
    # Simulated people answer at machine speed; the time check would exclude every one of them from a dry run.
    simulated = {u.id for u in people if u.external_study_id == SIMULATED}
    counts: dict[int, list[int]] = {}
    for uid, catch, started, submitted, probs, answer, gold in rows:
        c = counts.setdefault(uid, [0, 0, 0])
        if catch and gold is not None:
            c[0] += 1
            c[1] += not is_correct(probs, gold, answer)
        seconds = _aware_seconds(started, submitted)
        if study.min_seconds_per_item > 0 and uid not in simulated and seconds is not None and seconds < study.min_seconds_per_item:
            c[2] += 1
    out = []
    for u in people:
        answered, wrong, fast = counts.get(u.id, (0, 0, 0))
        out.append(Attention(u.id, u.name, u.external_id, answered, wrong, fast,
                             status_for(wrong + fast, warn=study.attention_warn, exclude=study.attention_exclude,
                                        override=u.attention_override),
                             u.attention_override, u.id in simulated))
    return out


def excluded_participants(s: Session, study_id: int) -> set[int]:
    """Ids of the study's participants whose answers are left out of results (and whose pay is held)."""
    study = s.get(Study, study_id)
    if study is None:
        return set()
    if study.catch_items == 0 and study.min_seconds_per_item == 0 and study.attention_exclude == 0:
        # No check is on: only an explicit override excludes (one cheap read, the common case).
        return set(s.exec(select(User.id).where(User.study_id == study_id,
                                                User.attention_override == "exclude")).all())
    return {a.user_id for a in study_attention(s, study) if a.status == "excluded"}


def attention(*, study_id: int) -> tuple[Study, list[Attention]]:
    """The study (its thresholds) and every participant's flags and status, for the Monitor, Participants page
    and CLI. Read-only."""
    with session_scope(write=False) as s:
        study = s.get(Study, study_id)
        if study is None:
            raise AttentionError(f"no study with id {study_id}")
        return study, study_attention(s, study)


def decision_authors(*, study_id: int) -> dict[int, str]:
    """Who made each participant's current attention decision (`override_authors`), for the pages. Read-only."""
    with session_scope(write=False) as s:
        return override_authors(s, study_id)


def set_override(*, study_id: int, participant_id: int, decision: str | None, user_id: int | None = None) -> None:
    """Include a participant anyway, exclude them, or (None) let the thresholds decide again. Audited."""
    if decision not in (*OVERRIDES, None):
        raise AttentionError(f"the decision is one of {', '.join(OVERRIDES)} (or none)")
    with session_scope() as s:
        person = s.get(User, participant_id)
        if person is None or person.role != "participant" or person.study_id != study_id:
            raise AttentionError(f"participant {participant_id} is not in study {study_id}")
        if person.attention_override == decision:
            return
        log_event(s, "attention.override", user_id=user_id, study_id=study_id, participant=participant_id,
                  old=person.attention_override, new=decision)
        person.attention_override = decision
