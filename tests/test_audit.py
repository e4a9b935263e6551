"""The history of a study's settings, as the Study settings page lists it."""

from __future__ import annotations

from oversight.audit import setting_changes
from oversight.access.auth import create_user
from oversight.study.studies import update_study


def test_setting_changes_say_who_changed_what_from_what_newest_first(study):
    admin = create_user(name="ada", role="admin", password="a-long-password")
    update_study(study_id=study.id, user_id=admin.id, base_pay=2.5, completion_url="https://example.org/done?cc={code}")
    update_study(study_id=study.id, user_id=None, base_pay=3, convergence={"min_participants": 5})
    rows = [(r["by"], r["setting"], r["old"], r["new"]) for r in setting_changes(study_id=study.id)]
    assert rows == [("command line", "convergence", "{}", '{"min_participants": 5}'),
                    ("command line", "base pay", "2.5", "3.0"),
                    ("ada", "completion url", "", "https://example.org/done?cc={code}"),
                    ("ada", "base pay", "0.0", "2.5")]
