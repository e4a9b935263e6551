"""The one check every write to a study's design makes: an archived study is read-only.

A leaf module (it imports only storage), so the modules that change a study (studies, launch, conditions, rubrics,
strategies) can all use it without an import circle. Archiving itself lives in oversight/study/lifecycle.py.
"""

from __future__ import annotations

from storage.models import Study

ARCHIVED = "archived"


class StudyArchived(Exception):
    """A change to an archived study; the message is safe to show."""


def refuse_if_archived(s, study_id: int | None) -> None:
    """Raise StudyArchived when the study is archived (an unknown study is left to the caller's own check)."""
    if study_id is None:
        return
    study = s.get(Study, study_id)
    if study is not None and study.status == ARCHIVED:
        raise StudyArchived(f"study #{study_id} ({study.name}) is archived, so it is read-only: unarchive it on the "
                            "Studies page to change it")
