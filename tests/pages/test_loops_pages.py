"""The Loops page and the participant's questionnaire under Streamlit's AppTest."""

from __future__ import annotations

import pytest
from sqlmodel import select

from oversight.access import auth
from oversight.db import session_scope
from oversight.sandwiching.inner_loop import propose
from oversight.study.participation import record_consent
from oversight.study.studies import update_study
from storage.models import Assignment, Condition, Proposal, QuestionnaireAnswer, Strategy, VersionDecision
from tests import factories
from tests.pages.apptest import run_page


@pytest.fixture
def finished(study):
    """A participant who answered one item alone and one with the assistant; an admin; an expert review."""
    update_study(study_id=study.id, user_id=None, completion_code="DONE-123")
    items = factories.items(study.id, 2)
    v1 = factories.assisted_strategy(study.id)
    alone = factories.condition(study.id, "alone", "alone", position=0)
    assisted = factories.condition(study.id, "assisted", "assisted", v1, position=1)
    [ann] = factories.participants(study.id, 1)
    record_consent(user_id=ann)
    factories.answered(study.id, ann, items[0], condition_id=alone, strategy_id=None, answer=0)
    a = factories.answered(study.id, ann, items[1], condition_id=assisted, strategy_id=v1, answer=0)
    review = factories.review(study.id, factories.expert(), a, outcome="correct", misled=False)
    admin = auth.create_user(role="admin", name="ada", password="long enough").id
    return {"study": study.id, "ann": ann, "admin": admin, "v1": v1, "assisted": assisted, "review": review}


def texts(at) -> str:
    """What the page shows, Markdown escapes removed."""
    return " ".join(str(el.value) for kind in ("text", "success", "caption", "info", "markdown", "warning")
                    for el in getattr(at, kind)).replace("\\", "")


def test_the_loops_page_is_for_admins_only(finished):
    for user_id in (finished["ann"], factories.expert("eli"), None):
        at = run_page("loops", user_id)
        assert at.error and "not available to you" in at.error[0].value


def test_questionnaire_then_proposal_then_the_completion_code(finished):
    at = run_page("participant", finished["ann"])
    assert not at.exception
    assert "DONE-123" not in texts(at) and "On your own" in texts(at)
    assert len(at.radio) == 1  # alone: no "how much did the AI help"
    at.button[0].click().run()  # nothing chosen yet
    assert at.warning and "choose an answer" in at.warning[0].value
    at.radio[0].set_value(4)
    at.button[0].click().run()
    assert "Assisted QA" in texts(at) and len(at.radio) == 2
    at.radio[0].set_value(5)
    at.radio[1].set_value(3)
    at.text_area[0].input("More quotes please")
    at.button[0].click().run()
    assert not at.exception and "DONE-123" in texts(at)
    with session_scope() as s:
        answers = s.exec(select(QuestionnaireAnswer).order_by(QuestionnaireAnswer.id)).all()
        assert [(q.helped, q.sure, q.change) for q in answers] == [(None, 4, ""), (5, 3, "More quotes please")]
    # The optional suggestion, about the assisted version they used.
    at.radio[0].set_value("questioning_tips")
    at.text_area[0].input("Ask it for the exact sentence.")
    at.text_area[1].input("That is how I caught a mistake.")
    at.button[0].click().run()
    assert not at.exception and "suggestion #" in texts(at)
    with session_scope() as s:
        [p] = s.exec(select(Proposal)).all()
        assert (p.strategy_id, p.kind, p.text) == (finished["v1"], "questioning_tips", "Ask it for the exact sentence.")
    # A refresh (a fresh run) goes straight to the code: nothing is asked twice.
    again = run_page("participant", finished["ann"])
    assert "DONE-123" in texts(again)
    assert [r.label for r in again.radio] == ["What would you improve?"]


def test_admin_makes_a_candidate_and_promotes_it_on_the_loops_page(finished):
    at = run_page("loops", finished["admin"], study=str(finished["study"]))
    assert not at.exception and "No open proposals." in texts(at)
    pid = propose(finished["ann"], finished["v1"], "assistant_instructions", "Quote the text.", "To check it")
    at = run_page("loops", finished["admin"], study=str(finished["study"]))
    assert "Quote the text." in texts(at)
    next(b for b in at.button if b.label == "Make candidate version").click().run()
    assert not at.exception and "candidate version 2" in texts(at)
    with session_scope() as s:
        child = s.exec(select(Strategy).where(Strategy.version == 2)).one()
        assert s.get(Proposal, pid).child_strategy_id == child.id
    version_box = next(b for b in at.selectbox if b.label == "Version")
    version_box.set_value(child.id).run()  # choosing a version narrows the reviews listed
    at.text_area[0].input("Participants checked quotes more often")
    next(m for m in at.multiselect if m.label.startswith("The expert reviews")).set_value([finished["review"]])
    next(b for b in at.button if b.label == "Promote").click().run()
    assert not at.exception and "Now dealt by: assisted" in texts(at)
    with session_scope() as s:
        assert s.get(Condition, finished["assisted"]).strategy_id == child.id
        decisions = [(d.decision, d.review_ids) for d in s.exec(select(VersionDecision).order_by(VersionDecision.id))]
        assert decisions == [("candidate", []), ("promoted", [finished["review"]])]
    assert at.dataframe  # figures, convergence and the decision history are tables


def test_the_versions_tips_are_shown_with_each_task(study):
    from oversight.sandwiching.conditions import add_condition
    from oversight.protocols.strategies import create_strategy

    factories.items(study.id, 1)
    sid = create_strategy(study_id=study.id, name="tips", protocol="assisted-qa",
                          rules={"participant_tips": "Ask the assistant for the exact sentence."}).id
    add_condition(study_id=study.id, kind="assisted", strategy_id=sid)
    [ann] = factories.participants(study.id, 1)
    record_consent(user_id=ann)
    at = run_page("participant", ann)
    assert not at.exception and "Ask the assistant for the exact sentence." in texts(at)


def test_the_loops_page_says_when_versions_were_adaptively_sampled(finished):
    """A balanced study shows the plain per-version figures only; once Thompson sampling dealt a version, the page
    says the figures are adaptively sampled and shows the inverse-probability-weighted ones beside them."""
    at = run_page("loops", finished["admin"], study=str(finished["study"]))
    assert not at.exception and "Adaptively sampled" not in texts(at)
    figures = next(d.value for d in at.dataframe if "expert-judged success" in d.value.columns)
    assert "accuracy, IPW" not in figures.columns
    with session_scope() as s:
        for a in s.exec(select(Assignment).where(Assignment.strategy_id == finished["v1"])).all():
            a.allocation_probability = 0.5
    at = run_page("loops", finished["admin"], study=str(finished["study"]))
    assert not at.exception and "Adaptively sampled" in texts(at)
    figures = next(d.value for d in at.dataframe if "expert-judged success" in d.value.columns)
    assert {"accuracy, IPW", "expert-judged success, IPW"} <= set(figures.columns)


def _decide_widgets(at):
    rationale = next(t for t in at.text_area if t.label.startswith("Rationale"))
    reviews = next(m for m in at.multiselect if m.label.startswith("The expert reviews"))
    return rationale, reviews


def test_the_promote_form_lists_the_chosen_versions_reviews_and_starts_empty_after_use(finished):
    """Issue 18: the form listed every review of the study (many "no version") and kept its values after Promote."""
    sid = finished["study"]
    other = factories.assisted_strategy(sid, name="other")
    other_cond = factories.condition(sid, "other", "assisted", other, position=2)
    [bo] = factories.participants(sid, 1)
    item = factories.items(sid, 1, prefix="other")[0]
    expert = factories.expert("otto")
    a_other = factories.answered(sid, bo, item, condition_id=other_cond, strategy_id=other, answer=0)
    r_other = factories.review(sid, expert, a_other, outcome="incorrect", misled=True)
    with session_scope() as s:  # a review of an answer given alone: no version
        alone = s.exec(select(Assignment).where(Assignment.strategy_id.is_(None))).first()
    r_alone = factories.review(sid, expert, alone.id, outcome="correct")

    at = run_page("loops", finished["admin"], study=str(sid))
    next(b for b in at.selectbox if b.label == "Version").set_value(finished["v1"]).run()
    _, reviews = _decide_widgets(at)
    assert reviews.options and all(f"#{finished['review']} " in o for o in reviews.options)
    assert not any(str(r_other) in o.split()[0] or str(r_alone) in o.split()[0] for o in reviews.options)
    assert not any("no version" in o for o in reviews.options)
    next(b for b in at.selectbox if b.label == "Version").set_value(other).run()
    _, reviews = _decide_widgets(at)
    assert [o.split()[0] for o in reviews.options] == [f"#{r_other}"]

    rationale, reviews = _decide_widgets(at)
    rationale.input("Misled less often")
    reviews.set_value([r_other])
    next(b for b in at.button if b.label == "Promote").click().run()
    assert not at.exception and "Promoted other v1" in texts(at)
    rationale, reviews = _decide_widgets(at)
    assert rationale.value == "" and reviews.value == []  # the next decision starts empty
    with session_scope() as s:
        [d] = s.exec(select(VersionDecision)).all()
        assert (d.strategy_id, d.review_ids, d.rationale) == (other, [r_other], "Misled less often")


def test_a_rules_proposal_is_accepted_with_the_rules_edited_in_a_form(finished):
    """Issue 18: accepting a rules proposal needed `proposals accept --rules JSON`. The page shows the version's
    rules by label, prefilled; accepting makes the candidate with the edited rules, checked as the CLI checks them."""
    pid = propose(finished["ann"], finished["v1"], "rules", "Let us send 20 messages", "10 ran out")
    at = run_page("loops", finished["admin"], study=str(finished["study"]))
    assert not at.exception and "Let us send 20 messages" in texts(at)
    assert not [b for b in at.button if b.label == "Make candidate version"]
    box = at.number_input(key=f"prop-{pid}-max_messages")
    assert box.value == 10 and box.label == "Messages the participant may send"
    # Refused as the CLI refuses it (one check, in the domain): nothing lands.
    at.number_input(key=f"prop-{pid}-critique_rounds").set_value(1)
    next(b for b in at.button if b.label == "Accept with these rules").click().run()
    assert any("principle" in e.value for e in at.error)
    with session_scope() as s:
        assert s.get(Proposal, pid).status == "open" and len(s.exec(select(Strategy)).all()) == 1
    at.number_input(key=f"prop-{pid}-critique_rounds").set_value(0)
    at.number_input(key=f"prop-{pid}-max_messages").set_value(20)
    next(b for b in at.button if b.label == "Accept with these rules").click().run()
    assert not at.exception and "candidate version 2 (changed: Messages the participant may send)" in texts(at)
    with session_scope() as s:
        child = s.exec(select(Strategy).where(Strategy.version == 2)).one()
        p = s.get(Proposal, pid)
        assert (p.status, p.child_strategy_id) == ("accepted", child.id)
        assert child.rules["max_messages"] == 20 and child.parent_id == finished["v1"]
        assert "Let us send 20 messages" in child.reason
