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
