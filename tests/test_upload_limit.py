"""Uploads (issue 18): the uploader's limit is the import limit (one bound: .streamlit/config.toml's
server.maxUploadSize agrees with oversight/importers/bounds.py's setting), and an uploaded file's import is named by
the file, never by the temporary folder it was written to."""

from __future__ import annotations

import json
import tomllib

from oversight.importers import import_upload
from oversight.importers.bounds import size_text
from oversight.settings import Settings
from tests.pages.apptest import REPO


def test_the_uploader_limit_is_the_import_limit():
    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    bound = Settings.model_fields["import_max_bytes"].default
    assert config["server"]["maxUploadSize"] * 2**20 == bound  # Streamlit counts MiB, as size_text does
    assert size_text(bound) == f"{config['server']['maxUploadSize']} MB"


def test_an_uploaded_file_is_named_by_its_own_name(study):
    data = "".join(json.dumps({"id": f"q{k}", "question": f"Q{k}?", "options": ["a", "b"], "gold": 0}) + "\n"
                   for k in range(2)).encode()
    summary = import_upload(study_id=study.id, fmt="jsonl", filename="my questions.jsonl", data=data)
    assert summary.source == "my questions.jsonl"
    assert str(summary).endswith("from my questions.jsonl in " + f"{summary.seconds:.1f} s.")
    from oversight.db import session_scope
    from storage.models import ImportBatch

    with session_scope(write=False) as s:
        assert s.get(ImportBatch, summary.import_id).source == "my questions.jsonl"
