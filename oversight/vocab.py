"""The words every layer shares: role labels, judge kinds, option letters and what "correct" means.

One place, so that the participant page, the transcript viewer, the report, the export and the models all
say the same thing.
"""

from __future__ import annotations

ROLE_LABELS = {
    "debater_a": "Debater A",
    "debater_b": "Debater B",
    "consultant": "Consultant",
    "judge": "Judge",
    "assistant": "Assistant",
    "participant": "Participant",
    "restart": "Chat started over",
}
SPEAKER_ROLES = ("debater_a", "debater_b", "consultant")  # model turns that argue for an answer

# Who judged: a transcript's own judge (a participant, a room's judge, or a batch run's AI judge) is "human" or
# "ai"; an AI judge run afterwards over finished transcripts is "ai-offline"; imported offline human judges are
# "offline-human".
JUDGE_KINDS = ("human", "ai", "ai-offline", "offline-human")
OWN_JUDGE_KINDS = ("human", "ai")

MAX_OPTIONS = 26  # letters A-Z


def role_label(role: str) -> str:
    return ROLE_LABELS.get(role, role.replace("_", " ").capitalize())


def option_letter(index: int) -> str:
    return chr(ord("A") + index) if 0 <= index < MAX_OPTIONS else str(index + 1)


def is_correct(p_correct: float) -> bool:
    """A judgment counts as correct when it puts more than half its probability on the gold answer."""
    return p_correct > 0.5


def probabilities_from_confidence(n_options: int, answer: int, confidence: float) -> list[float]:
    """An answer with a confidence (0..1) as probabilities: the answer gets `confidence`, the others share the rest.
    A confidence below 1/n would make another answer likelier than the chosen one, so it is raised to 1/n."""
    if not 0 <= answer < n_options:
        raise ValueError("the answer must be one of the options")
    c = min(max(float(confidence), 1.0 / n_options), 1.0)
    rest = (1.0 - c) / (n_options - 1) if n_options > 1 else 0.0
    return [c if i == answer else rest for i in range(n_options)]

# User.external_study_id of simulated participants and experts (oversight/simulate.py): every figure built on
# them says so, and they are never paid.
SIMULATED = "simulated"
