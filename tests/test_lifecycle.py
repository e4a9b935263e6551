"""A study's lifecycle (oversight/study/lifecycle.py): duplicate copies the design and nothing of people; an archived
study refuses its links and every write; delete needs an export and the typed name, and removes every row of the
study and nothing else."""

from __future__ import annotations

import pytest
from sqlmodel import SQLModel, func, select

from oversight.access import auth
from oversight.db import session_scope
from oversight.protocols import strategies
from oversight.protocols.strategies import list_strategies
from oversight.results.export import export_study
from oversight.sandwiching import conditions, rubrics
from oversight.study import lifecycle, participation
from oversight.study.archive import StudyArchived
from oversight.study.launch import open_study, set_study_status
from oversight.study.studies import StudyError, get_study, list_studies, update_study
from storage.models import (
    Assignment, Condition, DesignPlace, EnrolmentCap, Event, ExpertReview, ImportBatch, Item, ItemGold, Job, Judgment,
    PaymentExport, Payout, ProlificCall, Proposal, QuestionnaireAnswer, Rubric, Strategy, Study, Transcript, Turn,
    User, VersionDecision,
)
from tests import factories


def _study(name: str = "Real study") -> int:
    """The dry-run tests' design: 4-option items, alone / assisted (v2 of a strategy) / experts, a rubric version,
    settings, an enrolment cap and a Prolific study id."""
    sid = factories.four_option_study(8, name=name, kinds=())
    v1 = strategies.create_strategy(study_id=sid, name="Assistant", protocol="assisted-qa", rules={"max_messages": 2})
    v2 = strategies.new_version(parent_id=v1.id, reason="more messages", rules={"max_messages": 3})
    conditions.add_condition(study_id=sid, kind="alone", name="Alone")
    conditions.add_condition(study_id=sid, kind="assisted", name="Assisted", strategy_id=v2.id)
    conditions.add_condition(study_id=sid, kind="expert", name="Experts")
    rubrics.new_rubric_version(study_id=sid, fields=rubrics.DEFAULT_FIELDS[:-1], reason="ours", user_id=None)
    update_study(study_id=sid, user_id=None, items_per_participant=4, design="between", base_pay=2.5,
                 review_share=0.5, prolific_study_id="abc123", instructions="Read carefully.")
    auth.set_enrolment_cap(study_id=sid, max_per_minute=5, max_total=40)
    return sid


def _people_and_answers(sid: int) -> dict:
    """Two participants who answered, an expert's review, a transcript with a turn, a questionnaire, a proposal, a
    design place, a payment with a payout and a Prolific call, a finished job, an import batch."""
    people = factories.participants(sid, 2)
    expert = factories.expert(f"expert-of-{sid}")
    with session_scope() as s:
        item_id = s.exec(select(Item.id).where(Item.study_id == sid).order_by(Item.id)).first()
        cond = s.exec(select(Condition).where(Condition.study_id == sid, Condition.kind == "assisted")).one()
        aid = factories.answered(sid, people[0], item_id, condition_id=cond.id, strategy_id=cond.strategy_id,
                                 answer=1, n_options=4, s=s)
        t = Transcript(study_id=sid, item_id=item_id, assignment_id=aid, protocol="assisted-qa",
                       strategy_id=cond.strategy_id)
        s.add(t)
        s.flush()
        s.add(Turn(transcript_id=t.id, position=0, role="assistant", text="Hello"))
        s.add(QuestionnaireAnswer(study_id=sid, user_id=people[0], condition_id=cond.id, strategy_id=cond.strategy_id))
        s.add(Proposal(study_id=sid, user_id=people[0], strategy_id=cond.strategy_id, text="be brief"))
        s.add(DesignPlace(study_id=sid, user_id=people[0], role="participant", slot=0))
        export = PaymentExport(study_id=sid, total=2.5, lines=1)
        s.add(export)
        s.flush()
        s.add(Payout(export_id=export.id, study_id=sid, user_id=people[0], kind="base", amount=2.5))
        s.add(ProlificCall(study_id=sid, export_id=export.id, user_id=people[0], action="approve",
                           key=f"approve:{sid}"))
        s.add(Job(kind="model_condition", study_id=sid, state="done"))
        s.add(ImportBatch(study_id=sid, format="jsonl", source="items.jsonl"))
    factories.review(sid, expert, aid, outcome="correct")
    return {"people": people, "expert": expert, "assignment": aid}


def _rows() -> dict[str, set]:
    """Every row of every table but the audit log and the cache's version row, as tuples of its values."""
    with session_scope(write=False) as s:
        return {table.name: {tuple(map(repr, row)) for row in s.connection().execute(table.select())}
                for table in SQLModel.metadata.sorted_tables if table.name not in ("event", "contentversion")}


# --- duplicate -----------------------------------------------------------------------------------------------------

def test_duplicate_copies_the_design_and_nothing_of_people(db):
    sid = _study()
    _people_and_answers(sid)
    auth.open_enrolment(study_id=sid)
    admin = auth.create_user(role="admin", name="ada", password="long enough").id
    dup = lifecycle.duplicate_study(study_id=sid, user_id=admin)
    with session_scope(write=False) as s:
        original, copy = s.get(Study, sid), s.get(Study, dup)
        assert copy.name == "Real study (copy)" and copy.status == "draft" and copy.dry_run_of is None
        assert copy.enrol_token_hash is None and copy.exported_at is None and copy.created_by == admin
        assert copy.prolific_study_id is None and copy.completion_code and copy.completion_code != original.completion_code
        for key in ("design", "items_per_participant", "practice_items", "catch_items", "base_pay", "review_share",
                    "allocation", "instructions", "consent_text", "convergence", "bonus_rule"):
            assert getattr(copy, key) == getattr(original, key), key
        # Items with their gold answers: the copy can deal.
        items = s.exec(select(Item, ItemGold).join(ItemGold, ItemGold.item_id == Item.id)
                       .where(Item.study_id == dup)).all()
        assert sorted((i.external_id, i.question, i.split, g.gold_index) for i, g in items) == sorted(
            (i.external_id, i.question, i.split, g.gold_index) for i, g in s.exec(
                select(Item, ItemGold).join(ItemGold, ItemGold.item_id == Item.id).where(Item.study_id == sid)).all())
        versions = s.exec(select(Strategy).where(Strategy.study_id == dup).order_by(Strategy.version)).all()
        assert [(v.version, v.rules["max_messages"]) for v in versions] == [(1, 2), (2, 3)]
        assisted = s.exec(select(Condition).where(Condition.study_id == dup, Condition.kind == "assisted")).one()
        assert assisted.strategy_id == versions[1].id  # its own copy of the version the original's condition uses
        assert sorted(c.name for c in s.exec(select(Condition).where(Condition.study_id == dup)).all()) == \
            ["Alone", "Assisted", "Experts"]
        assert [r.reason for r in s.exec(select(Rubric).where(Rubric.study_id == dup)
                                         .order_by(Rubric.version)).all()] == ["default rubric", "ours"]
        cap = s.get(EnrolmentCap, dup)
        assert (cap.max_per_minute, cap.max_total) == (5, 40)
        # Nothing of people, their work, reviews or payments.
        for table in (User, Assignment, DesignPlace, Transcript, ExpertReview, QuestionnaireAnswer, Proposal,
                      PaymentExport, Payout, ProlificCall, Job, ImportBatch):
            assert s.exec(select(func.count()).select_from(table).where(table.study_id == dup)).one() == 0, table
        assert s.exec(select(func.count()).select_from(Judgment).join(Item, Item.id == Judgment.item_id)
                      .where(Item.study_id == dup)).one() == 0
        event = s.exec(select(Event).where(Event.kind == "study.duplicate")).one()
        assert (event.study_id, event.user_id, event.detail["copy_of"]) == (dup, admin, sid)


def test_a_duplicate_opens_and_deals(db):
    sid = _study()
    dup = lifecycle.duplicate_study(study_id=sid, user_id=None)
    open_study(study_id=dup, user_id=None)
    person = factories.participants(dup, 1)[0]
    participation.record_consent(user_id=person)
    task = participation.next_task(user_id=person)
    assert task is not None and get_study(dup).status == "open"


# --- archive -------------------------------------------------------------------------------------------------------

def test_an_archived_study_is_hidden_refuses_its_links_and_every_write(db):
    sid = _study()
    open_study(study_id=sid, user_id=None)
    invite = auth.create_invites(study_id=sid, count=1)[0]
    token = invite.link.split("t=")[1]
    enrol = auth.open_enrolment(study_id=sid).split("enrol=")[1].split("&")[0]
    assert auth.participant_for_token(token).id == invite.user_id
    participation.record_consent(user_id=invite.user_id)
    task = participation.next_task(user_id=invite.user_id)

    lifecycle.archive_study(study_id=sid, user_id=None)
    assert get_study(sid).status == "archived"
    assert sid not in [s.id for s in list_studies()] and sid in [s.id for s in list_studies(include_archived=True)]
    with pytest.raises(auth.AuthError, match="archived"):
        auth.participant_for_token(token)
    with pytest.raises(auth.AuthError, match="not valid|archived"):  # the link itself was dropped
        auth.enrol(enrol_token=enrol, external_id="P1")
    with pytest.raises(participation.ParticipationError, match="archived"):
        participation.submit_answer(user_id=invite.user_id, assignment_id=task.assignment_id,
                                    probabilities=[1, 0, 0, 0])
    strategy = list_strategies(study_id=sid)[0]
    condition = conditions.list_conditions(study_id=sid)[0]
    refused = [
        lambda: update_study(study_id=sid, user_id=None, name="New name"),
        lambda: open_study(study_id=sid, user_id=None),
        lambda: set_study_status(study_id=sid, status="closed", user_id=None),
        lambda: conditions.add_condition(study_id=sid, kind="alone", name="Alone 2"),
        lambda: conditions.rename_condition(condition_id=condition.id, name="Renamed"),
        lambda: conditions.remove_condition(condition_id=condition.id),
        lambda: strategies.create_strategy(study_id=sid, name="Other", protocol="assisted-qa"),
        lambda: strategies.new_version(parent_id=strategy.id, reason="r", rules={"max_messages": 5}),
        lambda: rubrics.new_rubric_version(study_id=sid, fields=rubrics.DEFAULT_FIELDS, reason="r", user_id=None),
    ]
    for write in refused:
        with pytest.raises(StudyArchived, match="archived"):
            write()
    with pytest.raises(auth.AuthError, match="archived"):
        auth.create_invites(study_id=sid, count=1)
    with pytest.raises(auth.AuthError, match="archived"):
        auth.open_enrolment(study_id=sid)
    assert get_study(sid).name == "Real study"
    with pytest.raises(StudyError, match="archived already"):
        lifecycle.archive_study(study_id=sid, user_id=None)

    assert lifecycle.unarchive_study(study_id=sid, user_id=None) == "closed"  # reopens only through the launch check
    update_study(study_id=sid, user_id=None, name="Writable again")
    kinds = [e.kind for e in _events(sid)]
    assert "study.archive" in kinds and "study.unarchive" in kinds


def test_an_archived_draft_comes_back_a_draft(db):
    sid = _study()
    lifecycle.archive_study(study_id=sid, user_id=None)
    assert lifecycle.unarchive_study(study_id=sid, user_id=None) == "draft"


def _events(sid: int) -> list[Event]:
    with session_scope(write=False) as s:
        return list(s.exec(select(Event).where(Event.study_id == sid).order_by(Event.id)).all())


# --- delete --------------------------------------------------------------------------------------------------------

def test_delete_is_refused_without_an_export_and_with_a_wrong_name(db, tmp_path):
    sid = _study()
    _people_and_answers(sid)
    with pytest.raises(StudyError, match="export the study first"):
        lifecycle.delete_study(study_id=sid, confirm_name="Real study", user_id=None)
    export_study(study_id=sid, out_dir=tmp_path / "export")
    assert get_study(sid).exported_at is not None
    for wrong in ("real study", "Real study ", "Real", ""):
        with pytest.raises(StudyError, match="type the study's name exactly"):
            lifecycle.delete_study(study_id=sid, confirm_name=wrong, user_id=None)
    factories.participants(sid, 1)  # new data after the export: export again first
    with pytest.raises(StudyError, match="new data since its last export"):
        lifecycle.delete_study(study_id=sid, confirm_name="Real study", user_id=None)
    assert get_study(sid) is not None


def test_delete_of_an_open_study_is_refused(db, tmp_path):
    sid = _study()
    open_study(study_id=sid, user_id=None)
    export_study(study_id=sid, out_dir=tmp_path / "export")
    with pytest.raises(StudyError, match="close or archive"):
        lifecycle.delete_study(study_id=sid, confirm_name="Real study", user_id=None)


def test_delete_removes_every_row_of_the_study_and_nothing_of_another(db, tmp_path):
    other = _study("Other study")
    _people_and_answers(other)
    before = _rows()

    sid = _study()
    made = _people_and_answers(sid)
    dry = lifecycle.duplicate_study(study_id=sid, user_id=None)  # a study of its own: it stays
    lifecycle.archive_study(study_id=sid, user_id=None)
    export_study(study_id=sid, out_dir=tmp_path / "export")
    admin = auth.create_user(role="admin", name="ada", password="long enough").id
    counts = lifecycle.delete_study(study_id=sid, confirm_name="Real study", user_id=admin)
    assert counts["study"] == 1 and counts["user"] == 2 and counts["judgment"] == 1

    after = _rows()
    with session_scope(write=False) as s:
        # Only what was made after the first snapshot and is no part of the deleted study remains new: the
        # duplicate's rows, the expert and admin accounts.
        assert get_study(dry) is not None
        kept_new = {name: after[name] - before[name] for name in after if after[name] - before[name]}
        assert set(kept_new) <= {"study", "item", "itemgold", "strategy", "condition", "rubric", "user",
                                 "enrolmentcap"}, kept_new
        assert s.exec(select(func.count()).select_from(User).where(User.study_id == sid)).one() == 0
        assert s.get(User, made["expert"]) is not None  # staff stay
        assert s.get(Study, sid) is None
        # Nothing of the other study (or anything that existed before) went.
        for name in before:
            assert before[name] <= after[name], name
        # The audit log survives: the study's events keep its id in their detail, and the deletion is recorded.
        deleted = s.exec(select(Event).where(Event.kind == "study.delete")).one()
        assert deleted.user_id == admin and deleted.detail["deleted_study_id"] == sid
        assert deleted.detail["name"] == "Real study"
        archived = s.exec(select(Event).where(Event.kind == "study.archive")).one()
        assert archived.study_id is None and archived.detail["deleted_study_id"] == sid
