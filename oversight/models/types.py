"""Request and response types shared by all backends.

A request is chat messages plus sampling settings. Protocols also attach a structured `Task` (question, options,
source text, assigned answer, limits): the extractive backend works from the task alone, and the LLM backends render
the same task into a prompt (`messages_for`) when a request carries a task but no messages — so every backend gets
the same information.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from oversight.protocols.prompts import DEFAULT_PROMPTS, Prompt, render, values_for
from oversight.vocab import option_letter  # noqa: F401  (re-exported for the backends)

Role = Literal["system", "user", "assistant"]
ROLES = ("debater", "consultant", "assistant", "judge", "questioner", "feedback")
FinishReason = Literal["stop", "length"]


@dataclass(frozen=True)
class Message:
    role: Role  # a chat message's role
    content: str


@dataclass(frozen=True)
class Sampling:
    temperature: float = 0.0  # 0 means greedy
    top_p: float = 1.0
    max_new_tokens: int = 256
    stop: tuple[str, ...] = ()
    seed: int | None = None
    min_new_tokens: int = 0  # benchmarks force a fixed output length; protocols leave it at 0


@dataclass(frozen=True)
class Task:
    """What a protocol asks of a model, in structured form.

    `role` is a model role (`debater`, `consultant`, `assistant`, `judge`, `questioner`). `source` is the text the
    model may read (None where it may not); `answer_index` is the option a debater/consultant argues for;
    `char_limit` bounds the whole turn and `quote_limit` the quoted characters in it; `transcript` is what has been
    said so far as (speaker, text); `chat` is a conversation as (role, text) with role `user` or `assistant`
    (assisted QA), sent as chat messages after the rendered prompt. `prompt` is the strategy's prompt for the role
    (the default for the role when None).
    """

    role: str
    question: str
    options: tuple[str, ...] = ()
    source: str | None = None
    answer_index: int | None = None
    char_limit: int | None = None
    quote_limit: int | None = None
    transcript: tuple[tuple[str, str], ...] = ()
    chat: tuple[tuple[str, str], ...] = ()
    prompt: Prompt | None = None


_ids = itertools.count(1)


@dataclass
class Request:
    messages: Sequence[Message] = ()
    sampling: Sampling = field(default_factory=Sampling)
    timeout_s: float | None = None  # None: the model's configured default
    task: Task | None = None
    id: int = field(default_factory=lambda: next(_ids))

    def chat(self) -> list[Message]:
        """The messages to send; rendered from the task when the protocol gave none."""
        msgs = [m if isinstance(m, Message) else Message(**m) for m in self.messages]
        if not msgs and self.task is not None:
            msgs = messages_for(self.task)
        return msgs


@dataclass(frozen=True)
class Completion:
    text: str
    tokens: int  # generated tokens (the backend's own unit; words for non-LLM backends)
    latency_s: float
    finish_reason: FinishReason
    prompt_tokens: int = 0
    model: str = ""


def as_request(prompt: "Request | Sequence[Message | dict] | str") -> Request:
    """Accept a Request, a message list or a bare user string."""
    if isinstance(prompt, Request):
        return prompt
    if isinstance(prompt, str):
        return Request(messages=[Message("user", prompt)])
    return Request(messages=[m if isinstance(m, Message) else Message(**m) for m in prompt])


def messages_for(task: Task) -> list[Message]:
    """Render a task as chat messages for LLM backends (the extractive backend reads the task directly)."""
    prompt = task.prompt or DEFAULT_PROMPTS.get(task.role) or DEFAULT_PROMPTS["judge"]
    system, user = render(prompt, values_for(question=task.question, options=task.options, source=task.source,
                                             answer_index=task.answer_index, transcript=task.transcript,
                                             char_limit=task.char_limit, quote_limit=task.quote_limit))
    messages = [Message("system", system), Message("user", user.strip())]
    messages += [Message(role, text) for role, text in task.chat]
    return messages
