"""What a participant is told after an answer whose gold answer may be shown (a practice item, or a strategy whose
rules give feedback after judging): correct or not, how sure they were, and, where the study shows scores, the score
with its rule explained once in plain words. The study's `feedback` setting chooses (storage.vocabulary.FEEDBACK_MODES):

- `confidence` (the default): "Correct — you were 80% sure."
- `score`: that, and the score of `oversight.protocols.scoring.judge_score` (the one definition: the results and the
  `score` bonus use it too), explained by `scoring.explain_rule`.
- `correctness`: "Correct." / "Not correct." and nothing more.

"Correct" is `oversight.vocab.is_correct`, THE rule of every figure (the gold option strictly likeliest), never
a threshold of its own. No Streamlit here: the participant page renders the words.
"""

from __future__ import annotations

from dataclasses import dataclass

from oversight.protocols.scoring import explain_rule, judge_score
from oversight.vocab import is_correct
from storage.vocabulary import FEEDBACK_MODES

DEFAULT_MODE = FEEDBACK_MODES[0]
# A task answered without a strategy (direct QA, practice and catch items) has no rules of its own: it is scored as
# the payments score it (oversight.study.payments: the log rule, no round penalty).
DIRECT_RULE = "log"
LABELS = {
    "confidence": "Correct or not, and how sure they were",
    "score": "Correct or not, how sure, and their score (the scoring rule explained)",
    "correctness": "Only whether the answer was correct",
}


class FeedbackError(ValueError):
    """A feedback setting that does not exist; the message is safe to show."""


def check_mode(mode: str) -> str:
    if mode not in FEEDBACK_MODES:
        raise FeedbackError(f"feedback is one of {', '.join(FEEDBACK_MODES)}")
    return mode


@dataclass(frozen=True)
class AnswerFeedback:
    correct: bool
    sure: float  # the share given to the answer they chose (0..1)
    score: float | None  # only where the study shows scores
    rule: str | None  # the scoring rule in plain words, with the score
    mode: str = DEFAULT_MODE

    @property
    def headline(self) -> str:
        """"Correct — you were 80% sure." (one line, app words and numbers only)."""
        verdict = "Correct" if self.correct else "Not correct"
        if self.mode == "correctness":
            return verdict + "."
        return f"{verdict} — you were {self.sure:.0%} sure."

    @property
    def score_line(self) -> str | None:
        return None if self.score is None else f"Your score: {self.score:+.2f}"


def answer_feedback(*, mode: str, probabilities: list[float], gold: int, rule: str = DIRECT_RULE, turns: int = 0,
                    penalty: float = 0.0, score: float | None = None) -> AnswerFeedback:
    """The feedback on a final answer. `probabilities` and `gold` in the same option order (either the item's or the
    display order); `score` when the caller already has `judge_score` of this answer (a live transcript's outcome),
    else it is computed here by the same function."""
    check_mode(mode)
    probs = [float(p) for p in probabilities]
    correct = is_correct(probs, gold)
    if mode != "score":
        return AnswerFeedback(correct, max(probs), None, None, mode)
    if score is None:
        score = judge_score(probabilities=probs, correct_index=gold, rule=rule, turns=turns, penalty=penalty)
    return AnswerFeedback(correct, max(probs), score, explain_rule(rule, penalty), mode)
