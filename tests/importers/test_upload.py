"""Uploads from the Items page: plain files, zipped folders, and zips that must be refused."""

from __future__ import annotations

import io
import zipfile

import pytest

from oversight.importers import ImportFailed, import_upload
from oversight.study.studies import count_items


def zipped(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return buf.getvalue()


def test_a_csv_upload_lands_and_errors_name_the_uploaded_file(study):
    good = b"question,options,gold\nWhich is red?,apple|sky,0\n"
    assert import_upload(study_id=study.id, fmt="csv", filename="mine.csv", data=good).n_items == 1
    with pytest.raises(ImportFailed, match=r"^bad\.csv line 2, field 'gold'"):
        import_upload(study_id=study.id, fmt="csv", filename="bad.csv", data=b"question,options,gold\nQ?,a|b,9\n")
    assert count_items(study_id=study.id) == 1


def test_a_zipped_mmlu_folder_is_unpacked(study):
    data = zipped({"mmlu/dev/astronomy_dev.csv": "What orbits Earth?,Moon,Mars,Sun,Venus,A\n",
                   "mmlu/val/astronomy_val.csv": "Closest star?,Sirius,Sun,Vega,Rigel,B\n"})
    assert import_upload(study_id=study.id, fmt="mmlu", filename="mmlu.zip", data=data).n_items == 2


def test_bad_and_unsafe_zips_land_nothing(study):
    with pytest.raises(ImportFailed, match="not a valid zip"):
        import_upload(study_id=study.id, fmt="mmlu", filename="broken.zip", data=b"not a zip")
    with pytest.raises(ImportFailed, match="unsafe path"):
        import_upload(study_id=study.id, fmt="mmlu", filename="evil.zip",
                      data=zipped({"../escape/astronomy_dev.csv": "Q?,a,b,c,d,A\n"}))
    assert count_items(study_id=study.id) == 0
