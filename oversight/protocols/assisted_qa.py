"""Assisted QA (Bowman et al. 2022): the participant chats with an assistant model, then answers — the
non-expert + model arm of a sandwiching study.

The strategy decides what the assistant reads (the source or not; never the gold answer) and what the
participant sees (no source, the source, or the source for a limited time, as in the time-limited QuALITY
setting). Rules: a server-enforced time limit (when it runs out the chat closes and the answer form takes over;
an answer later than `answer_grace_s` after it is refused and the task ends as timed out), a maximum number of
messages, starting the chat over, and "answer first, then ask the model, then answer again" (ChatBench 2025:
the first answer is the unassisted answer on the same item, stored as the round-0 report).

Rounds: exchange k is the participant's k-th message (round k) and the assistant's reply (round k). The final
answer is reported at round k + 1 after k exchanges; the first answer, when the rules ask for it, at round 0.
"""

from __future__ import annotations

from dataclasses import dataclass

from oversight.models.types import Task
from oversight.protocols.prompts import check_prompt
from oversight.protocols.engine import enforce_limits
from oversight.protocols.base import (
    CHAT, MODELS, REPORT, ModelTurnRules, Protocol, Report, RuleViolation, Speaker, Step, TurnRecord, rule,
)
from oversight.protocols.state import State

SOURCE_VIEWS = ("hidden", "shown", "timed")


@dataclass(frozen=True)
class AssistedRules(ModelTurnRules):
    require_rationale: bool = rule(False, "A final answer needs a reason",
                                   "People must say why when they give their final answer (AI judges give none).")
    turn_penalty: float = rule(0.0, "Score penalty per message sent", min=0.0, max=1.0, step=0.01)
    source_for_participant: str = rule("hidden", "The participant sees the source",
                                       "hidden; shown; or timed: shown for the first source_seconds only.",
                                       choices=SOURCE_VIEWS)
    source_seconds: int = rule(300, "Time the source is shown (timed)", min=5, max=36_000, unit="s")
    assistant_sees_source: bool = rule(True, "The assistant reads the source")
    max_messages: int = rule(10, "Messages the participant may send", min=1, max=200)
    message_char_limit: int = rule(1000, "Characters per participant message", min=10, max=20_000)
    char_limit: int = rule(1200, "Characters per assistant reply", min=50, max=20_000)
    allow_restart: bool = rule(True, "The participant may start the chat over",
                               "The assistant forgets the earlier messages; they stay in the transcript.")
    answer_first: bool = rule(False, "Answer first, then ask the model, then answer again")
    answer_grace_s: int = rule(60, "Time left to answer after the time limit", min=0, max=3600, unit="s")
    ai_questions: int = rule(2, "Questions an AI participant asks (batch runs)", min=0, max=50)


class AssistedQA(Protocol):
    name = "assisted-qa"
    label = "Assisted QA"
    summary = ("An AI assistant can help you with this question. Ask it anything, then give your answer. "
               "The assistant can be wrong. Green quotes were checked against the text; red ones were not found in it.")
    rules_class = AssistedRules
    model_roles = ("assistant", "judge", "questioner")
    layout = "chat"
    bot_moves = {"speeches": MODELS, "chat": CHAT, "judge": REPORT}  # judge: the first answer, or time/messages up

    def cannot_run(self, item, rules: AssistedRules) -> str | None:
        if not item.has_source and (rules.assistant_sees_source or rules.source_for_participant != "hidden"):
            return "needs the item's source text (these rules show it to the assistant or the participant)"
        return super().cannot_run(item, rules)

    def next_step(self, rules: AssistedRules, speakers: tuple[Speaker, ...], turns: list[TurnRecord],
                  reports: list[Report], *, time_up: bool) -> Step:
        if reports and reports[-1].end:
            return Step("done", reports[-1].round)
        sent = sum(t.role == "participant" for t in turns)
        if rules.answer_first and not any(r.round == 0 for r in reports):
            return Step("judge", 0, may_end=time_up, must_end=time_up)
        if time_up:
            return Step("judge", sent + 1, may_end=True, must_end=True, messages_left=0)
        if turns and turns[-1].role == "participant":
            return Step("speeches", turns[-1].round, ("assistant",), messages_left=rules.max_messages - sent)
        left = rules.max_messages - sent
        if left <= 0:
            return Step("judge", sent + 1, may_end=True, must_end=True, messages_left=0)
        return Step("chat", sent + 1, may_end=True, messages_left=left)

    def expires_after(self, rules: AssistedRules) -> float | None:
        return None if rules.total_time_limit_s is None else rules.total_time_limit_s + rules.answer_grace_s

    def penalised_turns(self, turns: list[TurnRecord], reports: list[Report]) -> int:
        return sum(t.role == "participant" for t in turns)

    def check_message(self, rules: AssistedRules, step: Step, text: str) -> str:
        """The participant's message as it will be stored, or a RuleViolation saying why it cannot be sent."""
        if step.kind == "judge" and step.must_end:
            raise RuleViolation("The chat is closed (time is up or no messages are left): please give your answer.")
        if step.kind != "chat":
            raise RuleViolation("Wait for the assistant's reply before you write again.")
        text = text.strip()
        if not text:
            raise RuleViolation("Write a message first.")
        if len(text) > rules.message_char_limit:
            raise RuleViolation(f"Messages can be at most {rules.message_char_limit} characters "
                                f"(this one has {len(text)}).")
        return text

    def check_restart(self, rules: AssistedRules, step: Step) -> None:
        if not rules.allow_restart:
            raise RuleViolation("These rules do not allow starting the chat over.")
        if step.kind != "chat":
            raise RuleViolation("The chat cannot be started over now.")

    def chat_since_restart(self, turns: list[TurnRecord]) -> list[TurnRecord]:
        last = max((k for k, t in enumerate(turns) if t.role == "restart"), default=-1)
        return [t for t in turns[last + 1:] if t.role in ("participant", "assistant")]

    def source_visible(self, rules: AssistedRules, elapsed_s: float) -> bool:
        view = rules.source_for_participant
        return view == "shown" or (view == "timed" and elapsed_s < rules.source_seconds)

    def model_task(self, state: State, role: str) -> Task:
        rules: AssistedRules = state.rules
        options = tuple(state.options[i] for i in state.order)
        if role == "assistant":
            chat = tuple(("user" if t.role == "participant" else "assistant", t.text)
                         for t in self.chat_since_restart(state.turns))
            return Task(role="assistant", question=state.question, options=options,
                        source=state.source if rules.assistant_sees_source else None, char_limit=rules.char_limit,
                        chat=chat, prompt=check_prompt("assistant", state.prompts.get("assistant", {})))
        if role == "questioner":  # an AI participant in a batch run writes its next question
            lines = tuple((("Participant" if t.role == "participant" else "Assistant"), t.text)
                          for t in self.chat_since_restart(state.turns))
            return Task(role="questioner", question=state.question, options=options, transcript=lines,
                        char_limit=rules.message_char_limit,
                        prompt=check_prompt("questioner", state.prompts.get("questioner", {})))
        raise RuleViolation(f"assisted QA has no model role {role!r}")

    def finish_text(self, rules: AssistedRules, role: str, text: str) -> str:
        limit = rules.char_limit if role == "assistant" else rules.message_char_limit
        return enforce_limits(text, char_limit=limit, quote_limit=limit)

    def ai_wants_to_ask(self, rules: AssistedRules, turns: list[TurnRecord]) -> bool:
        return sum(t.role == "participant" for t in turns) < rules.ai_questions


PROTOCOL = AssistedQA()
