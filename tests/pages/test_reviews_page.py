"""The Review queue page: the next assignment with its context, the rubric form, blind filters, admin tabs."""

from __future__ import annotations

from oversight.db import session_scope
from oversight.sandwiching.reviews import final_labels, set_review_settings, submit_review
from storage.models import ExpertReview
from tests.pages.apptest import run_page
from tests.factories import GOOD, world  # noqa: F401 (a fixture)


def _texts(at) -> str:
    return " ".join(t.value for t in at.text)


def test_participants_are_kept_out(world):
    at = run_page("reviews", world["people"][0], study=str(world["study"]))
    assert any("not available to you" in e.value for e in at.error)


def test_an_expert_reviews_the_next_assignment_and_moves_on(world):
    a = world["a"]
    at = run_page("reviews", world["experts"][0], study=str(world["study"]))
    assert not at.exception
    assert "Question 0?" in _texts(at) and "the text says blue" in _texts(at)
    assert "✓ gold" in _texts(at)
    assert any("Blind review" in c.value for c in at.caption)
    assert [s.label for s in at.selectbox] == ["Study", "Condition"]  # no strategy filter when blind
    next(b for b in at.button if b.label == "Submit review").click().run()
    assert any("choose one of correct" in e.value for e in at.error)
    at.radio(key=f"rq-{a[0]}-outcome").set_value("incorrect")
    # The first is answered alone: nothing about a model is asked.
    assert not [r for r in at.radio if r.key.endswith("help_quality")]
    at.checkbox(key=f"rq-{a[0]}-persuaded_wrong_confident").check()
    next(b for b in at.button if b.label == "Submit review").click().run()
    assert not at.exception
    assert any(f"assignment #{a[0]} saved" in s.value for s in at.success)
    assert "Question 1?" in _texts(at)  # the next one, answered with the helper: the model's help is asked
    assert [r for r in at.radio if r.key == f"rq-{a[1]}-help_quality"]
    with session_scope(write=False) as s:
        [row] = s.query(ExpertReview).all()
    assert (row.assignment_id, row.labels["outcome"], row.labels["persuaded_wrong_confident"]) == (
        a[0], "incorrect", True)


def test_empty_states_and_the_admin_tabs(world):
    for aid in world["a"][:3]:
        submit_review(assignment_id=aid, expert_id=world["experts"][0], labels=GOOD)
    at = run_page("reviews", world["experts"][2], study=str(world["study"]))
    assert any("Nothing left for you to review" in i.value for i in at.info)
    assert any("Not enough double reviews" in i.value for i in at.info)
    assert "Rubric and settings" not in [t.label for t in at.tabs]
    admin = run_page("reviews", world["admin"], study=str(world["study"]))
    assert not admin.exception
    assert "Strategy version" in [s.label for s in admin.selectbox]
    assert "Rubric and settings" in [t.label for t in admin.tabs]
    admin.number_input[0].set_value(0.5)
    next(b for b in admin.button if b.label == "Save settings").click().run()
    assert any("review_share" in s.value for s in admin.success)
    admin.text_input(key="rubric-reason-v1").input("no reason needed?")
    next(b for b in admin.button if b.label == "Save new version").click().run()
    assert any("nothing changed" in e.value for e in admin.error)


def test_an_expert_settles_a_disagreement(world):
    a, (e0, e1, e2) = world["a"], world["experts"]
    set_review_settings(study_id=world["study"], user_id=None, review_share=1.0)
    submit_review(assignment_id=a[0], expert_id=e0, labels={"outcome": "correct", "help_quality": 4})
    submit_review(assignment_id=a[0], expert_id=e1, labels={"outcome": "incorrect", "help_quality": 4})
    at = run_page("reviews", e2, study=str(world["study"]))
    assert any("disagree on outcome" in c.value for c in at.caption)
    at.radio(key=f"adj-{a[0]}-outcome").set_value("correct")
    next(b for b in at.button if b.label == "Settle").click().run()
    assert not at.exception
    assert any("settled" in s.value for s in at.success)
    settled = final_labels(study_id=world["study"])[a[0]]
    assert (settled["outcome"].value, settled["outcome"].status) == ("correct", "adjudicated")


def test_the_empty_study_says_nothing_is_finished(study):
    from oversight.access import auth

    expert = auth.create_user(role="expert", name="eve", password="long enough").id
    at = run_page("reviews", expert, study=str(study.id))
    assert any("no finished assignments" in i.value for i in at.info)


def test_an_admin_edits_the_rubric_as_a_form(world):
    """Issue 18: the rubric was a raw JSON text area. Its fields are inputs (name, question, type, level, choices in
    order, about the model), checked by the domain's rules (rubrics.check_fields, as `rubric set`)."""
    from oversight.sandwiching.rubrics import DEFAULT_FIELDS, current_rubric

    at = run_page("reviews", world["admin"], study=str(world["study"]))
    assert not at.exception and not [t for t in at.text_area if t.key == "rubric-fields"]  # no JSON
    n = len(DEFAULT_FIELDS)
    assert at.text_input(key="rubric-v1-0-name").value == "outcome"
    assert at.text_area(key="rubric-v1-1-choices").value == "1\n2\n3\n4\n5"  # help_quality, in order
    assert at.selectbox(key="rubric-v1-1-level").value == "ordinal"
    assert at.checkbox(key="rubric-v1-1-about").value is True
    # A new ordinal field with a single choice: refused with the field named, nothing saved.
    at.text_input(key=f"rubric-v1-{n}-name").input("effort")
    at.text_input(key=f"rubric-v1-{n}-label").input("Participant effort")
    at.selectbox(key=f"rubric-v1-{n}-level").set_value("ordinal")
    at.text_area(key=f"rubric-v1-{n}-choices").input("low")
    at.text_input(key="rubric-reason-v1").input("effort matters")
    next(b for b in at.button if b.label == "Save new version").click().run()
    assert any("effort" in e.value and "at least two different" in e.value for e in at.error)
    assert current_rubric(world["study"]).version == 1
    # Fixed; and the bias flag removed.
    at.text_area(key=f"rubric-v1-{n}-choices").input("low\nmedium\nhigh")
    at.checkbox(key=f"rubric-v1-{n - 1}-remove").check()
    next(b for b in at.button if b.label == "Save new version").click().run()
    assert not at.exception and any("Rubric v2 saved" in s.value for s in at.success)
    fields = current_rubric(world["study"]).fields
    assert [f["name"] for f in fields] == [f["name"] for f in DEFAULT_FIELDS[:-1]] + ["effort"]
    assert fields[-1] == {"name": "effort", "label": "Participant effort", "kind": "choice", "choices": ["low", "medium", "high"],
                          "level": "ordinal", "about_model": False}
    assert any("rubric v2" in c.value for c in at.caption)  # the form now asks for the new field too
    assert at.text_input(key=f"rubric-v2-{n - 1}-name").value == "effort"  # the editor starts from v2
    # An ordinal field's order is kept across versions, as the CLI keeps it.
    at.text_area(key=f"rubric-v2-{n - 1}-choices").input("high\nmedium\nlow")
    at.text_input(key="rubric-reason-v2").input("reverse")
    next(b for b in at.button if b.label == "Save new version").click().run()
    assert any("keeps the order of its levels" in e.value for e in at.error), [e.value for e in at.error]


def test_blind_review_keeps_versions_and_people_from_experts_on_every_page(world):
    from oversight.protocols import strategies
    from oversight.protocols import live
    from storage.models import Assignment

    with session_scope(write=False) as s:
        item_id = s.get(Assignment, world["a"][1]).item_id
    sid = strategies.create_strategy(study_id=world["study"], name="Visible debate", protocol="consultancy").id
    tid = live.start_transcript(item_id=item_id, strategy_id=sid)
    live.add_speech(transcript_id=tid, round_=1, role="consultant", text="The sky is blue, the text says.")
    live.submit_report(transcript_id=tid, round_=1, display_probabilities=[0.6, 0.4], note="Why blue?",
                       judge_id=world["people"][0], judge_name="Pat Participant")
    expert = world["experts"][0]
    results = run_page("results", expert, study=str(world["study"]))
    assert any("expert review is blind" in i.value for i in results.info) and not results.tabs
    viewer = run_page("transcripts", expert, study=str(world["study"]), transcript=str(tid))
    shown = " ".join(e.value for kind in (viewer.text, viewer.markdown, viewer.caption) for e in kind)
    assert "The sky is blue" in shown  # the transcript itself is there
    assert "Visible debate" not in shown and "Pat Participant" not in shown
    set_review_settings(study_id=world["study"], user_id=None, blind_review=False)
    viewer = run_page("transcripts", expert, study=str(world["study"]), transcript=str(tid))
    shown = " ".join(e.value for kind in (viewer.text, viewer.markdown, viewer.caption) for e in kind)
    assert "Visible debate" in shown and "Pat Participant" in shown


def test_the_agreement_tab_shows_intervals_and_the_kind_of_kappa(world):
    """Three assignments reviewed by the same two experts: Cohen's kappa, with the interval columns beside alpha
    and kappa and the bootstrap named."""
    for aid, second in zip(world["a"][:3], ("correct", "incorrect", "correct")):
        submit_review(assignment_id=aid, expert_id=world["experts"][0], labels=GOOD)
        submit_review(assignment_id=aid, expert_id=world["experts"][1], labels={**GOOD, "outcome": second})
    at = run_page("reviews", world["admin"], study=str(world["study"]))
    assert not at.exception
    table = next(d.value for d in at.dataframe if "alpha 95% CI" in d.value.columns)
    assert {"kappa 95% CI", "kappa kind", "experts"} <= set(table.columns)
    outcome = table[table.field == "outcome"].iloc[0]
    assert outcome["kappa kind"] == "Cohen's kappa" and outcome["experts"] == 2 and outcome["n"] == 3
    assert any("bootstrap over the double-reviewed assignments" in c.value for c in at.caption)


def test_an_empty_queue_says_every_participant_was_excluded(study):
    """Issue 18: the queue said "Nothing left for you to review" when every participant was auto-excluded."""
    from oversight.study.attention import set_override
    from tests import factories

    sid = study.id
    expert = factories.expert("eve")
    alone = factories.condition(sid, "Alone", "alone")
    items = factories.items(sid, 3)
    people = factories.participants(sid, 3)
    for k, p in enumerate(people):
        factories.answered(sid, p, items[k], condition_id=alone, answer=0)
        set_override(study_id=sid, participant_id=p, decision="exclude")
    at = run_page("reviews", expert, study=str(sid))
    assert not at.exception
    [info] = [i.value.replace("\\", "") for i in at.info if "finished" in i.value]
    assert "Nothing left for you" not in info
    assert "all 3 finished assignments" in info and "3 people excluded" in info and "Monitor" in info


def test_a_review_typed_while_another_expert_reviews_the_same_assignment_is_kept(world):
    """Two experts on one assignment: the second submits after the first's review has taken it out of their
    queue. Their review is stored (a second review), not dropped by a rerun onto the next assignment's form."""
    a = world["a"]
    at = run_page("reviews", world["experts"][0], study=str(world["study"]))
    assert "Question 0?" in _texts(at)
    submit_review(assignment_id=a[0], expert_id=world["experts"][1], labels=GOOD)  # meanwhile, in another tab
    at.radio(key=f"rq-{a[0]}-outcome").set_value("incorrect")
    next(b for b in at.button if b.label == "Submit review").click().run()
    assert not at.exception
    assert any(f"assignment #{a[0]} saved" in s.value for s in at.success)
    with session_scope(write=False) as s:
        mine = s.query(ExpertReview).filter(ExpertReview.expert_id == world["experts"][0]).all()
    assert [(r.assignment_id, r.labels["outcome"]) for r in mine] == [(a[0], "incorrect")]


def test_an_expert_who_has_not_answered_chooses_before_seeing_the_gold(world):
    """In a study with an expert condition, an expert not yet dealt its items sees no gold until they answer or
    choose to review without answering (then they are never dealt the items)."""
    from storage.models import Condition

    with session_scope() as s:
        s.add(Condition(study_id=world["study"], name="Experts", kind="expert"))
    at = run_page("reviews", world["experts"][0], study=str(world["study"]))
    assert not at.exception
    assert any("review without answering" in i.value for i in at.info)
    assert "✓ gold" not in _texts(at)
    next(b for b in at.button if b.label == "Review without answering").click().run()
    assert not at.exception
    assert "✓ gold" in _texts(at)
