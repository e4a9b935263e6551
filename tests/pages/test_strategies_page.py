"""The strategies page under AppTest: build a strategy, version it with a reason, deal it to participants."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from oversight.access import auth
from oversight.protocols.strategies import list_strategies

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def admin(study):
    return auth.create_user(role="admin", name="ada", password="long enough").id


def page(admin_id: int, study_id: int) -> AppTest:
    at = AppTest.from_file(str(REPO / "views" / "strategies.py"), default_timeout=60)
    at.session_state["user_id"] = admin_id
    at.query_params["study"] = str(study_id)
    return at.run()


def test_build_version_and_deal_a_strategy(admin, study):
    at = page(admin, study.id)
    assert not at.exception
    at.text_input(key="new-name").input("Debate, 2 rounds")
    at.number_input(key="new-debate-rounds").set_value(2)
    at.selectbox(key="new-debate-speeches").set_value("sequential")
    at.checkbox(key="new-debate-judge_questions").check()
    next(b for b in at.button if b.label == "Save version 1").click()
    at.run()
    assert not at.exception and any("Saved Debate, 2 rounds v1" in s.value for s in at.success)
    [v1] = list_strategies(study_id=study.id)
    assert v1.protocol == "debate" and v1.rules["rounds"] == 2 and v1.rules["speeches"] == "sequential"
    assert v1.rules["judge_questions"] is True and v1.rules["char_limit"] == 750  # defaults are stored too

    # A new version needs a reason, and records its parent.
    at.number_input(key=f"ver-{v1.id}-debate-rounds").set_value(3)
    next(b for b in at.button if b.label == "Save as a new version").click()
    at.run()
    assert any("say why" in e.value for e in at.error)
    at.text_area(key=f"ver-reason-{v1.id}").input("Judges asked for a third round")
    next(b for b in at.button if b.label == "Save as a new version").click()
    at.run()
    v1_again, v2 = list_strategies(study_id=study.id)
    assert (v2.version, v2.parent_id, v2.rules["rounds"], v2.reason) == (2, v1.id, 3, "Judges asked for a third round")
    assert v1_again.rules["rounds"] == 2  # the old version never changes


def test_bad_rules_are_refused_with_the_field_named(admin, study):
    at = page(admin, study.id)
    at.text_input(key="new-name").input("Too many quotes")
    at.number_input(key="new-debate-char_limit").set_value(100)
    at.number_input(key="new-debate-quote_limit").set_value(500)
    next(b for b in at.button if b.label == "Save version 1").click()
    at.run()
    assert any(r"quote\_limit" in e.value for e in at.error)  # shown as text (Markdown escaped)
    assert list_strategies(study_id=study.id) == []


def test_the_form_shows_the_rules_of_the_chosen_protocol_and_its_prompts(admin, study):
    at = page(admin, study.id)
    at.selectbox(key="new-protocol").set_value("assisted-qa").run()
    keys = {w.key for w in (*at.number_input, *at.checkbox, *at.selectbox) if w.key}
    assert "new-assisted-qa-max_messages" in keys and "new-assisted-qa-answer_first" in keys
    assert not {"new-assisted-qa-rounds", "new-assisted-qa-speeches", "new-assisted-qa-quote_limit"} & keys
    assert "new-assisted-qa-critique_rounds" in keys  # Constitutional AI's loop applies to the assistant too
    at.text_input(key="new-name").input("Chat help")
    at.number_input(key="new-assisted-qa-max_messages").set_value(4)
    at.text_area(key="new-assisted-qa-ps-assistant").input("Answer in one sentence.")
    next(b for b in at.button if b.label == "Save version 1").click()
    at.run()
    assert not at.exception and any("Saved Chat help v1" in s.value for s in at.success)
    [row] = list_strategies(study_id=study.id)
    assert row.protocol == "assisted-qa" and row.rules["max_messages"] == 4
    assert row.prompts["assistant"]["system"] == "Answer in one sentence."
    assert set(row.prompts) == {"assistant", "judge", "questioner"} and "rounds" not in row.rules

    # A new version, and the Versions tab shows what it changed, field by field.
    at.number_input(key=f"ver-{row.id}-assisted-qa-max_messages").set_value(6)
    at.text_area(key=f"ver-reason-{row.id}").input("Participants ran out of messages")
    next(b for b in at.button if b.label == "Save as a new version").click()
    at.run()
    v2 = list_strategies(study_id=study.id)[-1]
    at.selectbox(key="show-version").set_value(v2.id).run()
    assert any(m.value.replace("\\", "") == "**Rule: Messages the participant may send**" for m in at.markdown)
    assert [c.value for c in at.code][:2] == ["4", "6"]  # before, after


@pytest.mark.slow
def test_an_ai_batch_run_starts_from_the_page_and_reports_its_accuracy(admin, study, worker):
    import time

    from oversight.protocols import strategies
    from oversight.db import session_scope
    from storage.models import Item, ItemGold

    with session_scope() as s:
        item = Item(study_id=study.id, external_id="q", question="Where was the key?", options=["flowerpot", "mailbox"],
                    source_text="The key was under the flowerpot.")
        s.add(item)
        s.flush()
        s.add(ItemGold(item_id=item.id, gold_index=0))
    row = strategies.create_strategy(study_id=study.id, name="alone", protocol="model-alone")
    at = page(admin, study.id)
    at.selectbox(key="run-sid").set_value(row.id)
    next(b for b in at.button if b.label == "Start run").click()
    at.run()
    deadline = time.monotonic() + 120
    while not any("items judged" in t.value for t in at.text):
        assert time.monotonic() < deadline, "the run never finished"
        time.sleep(0.5)
        at.run()
    assert any("1 items judged, accuracy 1.000, 0 errors" in t.value for t in at.text)


def test_a_version_shows_its_rules_by_label_with_units_and_readable_values(admin, study):
    """Issue 18: versions showed raw identifiers (`randomise_answer_order`, `True`, `None`)."""
    from oversight.protocols.strategies import create_strategy

    create_strategy(study_id=study.id, name="Timed help", protocol="assisted-qa",
                    rules={"total_time_limit_s": 600, "answer_first": False})
    at = page(admin, study.id)
    assert not at.exception
    rules = {r["rule"]: r["value"] for r in at.dataframe[1].value.to_dict("records")}
    assert rules["Randomise answer order"] == "Yes"
    assert rules["Answer first, then ask the model, then answer again"] == "No"
    assert rules["Total time (seconds)"] == "600 seconds (10 min)"
    assert rules["Guide time per judgment (seconds)"] == "none"
    assert rules["Time the source is shown (timed) (seconds)"] == "300 seconds (5 min)"
    assert rules["Scoring rule"] == "log"
    shown = " ".join(rules) + " ".join(rules.values())
    for raw in ("randomise_answer_order", "True", "None", "total_time_limit_s"):
        assert raw not in shown


def test_the_version_diff_shows_long_changed_values_whole(admin, study):
    """Issue 18: the diff cut both cells before the change; a long prompt changed at its end is shown whole,
    before and after, as wrapped text."""
    from oversight.protocols.strategies import create_strategy, new_version

    long = "You help a reader check an answer against the text. " * 12
    v1 = create_strategy(study_id=study.id, name="Wordy", protocol="assisted-qa",
                         prompts={"assistant": {"system": long + "Be brief."}})
    v2 = new_version(parent_id=v1.id, reason="tone", prompts={**v1.prompts,
                                                               "assistant": {**v1.prompts["assistant"],
                                                                             "system": long + "Be thorough."}},
                     rules={**v1.rules, "turn_time_limit_s": 90})
    at = page(admin, study.id)
    at.selectbox(key="show-version").set_value(v2.id).run()
    assert not at.exception
    heads = [h for h in (m.value.replace("\\", "") for m in at.markdown) if h.startswith(("**Rule:", "**Prompt for"))]
    assert heads == ["**Rule: Guide time per judgment (seconds)**", "**Prompt for the assistant: system prompt**"]
    codes = [c.value for c in at.code]
    assert codes[:4] == ["none", "90 seconds", long + "Be brief.", long + "Be thorough."]


def test_debater_strength_runs_a_cross_play_and_shows_ratings_with_the_chart(admin, study, monkeypatch):
    """The Debater strength tab: choose two debate versions, start, and read each one's rating and self-play
    accuracy (issue 19: Khan et al.'s figure on a page)."""
    from oversight import models
    from oversight.jobs import run_worker
    from oversight.models.config import ModelsConfig, ScriptedConfig
    from oversight.protocols import bots, strategies
    from oversight.db import session_scope
    from storage.models import Item, ItemGold
    from tests.test_crossplay import KeywordJudge

    models.configure(ModelsConfig(models={"strong": ScriptedConfig(name="strong", responses=["A STRONG case."]),
                                          "weak": ScriptedConfig(name="weak", responses=["A weak case."])},
                                  roles={r: "weak" for r in ("debater", "judge", "feedback")}))
    monkeypatch.setattr(bots, "model_for", lambda state, role: KeywordJudge())
    try:
        with session_scope() as s:
            for n in range(2):
                item = Item(study_id=study.id, external_id=f"q{n}", question="Where was the key?",
                            options=["flowerpot", "mailbox"], source_text="The key was under the flowerpot.")
                s.add(item)
                s.flush()
                s.add(ItemGold(item_id=item.id, gold_index=0))
        ids = [strategies.create_strategy(study_id=study.id, name=name, protocol="debate", rules={"rounds": 1},
                                          model_roles={"debater": name}).id for name in ("strong", "weak")]
        at = page(admin, study.id)
        assert any("No cross-play yet" in c.value for c in at.caption)
        at.multiselect[0].set_value(ids)
        next(b for b in at.button if b.label == "Start cross-play").click()
        at.run()
        assert not at.exception
        assert any("Cross-play started" in s.value for s in at.success)
        assert run_worker(once=True) == 1
        at.run()
        frame = next(d.value for d in at.dataframe if "Elo [95% CI]" in d.value.columns)
        rows = dict(zip(frame["Version"], frame["Elo [95% CI]"]))
        assert set(rows) == {"strong v1 (best of 1)", "weak v1 (best of 1)"}
        assert float(rows["strong v1 (best of 1)"].split()[0]) > float(rows["weak v1 (best of 1)"].split()[0])
        assert list(frame["Wins against others"]) == ["4 of 4", "0 of 4"]
        assert any("8 debates on 2 items" in c.value for c in at.caption)
        assert at.get("plotly_chart")
    finally:
        models.configure(None)


def test_debater_strength_says_what_it_needs_with_fewer_than_two_debates(admin, study):
    at = page(admin, study.id)
    assert any("needs at least two debate versions" in i.value for i in at.info)
