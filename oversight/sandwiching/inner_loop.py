"""The inner loop: non-experts refine how they work with the model, M_{t+1} = f(M_t, H_nonexpert).

After their (non-practice) items a participant answers a short questionnaire per condition they worked in, and may
propose a refinement of the strategy version they worked with. The admin turns a proposal into a candidate child
version in one transaction (the version, the proposal's status and a "candidate" `VersionDecision` land together).
`convergence` says per version whether the inner loop has converged against the study's thresholds.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from oversight.results.results_filter import people_left_out, result_assignment
from oversight.audit import log_event
from oversight.db import session_scope
from oversight.vocab import SIMULATED
from oversight.protocols.registry import get_protocol
from oversight.protocols.strategies import add_version
from storage.models import (
    Assignment, Condition, Judgment, Proposal, QuestionnaireAnswer, Strategy, Study, User, VersionDecision, utcnow,
)
from storage.vocabulary import PROPOSAL_STATUSES

# What a participant may propose (storage.vocabulary.PROPOSAL_KINDS), as the pages name it.
PROPOSAL_KINDS = {
    "assistant_instructions": "Instructions for the model",
    "questioning_tips": "Tips for questioning the model",
    "rules": "Protocol rules (e.g. rounds, time, messages)",
}
MAX_TEXT = 2000  # a proposal's text, a questionnaire's "what would you change"
MAX_REASON = 1000
MAX_OPEN_PROPOSALS = 5  # per participant: enough for real ideas, not enough to flood the admin's list
# Model roles that stand in for people in AI-only runs (the AI judge, the AI questioner): participants' instructions
# are for the models they talk to, not for these.
STAND_IN_ROLES = ("judge", "questioner")
# Inner-loop convergence thresholds when the study sets none.
DEFAULT_CONVERGENCE = {"min_participants": 10, "min_confidence": 0.7, "min_agreement": 0.7}
MODEL_KINDS = ("assisted",)  # conditions where the participant works with a model (the questionnaire asks "helped")


class LoopError(Exception):
    """Something in the inner or outer loop that cannot happen; the message is safe to show."""


# --- participants: questionnaire and proposals ----------------------------------------------------------------------
@dataclass(frozen=True)
class DueQuestionnaire:
    condition_id: int
    condition: str
    kind: str
    strategy_id: int | None  # the version they worked with (the one they were dealt most often in it)
    with_model: bool  # ask how much the model helped
    what: str  # how the participant knows this part of the study: the protocol's label, or "On your own"


def _participant(s: Session, user_id: int) -> User:
    user = s.get(User, user_id)
    if user is None or user.role != "participant" or user.token_revoked:
        raise LoopError("this participation link is no longer valid")
    return user


def _worked_in(s: Session, user: User) -> tuple[bool, dict[int, tuple[Condition, int | None]]]:
    """(all non-practice items done, {condition id: (condition, the version worked with)})."""
    rows = s.exec(select(Assignment).where(Assignment.participant_id == user.id, Assignment.study_id == user.study_id,
                                           Assignment.practice == False)).all()  # noqa: E712
    finished = bool(rows) and all(a.state in ("done", "skipped") for a in rows)
    versions: dict[int, Counter] = defaultdict(Counter)
    for a in rows:
        if a.condition_id is not None:
            versions[a.condition_id][a.strategy_id] += 1
    out = {}
    for cid, counts in versions.items():
        condition = s.get(Condition, cid)
        top = max(counts.values())
        # Most dealt version; on a tie the newest (highest id) so the answer speaks about the latest one seen.
        chosen = max((sid for sid, n in counts.items() if n == top), key=lambda v: -1 if v is None else v)
        out[cid] = (condition, chosen)
    return finished, out


def questionnaire_due(user_id: int) -> list[DueQuestionnaire]:
    """The conditions a participant still has to answer the questionnaire about: none until every non-practice
    item is done, then each condition they worked in that they have not answered yet, in the study's order."""
    with session_scope(write=False) as s:
        user = _participant(s, user_id)
        finished, worked = _worked_in(s, user)
        if not finished:
            return []
        answered = set(s.exec(select(QuestionnaireAnswer.condition_id)
                              .where(QuestionnaireAnswer.user_id == user.id)).all())
        due = [DueQuestionnaire(c.id, c.name, c.kind, sid, c.kind in MODEL_KINDS,
                                get_protocol(s.get(Strategy, sid).protocol).label if sid else "On your own")
               for cid, (c, sid) in worked.items() if cid not in answered]
        order = {cid: (c.position, c.id) for cid, (c, _) in worked.items()}
        return sorted(due, key=lambda d: order[d.condition_id])


def _scale(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        raise LoopError(f"{what}: choose a value from 1 to 5")
    return value


def submit_questionnaire(user_id: int, condition_id: int, helped: int | None, sure: int, change: str = "") -> int:
    """Store one questionnaire (once per participant and condition; the database refuses a second)."""
    change = (change or "").strip()
    if len(change) > MAX_TEXT:
        raise LoopError(f"what you would change: at most {MAX_TEXT} characters (this has {len(change)})")
    sure = _scale(sure, "how sure you are")
    with session_scope() as s:
        user = _participant(s, user_id)
        finished, worked = _worked_in(s, user)
        if condition_id not in worked:
            raise LoopError("you did not work in this condition")
        if not finished:
            raise LoopError("finish your tasks first")
        condition, strategy_id = worked[condition_id]
        if condition.kind in MODEL_KINDS:
            helped = _scale(helped, "how much the model helped")
        elif helped is not None:
            raise LoopError("you worked without a model in this condition, so there is nothing to rate for its help")
        if s.exec(select(QuestionnaireAnswer.id).where(QuestionnaireAnswer.user_id == user.id,
                                                       QuestionnaireAnswer.condition_id == condition_id)).first():
            raise LoopError("You already answered the questionnaire about this part of the study.")
        row = QuestionnaireAnswer(study_id=user.study_id, user_id=user.id, condition_id=condition_id,
                                  strategy_id=strategy_id, helped=helped, sure=sure, change=change)
        s.add(row)
        try:
            s.flush()  # a unique constraint: two tabs submitting at once store one
        except IntegrityError:
            raise LoopError("You already answered the questionnaire about this part of the study.") from None
        log_event(s, "questionnaire.submit", user_id=user.id, study_id=user.study_id, condition=condition_id)
        return row.id


def proposable_versions(user_id: int) -> list[tuple[int, str]]:
    """The strategy versions a participant worked with (id, what to call it to them), oldest first."""
    with session_scope(write=False) as s:
        user = _participant(s, user_id)
        ids = set(s.exec(select(Assignment.strategy_id).where(Assignment.participant_id == user.id,
                                                              Assignment.study_id == user.study_id,
                                                              Assignment.strategy_id.is_not(None))).all())
        rows = sorted((s.get(Strategy, sid) for sid in ids), key=lambda r: r.id)
        return [(r.id, get_protocol(r.protocol).label) for r in rows]


def propose(user_id: int, strategy_id: int, kind: str, text: str, reason: str) -> int:
    """A participant's proposed refinement of a strategy version they worked with."""
    if kind not in PROPOSAL_KINDS:
        raise LoopError(f"kind must be one of {', '.join(PROPOSAL_KINDS)}")
    text, reason = (text or "").strip(), (reason or "").strip()
    if not text:
        raise LoopError("write the change you propose")
    if not reason:
        raise LoopError("say why: the reason goes with the proposal")
    if len(text) > MAX_TEXT or len(reason) > MAX_REASON:
        raise LoopError(f"a proposal has at most {MAX_TEXT} characters and its reason at most {MAX_REASON}")
    with session_scope() as s:
        user = _participant(s, user_id)
        worked = s.exec(select(Assignment.id).where(Assignment.participant_id == user.id,
                                                    Assignment.strategy_id == strategy_id)).first()
        if worked is None:
            raise LoopError("you can only propose changes to a way of working you used")
        mine = s.exec(select(Proposal).where(Proposal.user_id == user.id, Proposal.status == "open")).all()
        if any(p.strategy_id == strategy_id and p.kind == kind and p.text == text for p in mine):
            raise LoopError("You already sent this proposal.")
        if len(mine) >= MAX_OPEN_PROPOSALS:
            raise LoopError(f"You have {len(mine)} proposals waiting for the researchers; thank you, that is enough.")
        row = Proposal(study_id=user.study_id, user_id=user.id, strategy_id=strategy_id, kind=kind, text=text,
                       reason=reason)
        s.add(row)
        s.flush()
        log_event(s, "proposal.submit", user_id=user.id, study_id=user.study_id, proposal=row.id,
                  strategy=strategy_id)
        return row.id


# --- admins: proposals into candidate versions ----------------------------------------------------------------------
@dataclass(frozen=True)
class ProposalView:
    id: int
    study_id: int
    strategy_id: int
    strategy: str  # "name vN"
    kind: str
    text: str
    reason: str
    status: str
    participant: str
    simulated: bool
    child_strategy_id: int | None
    created_at: datetime


def list_proposals(study_id: int, status: str | None = None) -> list[ProposalView]:
    """A study's proposals, newest first (only those with `status` when given)."""
    if status is not None and status not in PROPOSAL_STATUSES:
        raise LoopError(f"status must be one of {', '.join(PROPOSAL_STATUSES)}")
    with session_scope(write=False) as s:
        query = select(Proposal, User, Strategy).join(User, User.id == Proposal.user_id) \
            .join(Strategy, Strategy.id == Proposal.strategy_id).where(Proposal.study_id == study_id)
        if status is not None:
            query = query.where(Proposal.status == status)
        rows = s.exec(query.order_by(Proposal.id.desc())).all()
        return [ProposalView(p.id, p.study_id, p.strategy_id, f"{st.name} v{st.version}", p.kind, p.text, p.reason,
                             p.status, u.name, u.external_study_id == SIMULATED, p.child_strategy_id, p.created_at)
                for p, u, st in rows]


def require_admin(s: Session, user_id: int | None) -> None:
    if user_id is None:  # the command line runs as the operator
        return
    user = s.get(User, user_id)
    if user is None or user.role != "admin":
        raise LoopError("only admins decide on proposals and versions")


def _open_proposal(s: Session, proposal_id: int) -> Proposal:
    # Row lock on PostgreSQL (SQLite writers are serialised by BEGIN IMMEDIATE): two admins deciding at once
    # cannot both act; the second reads the first one's decision.
    p = s.exec(select(Proposal).where(Proposal.id == proposal_id).with_for_update()).first()
    if p is None:
        raise LoopError(f"no proposal with id {proposal_id}")
    if p.status != "open":
        raise LoopError(f"proposal #{p.id} was already {p.status}")
    return p


def _braces(text: str) -> str:
    """Participant text inside a prompt template: literal braces, never placeholders."""
    return text.replace("{", "{{").replace("}", "}}")


def apply_proposal(parent: Strategy, kind: str, text: str) -> dict[str, Any]:
    """The changes (for `new_version`) that carry out a proposal: instructions appended to the system prompt of
    each model role the participant works with; tips appended to the participant tips rule; a rules proposal
    changes nothing by itself (the admin writes the rules)."""
    if kind == "assistant_instructions":
        protocol = get_protocol(parent.protocol)
        roles = [r for r in protocol.model_roles if r not in STAND_IN_ROLES]
        if not roles:
            raise LoopError(f"{protocol.label} has no model that participants work with; decline this proposal")
        prompts = {role: dict(p) for role, p in parent.prompts.items()}
        for role in roles:
            prompt = prompts.setdefault(role, {})
            prompt["system"] = (prompt.get("system", "").rstrip() + "\n\n" + _braces(text)).strip()
        return {"prompts": prompts}
    if kind == "questioning_tips":
        tips = str(parent.rules.get("participant_tips") or "").rstrip()
        return {"rules": {**parent.rules, "participant_tips": (tips + "\n" + text).strip()}}
    return {}


@dataclass(frozen=True)
class Accepted:
    proposal_id: int
    strategy_id: int  # the candidate version
    version: int
    note: str  # what the admin still has to do, if anything


def accept_proposal(proposal_id: int, user_id: int | None, rules: dict[str, Any] | None = None) -> Accepted:
    """Make an open proposal a candidate child version of the version it is about, in one transaction: the version
    (the proposal applied, its reason + "from proposal #N"), a "candidate" decision linked to the proposal, and the
    proposal marked accepted. `rules`: rules to change in the new version (for a rules proposal, the admin's
    reading of it); without them a rules proposal makes a candidate equal to its parent to edit next."""
    with session_scope() as s:
        require_admin(s, user_id)
        p = _open_proposal(s, proposal_id)
        parent = s.get(Strategy, p.strategy_id)
        changes = apply_proposal(parent, p.kind, p.text)
        if rules:
            changes["rules"] = {**changes.get("rules", parent.rules), **rules}
        link = f"from proposal #{p.id}"
        reason = f"{p.reason} ({link})" if p.kind != "rules" else \
            f"{p.reason} ({link}; proposed rules change: {p.text})"
        child = add_version(s, parent_id=parent.id, reason=reason, user_id=user_id, same_allowed=p.kind == "rules",
                            **changes)
        p.status, p.child_strategy_id, p.decided_by, p.decided_at = "accepted", child.id, user_id, utcnow()
        s.add(VersionDecision(study_id=p.study_id, strategy_id=child.id, decision="candidate", rationale=reason,
                              proposal_id=p.id, user_id=user_id))
        log_event(s, "proposal.accept", user_id=user_id, study_id=p.study_id, proposal=p.id, strategy=child.id)
        note = ""
        if p.kind == "rules" and not rules:
            note = (f"{parent.name} v{child.version} has the same rules as v{parent.version}: make the proposed rules "
                    f"change as a new version of it (Strategies page).")
        return Accepted(p.id, child.id, child.version, note)


def decline_proposal(proposal_id: int, user_id: int | None) -> None:
    with session_scope() as s:
        require_admin(s, user_id)
        p = _open_proposal(s, proposal_id)
        p.status, p.decided_by, p.decided_at = "declined", user_id, utcnow()
        log_event(s, "proposal.decline", user_id=user_id, study_id=p.study_id, proposal=p.id)


# --- convergence ------------------------------------------------------------------------------------------------------
def thresholds(study: Study) -> dict[str, float]:
    return {**DEFAULT_CONVERGENCE, **{k: v for k, v in (study.convergence or {}).items() if k in DEFAULT_CONVERGENCE}}


def set_convergence(*, study_id: int, user_id: int | None, min_participants: int | None = None,
                    min_confidence: float | None = None, min_agreement: float | None = None) -> dict[str, float]:
    """Change the study's convergence thresholds (the ones given); audited. Returns the thresholds now."""
    from oversight.study.studies import StudyError, get_study, update_study  # one place checks and audits settings

    given = {k: v for k, v in (("min_participants", min_participants), ("min_confidence", min_confidence),
                               ("min_agreement", min_agreement)) if v is not None}
    with session_scope(write=False) as s:
        require_admin(s, user_id)
    study = get_study(study_id)
    if study is None:
        raise LoopError(f"no study with id {study_id}")
    try:
        update_study(study_id=study_id, user_id=user_id, convergence={**(study.convergence or {}), **given})
    except StudyError as exc:
        raise LoopError(str(exc)) from None
    return thresholds(get_study(study_id))


@dataclass
class Convergence:
    strategy_id: int
    label: str
    n_participants: int
    n_questionnaires: int
    confidence: float | None  # mean self-reported sureness, 1-5 mapped to 0-1
    helped: float | None  # mean "the model helped", 1-5
    agreement: float | None  # share of answers matching their item's majority (items answered at least twice)
    n_agreement_answers: int
    converged: bool
    missing: list[str] = field(default_factory=list)
    simulated: bool = False  # simulated participants contributed


def _final_answers(s: Session, study_id: int) -> list[tuple[int, int, int, int | None, bool]]:
    """(strategy id, item id, participant id, answer index, simulated) of participants' final human judgments on
    non-practice assignments."""
    rows = s.exec(select(Assignment.strategy_id, Assignment.item_id, User.id, Judgment.answer_index,
                         Judgment.probabilities, User.external_study_id)
                  .join(Judgment, Judgment.assignment_id == Assignment.id)
                  .join(User, User.id == Assignment.participant_id)
                  .where(Assignment.study_id == study_id, result_assignment(people_left_out(s, study_id)),
                         Assignment.strategy_id.is_not(None), Judgment.is_final == True,  # noqa: E712
                         Judgment.judge_kind == "human", User.role == "participant")).all()
    out = []
    for sid, item, uid, answer, probs, ext in rows:
        if answer is None and probs:
            answer = max(range(len(probs)), key=probs.__getitem__)
        out.append((sid, item, uid, answer, ext == SIMULATED))
    return out


def study_versions(s: Session, study_id: int) -> list[Strategy]:
    """The versions the loops are about: dealt to someone, used by a condition, or decided on; by name, version."""
    ids = set(s.exec(select(Assignment.strategy_id).where(Assignment.study_id == study_id,
                                                          Assignment.strategy_id.is_not(None))).all())
    ids |= set(s.exec(select(Condition.strategy_id).where(Condition.study_id == study_id,
                                                          Condition.strategy_id.is_not(None))).all())
    ids |= set(s.exec(select(VersionDecision.strategy_id).where(VersionDecision.study_id == study_id)).all())
    rows = [s.get(Strategy, sid) for sid in ids]
    return sorted((r for r in rows if r is not None), key=lambda r: (r.name, r.version))


def convergence(study_id: int) -> list[Convergence]:
    """Per strategy version: where its inner loop stands against the study's convergence thresholds."""
    with session_scope(write=False) as s:
        study = s.get(Study, study_id)
        if study is None:
            raise LoopError(f"no study with id {study_id}")
        limits = thresholds(study)
        versions = study_versions(s, study_id)
        answers = _final_answers(s, study_id)
        questionnaires = s.exec(select(QuestionnaireAnswer).where(QuestionnaireAnswer.study_id == study_id)).all()
    out = []
    for v in versions:
        mine = [a for a in answers if a[0] == v.id]
        people = {a[2] for a in mine}
        qs = [q for q in questionnaires if q.strategy_id == v.id]
        confidence = sum((q.sure - 1) / 4 for q in qs) / len(qs) if qs else None
        helped_values = [q.helped for q in qs if q.helped is not None]
        by_item: dict[int, list[int]] = defaultdict(list)
        for _, item, _, answer, _ in mine:
            if answer is not None:
                by_item[item].append(answer)
        pooled = [xs for xs in by_item.values() if len(xs) >= 2]  # one answer agrees with itself: no evidence
        n_agree = sum(len(xs) for xs in pooled)
        agreement = sum(Counter(xs).most_common(1)[0][1] for xs in pooled) / n_agree if n_agree else None
        missing = []
        if len(people) < limits["min_participants"]:
            missing.append(f"{int(limits['min_participants']) - len(people)} more participant(s) "
                           f"({len(people)} of {int(limits['min_participants'])})")
        if confidence is None:
            missing.append("no questionnaire answers yet")
        elif confidence < limits["min_confidence"]:
            missing.append(f"sureness {confidence:.2f} below {limits['min_confidence']:.2f}")
        if agreement is None:
            missing.append("no item answered by two participants yet")
        elif agreement < limits["min_agreement"]:
            missing.append(f"agreement {agreement:.2f} below {limits['min_agreement']:.2f}")
        out.append(Convergence(v.id, f"{v.name} v{v.version}", len(people), len(qs), confidence,
                               sum(helped_values) / len(helped_values) if helped_values else None, agreement, n_agree,
                               not missing, missing, any(a[4] for a in mine)))
    return out


@dataclass(frozen=True)
class QuestionnaireSummary:
    condition_id: int
    condition: str
    strategy_id: int | None
    n: int
    sure: float | None  # mean, 1-5
    helped: float | None  # mean, 1-5
    changes: list[str]  # what participants would change (non-empty answers), newest first


def questionnaire_summaries(study_id: int) -> list[QuestionnaireSummary]:
    """Questionnaire answers per condition and version (for the Loops page)."""
    with session_scope(write=False) as s:
        rows = s.exec(select(QuestionnaireAnswer, Condition).join(Condition, Condition.id ==
                                                                  QuestionnaireAnswer.condition_id)
                      .where(QuestionnaireAnswer.study_id == study_id)
                      .order_by(QuestionnaireAnswer.id.desc())).all()
    groups: dict[tuple[int, int | None], list[tuple[QuestionnaireAnswer, Condition]]] = defaultdict(list)
    for q, c in rows:
        groups[(c.id, q.strategy_id)].append((q, c))
    out = []
    for (cid, sid), items in sorted(groups.items(), key=lambda kv: (kv[1][0][1].position, kv[0][0], kv[0][1] or 0)):
        qs = [q for q, _ in items]
        helped = [q.helped for q in qs if q.helped is not None]
        out.append(QuestionnaireSummary(cid, items[0][1].name, sid, len(qs), sum(q.sure for q in qs) / len(qs),
                                        sum(helped) / len(helped) if helped else None,
                                        [q.change for q in qs if q.change]))
    return out
