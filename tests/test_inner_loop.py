"""The inner loop: questionnaires after the items, proposals into candidate versions, convergence per version."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from oversight.access import auth
from oversight.db import session_scope
from oversight.sandwiching.inner_loop import (
    LoopError, accept_proposal, convergence, decline_proposal, list_proposals, propose, questionnaire_due,
    set_convergence, submit_questionnaire,
)
from oversight.protocols.prompts import DEFAULT_PROMPTS
from storage.models import Event, Proposal, QuestionnaireAnswer, Strategy, VersionDecision
from tests import factories


@pytest.fixture
def setup(study):
    """Two items; a participant who did one alone and one with the assistant (v1), and a finished second one."""
    items = factories.items(study.id, 2)
    v1 = factories.assisted_strategy(study.id)
    alone = factories.condition(study.id, "alone", "alone", position=0)
    assisted = factories.condition(study.id, "assisted", "assisted", v1, position=1)
    ann, bob = factories.participants(study.id, 2)
    factories.answered(study.id, ann, items[0], condition_id=alone, strategy_id=None, answer=0)
    pending = factories.answered(study.id, ann, items[1], condition_id=assisted, strategy_id=v1, answer=None,
                                 state="active")
    admin = auth.create_user(role="admin", name="ada", password="long enough").id
    return {"study": study.id, "items": items, "v1": v1, "alone": alone, "assisted": assisted, "ann": ann,
            "bob": bob, "pending": pending, "admin": admin}


def finish(assignment_id: int) -> None:
    from storage.models import Assignment

    with session_scope() as s:
        s.get(Assignment, assignment_id).state = "done"


def test_the_questionnaire_comes_after_every_item_once_per_condition(setup):
    ann = setup["ann"]
    assert questionnaire_due(ann) == []  # one item still open
    with pytest.raises(LoopError, match="finish your tasks"):
        submit_questionnaire(ann, setup["alone"], None, 3)
    finish(setup["pending"])
    due = questionnaire_due(ann)
    assert [(d.condition, d.with_model, d.strategy_id) for d in due] == [("alone", False, None),
                                                                          ("assisted", True, setup["v1"])]
    submit_questionnaire(ann, setup["assisted"], 4, 5, "  more quotes  ")
    assert [d.condition for d in questionnaire_due(ann)] == ["alone"]
    with pytest.raises(LoopError, match="already answered"):
        submit_questionnaire(ann, setup["assisted"], 2, 2)
    with session_scope() as s:
        [row] = s.exec(select(QuestionnaireAnswer)).all()
        assert (row.helped, row.sure, row.change, row.strategy_id) == (4, 5, "more quotes", setup["v1"])


def test_questionnaire_answers_are_checked_and_nothing_half_stored(setup):
    finish(setup["pending"])
    ann, bob = setup["ann"], setup["bob"]
    with pytest.raises(LoopError, match="without a model"):
        submit_questionnaire(ann, setup["alone"], 3, 3)
    with pytest.raises(LoopError, match="model helped"):
        submit_questionnaire(ann, setup["assisted"], None, 3)
    with pytest.raises(LoopError, match="1 to 5"):
        submit_questionnaire(ann, setup["alone"], None, 6)
    with pytest.raises(LoopError, match="did not work in this condition"):
        submit_questionnaire(bob, setup["alone"], None, 3)
    with pytest.raises(LoopError, match="at most"):
        submit_questionnaire(ann, setup["alone"], None, 3, "x" * 5000)
    with session_scope() as s:
        assert s.exec(select(QuestionnaireAnswer)).all() == []


def test_the_database_keeps_one_questionnaire_per_participant_and_condition(setup):
    finish(setup["pending"])
    submit_questionnaire(setup["ann"], setup["alone"], None, 3)
    with pytest.raises(IntegrityError), session_scope() as s:
        s.add(QuestionnaireAnswer(study_id=setup["study"], user_id=setup["ann"], condition_id=setup["alone"], sure=1))
        s.flush()


def test_proposals_only_about_a_version_one_worked_with_and_bounded(setup):
    ann, bob, v1 = setup["ann"], setup["bob"], setup["v1"]
    with pytest.raises(LoopError, match="you used"):
        propose(bob, v1, "assistant_instructions", "Quote more.", "I could not check it.")
    with pytest.raises(LoopError, match="kind"):
        propose(ann, v1, "anything", "Quote more.", "why")
    with pytest.raises(LoopError, match="why"):
        propose(ann, v1, "assistant_instructions", "Quote more.", " ")
    with pytest.raises(LoopError, match="at most"):
        propose(ann, v1, "assistant_instructions", "x" * 3000, "why")
    pid = propose(ann, v1, "assistant_instructions", "Quote more.", "I could not check it.")
    with pytest.raises(LoopError, match="already sent"):
        propose(ann, v1, "assistant_instructions", "Quote more.", "again")
    [p] = list_proposals(setup["study"], status="open")
    assert (p.id, p.strategy, p.text, p.status, p.simulated) == (pid, "assist v1", "Quote more.", "open", False)
    assert list_proposals(setup["study"], status="accepted") == []


def test_accepting_instructions_makes_a_candidate_child_with_the_prompt_extended(setup):
    pid = propose(setup["ann"], setup["v1"], "assistant_instructions", "Always quote {the} text.", "I could not check")
    done = accept_proposal(pid, setup["admin"])
    with session_scope() as s:
        parent, child = s.get(Strategy, setup["v1"]), s.get(Strategy, done.strategy_id)
        assert (child.parent_id, child.version, child.name) == (parent.id, 2, parent.name)
        assert child.reason == f"I could not check (from proposal #{pid})"
        system = child.prompts["assistant"]["system"]
        assert system.startswith(DEFAULT_PROMPTS["assistant"].system) and system.endswith("Always quote {{the}} text.")
        # The AI stand-ins for people are not the participant's model: unchanged.
        assert child.prompts["judge"] == parent.prompts["judge"]
        assert child.prompts["questioner"] == parent.prompts["questioner"]
        assert child.rules == parent.rules
        [decision] = s.exec(select(VersionDecision)).all()
        assert (decision.decision, decision.strategy_id, decision.proposal_id) == ("candidate", child.id, pid)
        p = s.get(Proposal, pid)
        assert (p.status, p.child_strategy_id, p.decided_by) == ("accepted", child.id, setup["admin"])
        assert s.exec(select(Event).where(Event.kind == "proposal.accept")).one().detail["strategy"] == child.id
    with pytest.raises(LoopError, match="already accepted"):
        accept_proposal(pid, setup["admin"])
    with pytest.raises(LoopError, match="already accepted"):
        decline_proposal(pid, setup["admin"])


def test_tips_go_into_the_participant_tips_rule_and_rules_proposals_into_the_reason(setup):
    tips = propose(setup["ann"], setup["v1"], "questioning_tips", "Ask for the exact sentence.", "It helped me")
    rules_p = propose(setup["ann"], setup["v1"], "rules", "Allow 20 messages.", "10 were too few")
    made = accept_proposal(tips, setup["admin"])
    with session_scope() as s:
        assert s.get(Strategy, made.strategy_id).rules["participant_tips"] == "Ask for the exact sentence."
    plain = accept_proposal(rules_p, setup["admin"])
    assert "make the proposed rules change" in plain.note
    with session_scope() as s:
        child = s.get(Strategy, plain.strategy_id)
        assert child.rules == s.get(Strategy, setup["v1"]).rules
        assert "proposed rules change: Allow 20 messages." in child.reason and f"proposal #{rules_p}" in child.reason


def test_a_rules_proposal_accepted_with_the_admins_rules(setup):
    pid = propose(setup["ann"], setup["v1"], "rules", "Allow 20 messages.", "10 were too few")
    made = accept_proposal(pid, setup["admin"], rules={"max_messages": 20})
    assert made.note == ""
    with session_scope() as s:
        assert s.get(Strategy, made.strategy_id).rules["max_messages"] == 20


def test_declining_and_who_may_decide(setup):
    pid = propose(setup["ann"], setup["v1"], "assistant_instructions", "Be brief.", "Too long")
    with pytest.raises(LoopError, match="only admins"):
        accept_proposal(pid, setup["ann"])
    decline_proposal(pid, setup["admin"])
    with pytest.raises(LoopError, match="already declined"):
        accept_proposal(pid, setup["admin"])
    with session_scope() as s:
        assert s.exec(select(Strategy)).all()[-1].id == setup["v1"]  # no version was made
        assert s.exec(select(VersionDecision)).all() == []


def test_convergence_against_the_study_thresholds(study):
    items = factories.items(study.id, 2)
    good, poor = factories.assisted_strategy(study.id, "good"), factories.assisted_strategy(study.id, "poor")
    cg = factories.condition(study.id, "good", "assisted", good)
    cp = factories.condition(study.id, "poor", "assisted", poor)
    set_convergence(study_id=study.id, user_id=None, min_participants=3, min_confidence=0.6, min_agreement=0.7)
    for uid, sure in zip(factories.participants(study.id, 3), (5, 4, 4)):
        for item in items:
            factories.answered(study.id, uid, item, condition_id=cg, strategy_id=good, answer=0)
        submit_questionnaire(uid, cg, 4, sure)
    for uid, answers in zip(factories.participants(study.id, 3), ((0, 0), (0, 1), (1, None))):
        for item, answer in zip(items, answers):
            if answer is not None:
                factories.answered(study.id, uid, item, condition_id=cp, strategy_id=poor, answer=answer)
    # A practice answer would tip item 1 of "poor" towards agreement; practice never counts.
    uid = factories.participants(study.id, 1)[0]
    factories.answered(study.id, uid, items[1], condition_id=cp, strategy_id=poor, answer=1, practice=True)
    by = {c.label: c for c in convergence(study.id)}
    g, p = by["good v1"], by["poor v1"]
    assert (g.n_participants, g.agreement, g.converged, g.missing) == (3, 1.0, True, [])
    assert g.confidence == pytest.approx((1 + 0.75 + 0.75) / 3) and g.helped == 4
    # poor: item 0 answered 0, 0, 1 (2 of 3 agree); item 1 answered 0, 1 (1 of 2): 3 of 5.
    assert p.agreement == pytest.approx(3 / 5) and p.n_participants == 3 and not p.converged
    assert p.missing == ["no questionnaire answers yet", "agreement 0.60 below 0.70"]


def test_convergence_defaults_and_bad_thresholds(study):
    factories.items(study.id, 1)
    v = factories.assisted_strategy(study.id)
    factories.condition(study.id, "assisted", "assisted", v)
    [c] = convergence(study.id)
    assert not c.converged and c.missing[0] == "10 more participant(s) (0 of 10)"
    with pytest.raises(LoopError, match="from 0 to 1"):
        set_convergence(study_id=study.id, user_id=None, min_agreement=1.5)
    with pytest.raises(LoopError, match="at least 1"):
        set_convergence(study_id=study.id, user_id=None, min_participants=0)


def test_two_admins_accepting_at_once_make_one_version(any_db):
    from concurrent.futures import ThreadPoolExecutor

    from oversight.study.studies import create_study

    study = create_study(name="Race", user_id=None, status="open").id
    item = factories.items(study, 1)[0]
    v1 = factories.assisted_strategy(study)
    [ann] = factories.participants(study, 1)
    factories.answered(study, ann, item, condition_id=None, strategy_id=v1, answer=0)
    pid = propose(ann, v1, "assistant_instructions", "Be brief.", "Too long")
    admins = [auth.create_user(role="admin", name=n, password="long enough").id for n in ("ada", "bea")]

    def accept(user_id):
        try:
            return accept_proposal(pid, user_id).strategy_id
        except LoopError as exc:
            return str(exc)

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(accept, admins))
    made = [r for r in results if isinstance(r, int)]
    assert len(made) == 1 and any("already accepted" in str(r) for r in results)
    with session_scope() as s:
        assert len(s.exec(select(Strategy)).all()) == 2
        assert len(s.exec(select(VersionDecision)).all()) == 1


def test_instructions_go_to_the_debaters_and_a_protocol_without_a_model_refuses(study):
    from oversight.sandwiching.inner_loop import apply_proposal
    from oversight.protocols.strategies import create_strategy

    debate = create_strategy(study_id=study.id, name="debate", protocol="debate")
    changes = apply_proposal(debate, "assistant_instructions", "Quote the opponent fairly.")
    assert changes["prompts"]["debater"]["system"].endswith("Quote the opponent fairly.")
    assert changes["prompts"]["judge"] == debate.prompts["judge"]
    direct = create_strategy(study_id=study.id, name="alone", protocol="direct-qa")
    with pytest.raises(LoopError, match="no model that participants work with"):
        apply_proposal(direct, "assistant_instructions", "Help me.")
