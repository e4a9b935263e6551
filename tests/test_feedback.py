"""Issue 18: participant feedback people understand, from one scoring definition; the per-study setting and its
migration; imported typography normalised for display only; an admin's attention decision shown with its author."""

from __future__ import annotations

import math

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from oversight.protocols.scoring import explain_rule, judge_score
from oversight.study.feedback import answer_feedback
from oversight.study.payments import answer_bonus, uniform_score
from oversight.text import display_text
from storage.db import dispose_engines, get_engine
from storage.migrate import alembic_config
from storage.models import Study
from web.ui import escape_markdown


def test_correct_at_80_percent_reads_as_correct_and_sure_not_as_a_log_score():
    fb = answer_feedback(mode="confidence", probabilities=[0.8, 0.2], gold=0)
    assert (fb.headline, fb.score_line, fb.rule) == ("Correct — you were 80% sure.", None, None)
    wrong = answer_feedback(mode="confidence", probabilities=[0.3, 0.7], gold=0)
    assert wrong.headline == "Not correct — you were 70% sure."
    assert answer_feedback(mode="correctness", probabilities=[0.8, 0.2], gold=0).headline == "Correct."


def test_correct_is_the_results_rule_a_tie_is_not_correct():
    # Four options, 0.4 on the gold and 0.2 on the others: correct (the gold strictly likeliest), at 40% sure.
    assert answer_feedback(mode="confidence", probabilities=[0.4, 0.2, 0.2, 0.2], gold=0).correct
    assert not answer_feedback(mode="confidence", probabilities=[0.5, 0.5], gold=0).correct


@pytest.mark.parametrize("rule", ["log", "quadratic"])
def test_the_score_shown_is_the_score_the_bonus_pays_on(rule):
    """One definition: the score a participant sees is scoring.judge_score, the one the `score` bonus uses."""
    probs = [0.8, 0.2]
    fb = answer_feedback(mode="score", probabilities=probs, gold=0, rule=rule)
    assert fb.score == judge_score(probabilities=probs, correct_index=0, rule=rule, turns=0, penalty=0)
    study = Study(name="s", bonus_rule="score", bonus_amount=1.0)
    assert answer_bonus(study, probabilities=probs, gold=0, scoring=rule) == pytest.approx(
        fb.score - uniform_score(rule, 2))
    assert fb.rule == explain_rule(rule)
    if rule == "log":
        assert fb.score_line == "Your score: -0.32" and fb.score == pytest.approx(math.log2(0.8))
        # The explanation quotes the number this answer got, from the same formula.
        assert f"80% on the right answer scores {math.log2(0.8):.2f}" in fb.rule


def test_a_live_outcome_keeps_its_own_score_with_the_turn_penalty():
    fb = answer_feedback(mode="score", probabilities=[0.8, 0.2], gold=0, rule="log", penalty=0.05, score=-0.42)
    assert fb.score == -0.42 and "Each extra round you asked for costs 0.05." in fb.rule


def test_an_unknown_feedback_setting_is_refused_and_nothing_changes(db, study):
    from oversight.study.studies import StudyError, get_study, update_study

    with pytest.raises(StudyError, match="feedback is one of confidence, score, correctness"):
        update_study(study_id=study.id, user_id=None, feedback="loud", name="changed")
    assert (get_study(study.id).feedback, get_study(study.id).name) == ("confidence", study.name)
    assert update_study(study_id=study.id, user_id=None, feedback="score") == ["feedback"]


def test_migration_0016_gives_every_study_the_default_and_refuses_other_values(db):
    from oversight.study.studies import create_study

    sid = create_study(name="Before 0016", user_id=None).id
    dispose_engines()
    command.downgrade(alembic_config(db), "0013_prolific")
    with get_engine(db).connect() as conn:
        assert "feedback" not in {row[1] for row in conn.execute(text("PRAGMA table_info(study)")).all()}
    dispose_engines()
    command.upgrade(alembic_config(db), "head")
    with get_engine(db).connect() as conn:
        assert conn.execute(text("SELECT feedback FROM study WHERE id = :i"), {"i": sid}).scalar_one() == "confidence"
    with pytest.raises(IntegrityError, match="ck_study_feedback"):
        with get_engine(db).begin() as conn:
            conn.execute(text("UPDATE study SET feedback = 'loud' WHERE id = :i"), {"i": sid})
    dispose_engines()


@pytest.mark.parametrize("raw, shown", [
    ("``Persuasion'' is a novel", "“Persuasion” is a novel"),  # BoolQ's LaTeX quotes
    ("the `best' one", "the ‘best’ one"),
    ("pages 12--15", "pages 12–15"),
    ("a word--and another", "a word—and another"),
    ("a pause -- then", "a pause – then"),
    ("a long---dash", "a long—dash"),
    ("run it with --help or <!-- here -->", "run it with --help or <!-- here -->"),  # code-like text untouched
    ("non\u00a0breaking and zero\u200bwidth and soft\u00adhyphen", "non breaking and zerowidth and softhyphen"),
    ("plain text stays", "plain text stays"),
])
def test_display_text_normalises_imported_typography(raw, shown):
    assert display_text(raw) == shown


def test_display_text_composes_with_escape_markdown():
    """Normalise first, then escape: the quotes become typographic and Markdown still shows as text."""
    assert escape_markdown(display_text("``*bold*'' -- [x](http://e.com)")) == \
        escape_markdown("“*bold*” – [x](http://e.com)")
    assert "\\*bold\\*" in escape_markdown(display_text("``*bold*''"))


def test_speeches_show_normalised_text_with_quote_offsets_kept():
    from web.ui import speech_markdown

    speech = "He wrote ``yes'' <quote>It was ``fine''</quote> -- end"
    start = speech.index("<quote>")
    end = speech.index("</quote>") + len("</quote>")
    shown = speech_markdown(speech, [{"text": "It was ``fine''", "verified": True, "start": start, "end": end}])
    assert "“yes”" in shown and "“It was “fine””" in shown and "–" in shown and "``" not in shown
