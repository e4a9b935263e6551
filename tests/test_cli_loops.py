"""`python -m oversight proposals ...` and `versions ...` on the test's database (in-process `main`)."""

from __future__ import annotations

import json

from sqlmodel import select

from oversight.cli import main
from oversight.db import session_scope
from oversight.sandwiching.inner_loop import propose
from storage.models import Condition, Proposal, Strategy
from tests import factories


def run(capsys, *argv: str) -> tuple[int, object, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, (json.loads(out) if "--json" in argv and code == 0 else out), err


def test_proposals_and_versions_from_the_command_line(study, capsys):
    items = factories.items(study.id, 2)
    v1 = factories.assisted_strategy(study.id)
    cond = factories.condition(study.id, "assisted", "assisted", v1)
    ann, bob = factories.participants(study.id, 2)
    a = factories.answered(study.id, ann, items[0], condition_id=cond, strategy_id=v1, answer=0)
    factories.answered(study.id, bob, items[0], condition_id=cond, strategy_id=v1, answer=0)
    review = factories.review(study.id, factories.expert(), a, outcome="correct")
    keep = propose(ann, v1, "questioning_tips", "Ask for quotes.", "Quotes helped")
    drop = propose(bob, v1, "assistant_instructions", "Be rude.", "Fun")

    code, listed, _ = run(capsys, "proposals", "list", "--study", str(study.id), "--status", "open", "--json")
    assert code == 0 and [p["id"] for p in listed] == [drop, keep]
    code, accepted, _ = run(capsys, "proposals", "accept", str(keep), "--json")
    assert code == 0 and accepted["version"] == 2
    v2 = accepted["strategy_id"]
    assert run(capsys, "proposals", "decline", str(drop))[0] == 0
    code, _, err = run(capsys, "proposals", "accept", str(drop))
    assert code == 1 and "already declined" in err
    with session_scope() as s:
        assert [p.status for p in s.exec(select(Proposal).order_by(Proposal.id)).all()] == ["accepted", "declined"]
        assert s.get(Strategy, v2).rules["participant_tips"] == "Ask for quotes."

    code, status, _ = run(capsys, "versions", "status", "--study", str(study.id), "--json")
    by = {r["strategy_id"]: r for r in status}
    assert by[v1]["expert_success"]["n"] == 1 and by[v1]["accuracy"]["hits"] == 2
    assert by[v1]["convergence"]["n_participants"] == 2 and by[v2]["status"] == "candidate"

    code, _, err = run(capsys, "versions", "promote", str(v2), "--rationale", "tips help", "--reviews", "x")
    assert code == 1 and "--reviews" in err
    code, _, err = run(capsys, "versions", "promote", str(v2), "--rationale", "tips help", "--reviews", "999")
    assert code == 1 and "not reviews of this study" in err
    code, out, _ = run(capsys, "versions", "promote", str(v2), "--rationale", "tips help", "--reviews", str(review))
    assert code == 0 and "assisted" in out
    with session_scope() as s:
        assert s.get(Condition, cond).strategy_id == v2

    code, now, _ = run(capsys, "versions", "thresholds", "--study", str(study.id), "--min-participants", "2",
                       "--json")
    assert code == 0 and now["min_participants"] == 2
    code, _, err = run(capsys, "versions", "thresholds", "--study", str(study.id), "--min-agreement", "2")
    assert code == 1 and "from 0 to 1" in err
