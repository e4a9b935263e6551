"""The Backup page: admins only; a backup made there while the app runs restores into an empty database."""

from __future__ import annotations

import pytest

from oversight.access import auth
from oversight.backup import restore, saved_backups
from tests.factories import four_option_study, participants
from tests.pages.apptest import run_page


@pytest.fixture
def people(db):
    sid = four_option_study(4, kinds=("alone",), status="open")
    return dict(study=sid, admin=auth.create_user(role="admin", name="boss", password="long enough").id,
                expert=auth.create_user(role="expert", name="eve", password="long enough").id,
                participant=participants(sid, 1)[0])


@pytest.mark.parametrize("who", ["participant", "expert", None])
def test_the_backup_page_refuses_everyone_but_admins(people, who):
    at = run_page("backup", people[who] if who else None)
    assert "not available to you" in at.error[0].value
    assert not at.button


def test_an_admin_makes_a_backup_and_can_download_it(people, tmp_path):
    at = run_page("backup", people["admin"])
    assert not at.exception and "No backup made here yet." in at.info[0].value
    at.button[0].click().run()
    assert not at.exception and not at.error
    [(path, size)] = saved_backups()
    assert size > 0
    at.button[1].click().run()  # "Download…" of that backup
    assert not at.exception and path.name in at.get("download_button")[0].proto.label
    result = restore(path=path, url=f"sqlite:///{tmp_path / 'restored.db'}")
    assert result["tables"]["item"] == 6 and result["tables"]["user"] == 3
