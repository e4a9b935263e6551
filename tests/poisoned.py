"""A study whose every piece of outside text (study, items, conditions, strategies, people, models) carries Markdown
and HTML that would fetch from a host if a page rendered it: `![x](…)` images, `<img src=…>` tags and
`[link](…)` links. The page tests render it and check nothing is live; the browser test points the host at a
listener and checks it hears nothing."""

from __future__ import annotations

import re

from oversight.access import auth
from oversight.db import session_scope
from oversight.protocols import strategies
from oversight.study.studies import create_study, update_study
from storage.models import Condition, ExpertReview, Item, Judgment, Proposal, Transcript, Turn, User
from tests.factories import answered, items


def payload(host: str) -> str:
    """What an attacker writes into any text field: an image, an HTML image and a link, all to `host`."""
    return (f"![x](http://{host}/md-image.png) <img src=\"http://{host}/html-image.png\"> "
            f"[link](http://{host}/link) <a href=\"http://{host}/a\">a</a>")


# Live Markdown or HTML: an image or link whose brackets are not escaped, an HTML tag that is not, or a bare address
# that GFM would make a link (escaping is not enough there: web.ui.escape_markdown puts a word joiner in "://").
LIVE = re.compile(r"(?<!\\)\]\((?!\\)|(?<!\\)<(img|a)\b|://")


def poisoned_study(host: str = "127.0.0.1:9") -> dict:
    """The study, its people and ids. Everything an outsider can write carries `payload(host)`."""
    bad = payload(host)

    def text(what: str) -> str:
        return f"{what} {bad}"

    sid = create_study(name=text("Study"), user_id=None, status="open").id
    update_study(study_id=sid, user_id=None, description=text("About"), instructions=text("Instructions"),
                 consent_text=text("Consent"), blind_review=False,
                 review_share=1.0)
    options = [text(f"Option {k}") for k in range(4)]
    item_ids = items(sid, 3, options=options, explanation=text("Explanation"), source_text=text("Source"),
                     source_title=text("Source title"))
    with session_scope() as s:
        for item_id in item_ids:
            s.get(Item, item_id).question = text("Question")
    assisted = strategies.create_strategy(study_id=sid, name=text("Strategy"), protocol="assisted-qa")
    with session_scope() as s:
        alone = Condition(study_id=sid, name=text("Alone"), kind="alone", position=0)
        helped = Condition(study_id=sid, name=text("Assisted"), kind="assisted", strategy_id=assisted.id, position=1)
        s.add_all([alone, helped])
        s.flush()
        conditions = {"alone": alone.id, "assisted": helped.id}
    people = [i.user_id for i in auth.create_invites(study_id=sid, count=2)]
    with session_scope() as s:
        for uid in people:
            s.get(User, uid).external_id = text("PID")
    expert = auth.create_user(role="expert", name=text("Expert"), password="long enough").id
    admin = auth.create_user(role="admin", name=text("Admin"), password="long enough").id
    # Reviewed twice, the reviews disagreeing (the Adjudication tab shows it); the second one waits in the queue.
    reviewed = answered(sid, people[1], item_ids[1], condition_id=conditions["alone"], answer=2, n_options=4,
                        rationale=text("Rationale"))
    done = answered(sid, people[0], item_ids[0], condition_id=conditions["assisted"], strategy_id=assisted.id,
                    answer=1, n_options=4, rationale=text("Rationale"))
    second = auth.create_user(role="expert", name=text("Second expert"), password="long enough").id
    with session_scope() as s:
        t = Transcript(study_id=sid, item_id=item_ids[0], assignment_id=done, strategy_id=assisted.id,
                       protocol="assisted-qa", status="complete", tags=[text("tag")],
                       meta={"order": [0, 1, 2, 3]})
        s.add(t)
        s.flush()
        s.add_all([
            Turn(transcript_id=t.id, position=0, slot="1:participant", round=1, role="participant",
                 speaker=text("Speaker"), text=text("Chat")),
            Turn(transcript_id=t.id, position=1, slot="1:assistant", round=1, role="assistant",
                 speaker=text("Assistant label"), text=text("Speech"), model=text("model")),
        ])
        s.exec(Judgment.__table__.update().where(Judgment.assignment_id == done).values(transcript_id=t.id))
        for who, outcome in ((expert, "correct"), (second, "incorrect")):
            s.add(ExpertReview(study_id=sid, expert_id=who, assignment_id=reviewed, kind="review",
                               labels={"outcome": outcome}, notes=text("Review notes")))
        s.add(Proposal(study_id=sid, user_id=people[0], strategy_id=assisted.id, text=text("Proposal"),
                       reason=text("Reason")))
        transcript_id = t.id
    return {"study": sid, "items": item_ids, "participants": people, "expert": expert, "admin": admin,
            "transcript": transcript_id, "assignment": done, "conditions": conditions, "strategy": assisted.id,
            "payload": bad}
