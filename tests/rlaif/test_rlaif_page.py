"""The RLAIF page under AppTest: admin only, labeller versions from the form, agreement and bias figures,
disagreements shown as plain text."""

from __future__ import annotations

import json

import pytest

from oversight.access import auth
from oversight.importers import import_path
from oversight.rlaif.config import create_labeller, list_labellers
from oversight.rlaif.store import label_study
from tests.pages.apptest import run_page

MARKUP = "<b>bold</b> **stars** [link](http://x) <script>alert(1)</script>"


@pytest.fixture
def lab_study(study, tmp_path, models):
    path = tmp_path / "pairs.jsonl"
    # The data set's label is wrong on purpose here (it prefers the harmful answer), so the AI disagrees with it.
    lines = [json.dumps({"chosen": f"\n\nHuman: q{i} {MARKUP}\n\nAssistant: Sure! {MARKUP} Hit them with a brick.",
                         "rejected": f"\n\nHuman: q{i} {MARKUP}\n\nAssistant: I won't help, that is harmful and illegal."})
             for i in range(8)]
    path.write_text("\n".join(lines) + "\n")
    import_path(study_id=study.id, fmt="hh-rlhf", path=path)
    v = create_labeller(name="harmless", model="extractive")
    label_study(study_id=study.id, labeller_id=v.id)
    return study


def test_only_admins_may_open_the_lab(study):
    participant = auth.create_invites(study_id=study.id, count=1)[0].user_id
    expert = auth.create_user(role="expert", name="eve", password="long enough").id
    for user_id in (participant, expert, None):
        at = run_page("rlaif", user_id, study=str(study.id))
        assert at.error and "not available to you" in at.error[0].value
        assert not at.dataframe and not at.button


def test_without_a_study_it_says_how_to_make_one(db):
    admin = auth.create_user(role="admin", name="ada", password="long enough").id
    at = run_page("rlaif", admin)
    assert not at.exception and [i.value for i in at.info] == ["No studies yet. Create one on the Studies page."]


def test_admin_sees_agreement_biases_and_plain_text_disagreements(lab_study):
    admin = auth.create_user(role="admin", name="ada", password="long enough").id
    at = run_page("rlaif", admin, study=str(lab_study.id))
    assert not at.exception
    table = next(df.value for df in at.dataframe if "source A" in df.value.columns)
    row = table.iloc[0]
    assert row["source A"] == "data set" and row["source B"].startswith("AI harmless v1") and row["n"] == 8
    assert len(at.get("plotly_chart")) == 1
    at.radio[0].set_value("data set").run()
    codes = [c.value for c in at.code]
    assert len(at.expander) == 8 and any(c.startswith("Sure! " + MARKUP) for c in codes)  # verbatim, as text
    assert all("<script>" not in m.value for m in at.markdown)


def test_a_new_labeller_version_from_the_form(lab_study):
    admin = auth.create_user(role="admin", name="ada", password="long enough").id
    at = run_page("rlaif", admin, study=str(lab_study.id))
    at.text_input(key="new-labeller-name").input("polite")
    at.text_area(key="new-labeller-constitution").input("Be polite.\nBe safe.")
    next(b for b in at.button if b.label == "Create labeller").click()
    at.run()
    assert not at.exception and any("Saved polite v1" in s.value for s in at.success)
    polite = [v for v in list_labellers() if v.name == "polite"][0]
    assert polite.constitution == ["Be polite.", "Be safe."] and polite.created_by == admin


def _plain(value: str) -> str:
    return value.replace("\\", "")


@pytest.fixture
def admin(db):
    return auth.create_user(role="admin", name="ada", password="long enough").id


def test_few_shot_examples_are_a_form_with_the_cli_rules(study, admin, models):
    """Few-shot examples were a raw JSON text area: now fields per example, added and removed with buttons, saved
    as the CLI's JSON file would be, and refused by the same rule (`check_few_shot`) when incomplete."""
    at = run_page("rlaif", admin, study=str(study.id))
    assert not [t for t in at.text_area if "JSON" in t.label]
    at.text_input(key="new-labeller-name").input("shots")
    at.button(key="new-labeller-shot-add").click().run()
    at.button(key="new-labeller-shot-add").click().run()
    assert len([t for t in at.text_area if t.label == "Conversation"]) == 2
    at.text_area(key="new-labeller-shot-0-conversation").input("Human: hi")
    at.text_area(key="new-labeller-shot-0-response_a").input("go away")
    at.text_area(key="new-labeller-shot-0-response_b").input("hello!")
    at.radio(key="new-labeller-shot-0-answer").set_value("B")
    at.button(key="new-labeller-save").click().run()
    # example 2 is empty: the config's own message, nothing saved
    assert [_plain(e.value) for e in at.error] == [
        "few-shot example 2 needs a non-empty conversation, response_a, response_b"]
    assert list_labellers() == []
    at.button(key="new-labeller-shot-1-remove").click().run()
    assert len([t for t in at.text_area if t.label == "Conversation"]) == 1
    at.button(key="new-labeller-save").click().run()
    assert not at.exception and not at.error
    [saved] = list_labellers()
    assert saved.options["few_shot"] == [{"conversation": "Human: hi", "response_a": "go away",
                                          "response_b": "hello!", "answer": "B"}]
    # a new version starts from the saved examples
    at = run_page("rlaif", admin, study=str(study.id))
    assert at.text_area(key=f"revise-{saved.id}-shot-0-response_b").value == "hello!"
    assert at.radio(key=f"revise-{saved.id}-shot-0-answer").value == "B"


def test_an_hh_file_is_uploaded_into_the_study(study, admin, models):
    from tests.rlaif.conftest import harmless_pairs

    at = run_page("rlaif", admin, study=str(study.id))
    at.file_uploader(key="rlaif-import-upload").set_value(
        ("harmless.jsonl", ("\n".join(harmless_pairs(5)) + "\n").encode(), "application/jsonl"))
    at.run()
    next(b for b in at.button if b.label == "Import pairs").click().run()
    assert not at.exception and not at.error
    assert any("5 preference pairs in this study" in c.value for c in at.caption)


def test_cleaning_an_hh_file_on_the_page_names_the_upload_and_imports_the_valid_lines(study, admin, models):
    """`rlaif clean` without the CLI: the refused lines name the uploaded file (never a temporary path), the
    cleaned file can be downloaded or imported into the study at once."""
    from tests.rlaif.conftest import harmless_pairs

    lines = harmless_pairs(4)
    lines.insert(2, '{"chosen": "no assistant turn", "rejected": "\\n\\nHuman: x\\n\\nAssistant: y"}')
    at = run_page("rlaif", admin, study=str(study.id))
    at.file_uploader(key="rlaif-clean-upload").set_value(
        ("red_team.jsonl", ("\n".join(lines) + "\n").encode(), "application/jsonl"))
    at.run()
    # a strict import of the same file is refused, naming the upload and its line
    at.file_uploader(key="rlaif-import-upload").set_value(
        ("red_team.jsonl", ("\n".join(lines) + "\n").encode(), "application/jsonl"))
    at.run()
    next(b for b in at.button if b.label == "Import pairs").click().run()
    assert [_plain(e.value) for e in at.error] == [
        "red_team.jsonl line 3, field 'chosen': has no final 'Assistant:' turn"]
    next(b for b in at.button if b.label == "Clean").click().run()
    assert not at.exception
    assert any("red_team.clean.jsonl: kept 4 pairs; left out 1 lines." in t.value for t in at.text)
    [refused] = [c.value for c in at.code if "left out" not in c.value]
    assert refused == "red_team.jsonl line 3, field 'chosen': has no final 'Assistant:' turn"
    assert "/tmp" not in refused and "oversight-clean" not in refused
    assert at.get("download_button")
    next(b for b in at.button if b.label.startswith("Import its 4 pairs")).click().run()
    assert not at.exception and not at.error
    assert any("4 preference pairs in this study" in c.value for c in at.caption)


def test_an_hh_upload_over_the_import_limit_is_refused_with_the_import_message(study, admin, models, monkeypatch):
    from oversight.settings import reset_settings

    monkeypatch.setenv("OVERSIGHT_IMPORT_MAX_BYTES", "1000")
    reset_settings()
    at = run_page("rlaif", admin, study=str(study.id))
    at.file_uploader(key="rlaif-clean-upload").set_value(("big.jsonl", b"x" * 2000, "application/jsonl"))
    at.run()
    next(b for b in at.button if b.label == "Clean").click().run()
    assert [_plain(e.value) for e in at.error] == [
        "big.jsonl: is larger than the import limit of 1 KB (setting OVERSIGHT_IMPORT_MAX_BYTES)"]
