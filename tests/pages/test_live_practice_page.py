"""A practice item dealt under a live strategy (assisted QA) ends like a practice item answered alone: the
participant is told it was practice and sees the answer with its explanation, not only the outcome line (found by the
first-study walk: the explanation of a practice item never showed under the assistant)."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from oversight import models
from oversight.access import auth
from oversight.db import session_scope
from oversight.models.config import ModelsConfig, ScriptedConfig
from oversight.protocols import strategies
from oversight.sandwiching import conditions
from oversight.study.participation import record_consent
from oversight.study.studies import update_study
from storage.models import Item, ItemGold

REPO = Path(__file__).resolve().parents[2]
SOURCE = "Spiders are arachnids, not insects: they have eight legs."


def test_a_live_practice_item_shows_its_answer_and_explanation(study):
    models.configure(ModelsConfig(models={"s": ScriptedConfig(name="s", responses=[])},
                                  roles={r: "s" for r in ("assistant", "judge", "feedback")}))
    try:
        with session_scope() as s:
            for k, split in enumerate(("practice", None)):
                item = Item(study_id=study.id, external_id=f"i{k}", question=f"How many legs ({k})?",
                            options=["Six", "Eight"], source_text=SOURCE, split=split)
                s.add(item)
                s.flush()
                s.add(ItemGold(item_id=item.id, gold_index=1,
                               explanation="Arachnids have eight legs." if split else None))
        helper = strategies.create_strategy(study_id=study.id, name="Helper", protocol="assisted-qa",
                                            rules={"randomise_answer_order": False})
        conditions.add_condition(study_id=study.id, kind="assisted", strategy_id=helper.id)
        update_study(study_id=study.id, user_id=None, practice_items=1)
        pid = auth.create_invites(study_id=study.id, count=1)[0].user_id
        record_consent(user_id=pid)

        at = AppTest.from_file(str(REPO / "views" / "participant.py"), default_timeout=60)
        at.session_state["user_id"] = pid
        at.run()
        assert not at.exception and any("A practice question" in c.value for c in at.caption)
        at.radio[0].set_value(1)
        at.slider[0].set_value(70)
        next(b for b in at.button if b.label == "Submit final answer").click()
        at.run()
        assert not at.exception
        assert any("Your final answer is saved." in s.value for s in at.success)
        assert any("That was a practice question." in i.value for i in at.info)
        texts = [t.value for t in at.text]
        assert "Practice: the answer was Eight" in texts and "Arachnids have eight legs." in texts
        assert [s.value for s in at.success].count("Correct — you were 70% sure.") == 1  # said once
        assert not any(t.startswith("The correct answer was") for t in texts)  # the answer is said once too
    finally:
        models.configure(None)
