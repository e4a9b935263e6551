"""Preference judging (RLHF/RLAIF labels by people): the participant reads a conversation and two candidate
responses and says which is better under the study's instruction (the item's question: more harmless, more
helpful, or a constitution's principle), with a confidence and an optional reason. The items are pairs: the
conversation is the item's source, the two responses its options (`hh-rlhf` import), and the data set's own
preference its gold. Response order is randomised per transcript and stored with it."""

from __future__ import annotations

from oversight.protocols.base import REPORT, ItemFacts, Protocol, Report, Speaker, Step, TurnRecord
from oversight.protocols.direct_qa import AnswerRules, one_answer_step


class Preference(Protocol):
    name = "preference"
    label = "Preference"
    summary = ("Read the conversation and the two responses to it, then say which response is better, as the "
               "question asks, and how sure you are.")
    rules_class = AnswerRules
    model_roles = ("judge",)
    judge_sees_source = True  # the conversation is what is judged
    source_label = "The conversation"
    bot_moves = {"judge": REPORT}

    def cannot_run(self, item: ItemFacts, rules: AnswerRules) -> str | None:
        if item.n_options != 2:
            return "needs items with exactly two responses to compare"
        if not item.has_source:
            return "needs the conversation the responses answer (the item's source text)"
        return None

    def next_step(self, rules: AnswerRules, speakers: tuple[Speaker, ...], turns: list[TurnRecord],
                  reports: list[Report], *, time_up: bool) -> Step:
        return one_answer_step(reports)

    def source_visible(self, rules: AnswerRules, elapsed_s: float) -> bool:
        return True


PROTOCOL = Preference()
