"""Expert reviews: only staff review, verdicts and scores are checked."""

from __future__ import annotations

import pytest

from oversight import auth
from oversight.db import session_scope
from oversight.reviews import ReviewError, add_review, reviews_for
from storage.models import Item, Transcript


@pytest.fixture
def transcript(study):
    with session_scope() as s:
        item = Item(study_id=study.id, external_id="q", question="?", options=["a", "b"])
        s.add(item)
        s.flush()
        t = Transcript(study_id=study.id, item_id=item.id, setting="debate")
        s.add(t)
        s.flush()
        return t.id


def test_an_expert_review_is_stored_and_listed(transcript):
    expert = auth.create_user(role="expert", name="eve", password="long enough")
    add_review(transcript_id=transcript, expert_id=expert.id, verdict="item flawed", score=2, notes=" both wrong ")
    [review] = reviews_for(transcript_id=transcript)
    assert (review.expert, review.verdict, review.score, review.notes) == ("eve", "item flawed", 2, "both wrong")


def test_participants_and_bad_values_are_refused(transcript, study):
    participant = auth.create_invites(study_id=study.id, count=1)[0].user_id
    with pytest.raises(ReviewError, match="only experts"):
        add_review(transcript_id=transcript, expert_id=participant, verdict="unclear", score=None, notes="")
    expert = auth.create_user(role="expert", name="eve", password="long enough")
    with pytest.raises(ReviewError, match="verdict"):
        add_review(transcript_id=transcript, expert_id=expert.id, verdict="meh", score=None, notes="")
    with pytest.raises(ReviewError, match="1 to 5"):
        add_review(transcript_id=transcript, expert_id=expert.id, verdict="unclear", score=9, notes="")
    assert reviews_for(transcript_id=transcript) == []
