"""AI judges over finished transcripts (`judge_transcripts`): which transcripts it judges, what it stores."""

from __future__ import annotations

import pytest
from sqlmodel import select

from oversight import models
from oversight.db import session_scope
from oversight.models.config import ModelsConfig, ScriptedConfig
from oversight.protocols.ai_judge import judge_transcripts
from oversight.study.studies import create_study
from storage.models import Item, ItemGold, Judgment, Transcript, Turn

QUESTION = "What colour was the front door of the house?"
OPTIONS = ["The door was painted bright red", "The door was painted dark green"]
SOURCE = "The house stood at the end of the lane. Its front door was painted bright red, and the shutters white."


def finished_consultancies(study_id: int) -> dict[str, int]:
    """Two complete consultancy rooms on an item whose gold is option 0: an honest consultant quoting the source
    (tagged `paper`) and a dishonest one; an incomplete room; and a complete room of another study. Returns ids."""
    other_study = create_study(name="Other study", user_id=None).id
    with session_scope() as s:
        item = Item(study_id=study_id, external_id="door", question=QUESTION, options=OPTIONS, source_text=SOURCE)
        other_item = Item(study_id=other_study, external_id="door", question=QUESTION, options=OPTIONS)
        s.add_all([item, other_item])
        s.flush()
        s.add(ItemGold(item_id=item.id, gold_index=0))

        def room(name: str, argues: int, text: str, *, study: int = study_id, item_id: int = item.id,
                 status: str = "complete", tags: tuple[str, ...] = ("nyu",)) -> int:
            t = Transcript(study_id=study, item_id=item_id, source_setting="human consultancy", origin="imported",
                           external_id=name, status=status, tags=list(tags),
                           meta={"roles": {"consultant": {"argues": argues, "honest": argues == 0}}})
            s.add(t)
            s.flush()
            s.add(Turn(transcript_id=t.id, position=0, round=1, role="consultant", speaker="C", text=text))
            return t.id

        return {
            "honest": room("honest", 0, "The story says <quote>its front door was painted bright red</quote>: red.",
                           tags=("nyu", "paper")),
            "dishonest": room("dishonest", 1, "The story says the front door was painted dark green: green."),
            "unfinished": room("unfinished", 0, "Red.", status="incomplete"),
            "elsewhere": room("elsewhere", 0, "Red.", study=other_study, item_id=other_item.id),
            "item": item.id,
        }


@pytest.fixture
def scripted():
    models.configure(ModelsConfig(
        models={name: ScriptedConfig(name=name, choice_probs=[0.9, 0.1]) for name in ("s", "s2")},
        roles={r: "s" for r in ("debater", "consultant", "assistant", "judge", "feedback")}))
    yield
    models.configure(None)


def ai_judgments() -> list[tuple[int, str]]:
    with session_scope(write=False) as s:
        rows = s.exec(select(Judgment).where(Judgment.judge_kind == "ai-offline").order_by(Judgment.id)).all()
        return [(j.transcript_id, j.judge_name) for j in rows]


def test_judges_the_complete_transcripts_with_the_tag_then_only_those_not_yet_judged(study, scripted):
    ids = finished_consultancies(study.id)
    tagged = judge_transcripts(study_id=study.id, tag="paper")
    assert tagged == {"n": 1, "model": "s", "accuracy": 0.0}  # a 50/50 judgment (order-averaged) is wrong
    assert ai_judgments() == [(ids["honest"], "s")]

    rest = judge_transcripts(study_id=study.id)  # the tagged room was judged by this model: skipped
    assert rest["n"] == 1 and ai_judgments() == [(ids["honest"], "s"), (ids["dishonest"], "s")]
    assert judge_transcripts(study_id=study.id) == {"n": 0, "model": "s", "accuracy": None}

    # Another model has judged nothing yet: it judges both finished rooms of this study, nothing else.
    assert judge_transcripts(study_id=study.id, model_name="s2")["n"] == 2
    assert sorted(ai_judgments()) == sorted([(ids["honest"], "s"), (ids["dishonest"], "s"),
                                             (ids["honest"], "s2"), (ids["dishonest"], "s2")])


def test_stores_a_final_judgment_with_both_answer_orders_averaged(study, scripted):
    ids = finished_consultancies(study.id)
    progress = []
    judge_transcripts(study_id=study.id, tag="paper", progress=lambda done, total, msg: progress.append((done, total)))
    assert progress == [(0, 1), (1, 1)]
    with session_scope(write=False) as s:
        (j,) = s.exec(select(Judgment).where(Judgment.transcript_id == ids["honest"])).all()
    # Scripted says 0.9 for whichever option is shown first: 0.9 and 0.1 for each answer, averaged to 0.5.
    assert (j.is_final, j.round, j.item_id, j.probabilities) == (True, 1, ids["item"], pytest.approx([0.5, 0.5]))
