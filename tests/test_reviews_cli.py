"""`python -m oversight reviews …` and `rubric …`: the queue, a review, agreement, settings, rubric versions."""

from __future__ import annotations

import json

import pytest

from oversight.sandwiching.reviews import submit_review
from oversight.sandwiching.rubrics import DEFAULT_FIELDS, current_rubric
from tests.factories import GOOD, world  # noqa: F401 (a fixture)
from tests.test_cli import cli_here  # noqa: F401 (a fixture)


@pytest.mark.slow
def test_queue_submit_settings_and_agreement(world, cli_here):
    study, a = str(world["study"]), world["a"]
    queue = json.loads(cli_here("reviews", "queue", "--study", study, "--expert", "expert0", "--json").stdout)
    assert [q["assignment_id"] for q in queue] == a[:4] and queue[0]["strategy"] is None  # blind
    bad = cli_here("reviews", "submit", "--assignment", str(a[0]), "--expert", "expert0", "--labels",
                   '{"outcome": "perhaps", "help_quality": 3}', ok=False)
    assert bad.returncode == 1 and "got 'perhaps'" in bad.stderr
    cli_here("reviews", "submit", "--assignment", str(a[0]), "--expert", "expert0", "--labels",
             '{"outcome": "correct", "help_quality": 3}')
    again = cli_here("reviews", "submit", "--assignment", str(a[0]), "--expert", "expert0", "--labels",
                     '{"outcome": "correct", "help_quality": 3}', ok=False)
    assert "already reviewed this" in again.stderr
    settings = json.loads(cli_here("reviews", "settings", "--study", study, "--share", "1", "--no-blind",
                                   "--json").stdout)
    assert settings == {"review_share": 1.0, "blind_review": False, "changed": ["review_share", "blind_review"]}
    submit_review(assignment_id=a[0], expert_id=world["experts"][1], labels={**GOOD, "bias": True})
    result = json.loads(cli_here("reviews", "agreement", "--study", study, "--json").stdout)
    by = {f["name"]: f for f in result["fields"]}
    assert result["n_double"] == 1 and by["bias"]["open"] == 1.0 and by["outcome"]["unanimous"] == 1.0
    assert "undefined" in cli_here("reviews", "agreement", "--study", study).stdout
    nobody = cli_here("reviews", "queue", "--study", study, "--expert", "nobody", ok=False)
    assert "no expert or admin named 'nobody'" in nobody.stderr


@pytest.mark.slow
def test_rubric_show_and_set(world, cli_here, tmp_path):
    study = str(world["study"])
    shown = json.loads(cli_here("rubric", "show", "--study", study, "--json").stdout)
    assert shown["version"] == 1 and [f["name"] for f in shown["fields"]][0] == "outcome"
    path = tmp_path / "fields.json"
    path.write_text(json.dumps(DEFAULT_FIELDS[:2]))
    out = json.loads(cli_here("rubric", "set", "--study", study, "--file", str(path), "--reason", "no flags",
                              "--json").stdout)
    assert out["version"] == 2 and current_rubric(world["study"]).version == 2
    same = cli_here("rubric", "set", "--study", study, "--file", str(path), "--reason", "again", ok=False)
    assert "nothing changed" in same.stderr
    stale = tmp_path / "stale.json"  # edited from version 1's `rubric show --json`, saved after version 2
    stale.write_text(json.dumps({**shown, "fields": DEFAULT_FIELDS[:3]}))
    assert "changed the rubric meanwhile" in cli_here("rubric", "set", "--study", study, "--file", str(stale),
                                                       "--reason", "late", ok=False).stderr
    path.write_text("{not json")
    assert "not valid JSON" in cli_here("rubric", "set", "--study", study, "--file", str(path), "--reason", "x",
                                        ok=False).stderr
