"""Simulated non-expert participants for dry runs and tests of the human-supervisor path: direct QA with a fixed
confidence (`oversight/sandwiching/simulate.py` runs whole sandwiching studies and lends this its planted choice). They enter
the study as real participants do (`auth.create_invites`), consent, take their tasks (`participation.next_task`)
and submit final answers (`participation.submit_answer`), so their judgments are the same rows real people leave.

They are marked simulated (`User.external_study_id`) and only ever answer a dry-run copy of a study
(`Study.dry_run_of`), where simulated answers are results (oversight.results.results_filter); a real study is refused, so
its figures, design and pay never meet them.

Planted behaviour: each answer is right with probability `accuracy` (else one of the wrong options, uniformly);
the chosen option gets probability `confidence` and the others share the rest evenly (the one answer form,
`oversight.protocols.bots.PersonBot`). With
`confidence == accuracy` the participants are calibrated; above it, over-confident.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from sqlmodel import select

from oversight.access.auth import create_invites
from oversight.db import session_scope
from oversight.study.dry_run import copy_for_dry_run
from oversight.study.studies import count_items
from oversight.study.participation import next_task, record_consent, submit_answer
from oversight.results.results_filter import is_dry_run
from oversight.protocols.bots import PersonBot, planted_choice
from oversight.vocab import CHOICE_CONFIDENCE, SIMULATED, is_correct
from oversight.w2s.errors import W2SError
from storage.models import Assignment, ItemGold, Study, User


MAX_PARTICIPANTS = 500  # one call answers synchronously (the page waits for it): a dry run, not a crowd


@dataclass(frozen=True)
class SimulationSummary:
    participants: int
    answers: int
    correct: int
    study_id: int | None = None  # the dry-run study they answered (a copy, when a real study was named)

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.answers if self.answers else None


def planted_probabilities(n_options: int, gold: int, *, accuracy: float, confidence: float,
                          rng: random.Random) -> list[float]:
    """One simulated final answer: probabilities over the options."""
    if n_options < 2:
        raise W2SError("an item needs at least two options")
    return PersonBot(n_options, planted_choice(rng, n_options, gold, accuracy), confidence).probabilities


def simulate_participants(*, study_id: int, participants: int, accuracy: float, confidence: float = 0.8,
                          seed: int = 0) -> SimulationSummary:
    """Simulated people answer every task a study deals them. Never in a real study (their answers would be no
    result there, yet take places in its design): a real study is copied into a dry run first
    (oversight.study.dry_run), and the summary names the copy."""
    if not 0 <= accuracy <= 1 or not 0 < confidence <= 1:
        raise W2SError("accuracy must be in [0, 1] and confidence in (0, 1]")
    if not 1 <= participants <= MAX_PARTICIPANTS:
        raise W2SError(f"participants must be between 1 and {MAX_PARTICIPANTS}")
    with session_scope(write=False) as s:
        study = s.get(Study, study_id)
        if study is None:
            raise W2SError(f"no study with id {study_id}")
        real = not is_dry_run(study)
    if count_items(study_id=study_id) == 0:  # refused before a dry-run copy is made for nothing
        raise W2SError(f"study {study_id} has no items to answer; import items first")
    if real:
        study_id = copy_for_dry_run(study_id=study_id)
    rng = random.Random(seed)
    answers = correct = 0
    for invite in create_invites(study_id=study_id, count=participants):
        with session_scope() as s:
            s.get(User, invite.user_id).external_study_id = SIMULATED
        record_consent(user_id=invite.user_id)
        while (task := next_task(user_id=invite.user_id)) is not None:
            if task.transcript_id is not None:
                raise W2SError("simulated participants answer direct QA only; this study deals conditions with a model")
            with session_scope(write=False) as s:
                item_id = s.get(Assignment, task.assignment_id).item_id
                gold_row = s.exec(select(ItemGold).where(ItemGold.item_id == item_id)).first()
            if gold_row is None:
                raise W2SError("simulated participants need gold answers to plant their accuracy")
            probs = planted_probabilities(len(task.options), gold_row.gold_index, accuracy=accuracy,
                                          confidence=confidence, rng=rng)
            submit_answer(user_id=invite.user_id, assignment_id=task.assignment_id, probabilities=probs,
                          rationale="simulated participant", answer_form=CHOICE_CONFIDENCE)
            answers += 1
            correct += int(is_correct(probs, gold_row.gold_index))
    return SimulationSummary(participants, answers, correct, study_id)
