"""Deterministic canned behaviour for tests of protocols and pages.

Replies cycle through `responses` from the configuration (one per request, in submission order); with none, the
reply echoes the last user message. A response starting with `!error ` raises ModelError with the rest as message.
Tokens are whitespace-separated words: `max_new_tokens` and stop strings apply to them as they would to an LLM.
Choice scores are `choice_probs` (normalised) or uniform.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from collections.abc import Iterator, Sequence

from oversight.models.base import Backend
from oversight.models.config import ScriptedConfig
from oversight.models.errors import ModelConfigError, ModelError
from oversight.models.types import Completion, Request, as_request


class ScriptedBackend(Backend):
    def __init__(self, config: ScriptedConfig):
        super().__init__(config)
        self._counter = itertools.count()
        self._lock = threading.Lock()

    def _reply(self, request: Request) -> str:
        with self._lock:
            i = next(self._counter)
        if self.config.responses:
            text = self.config.responses[i % len(self.config.responses)]
        else:
            users = [m.content for m in request.chat() if m.role == "user"]
            text = f"Scripted reply to: {users[-1] if users else ''}"
        if text.startswith("!error "):
            self.stats.error(text[7:])
            raise ModelError(text[7:])
        return text

    def _generate(self, request: Request) -> tuple[str, str, int]:
        text = self._reply(request)
        s = request.sampling
        words = re.findall(r"\S+\s*", text)
        finish = "stop"
        if len(words) > s.max_new_tokens:
            words, finish = words[: s.max_new_tokens], "length"
        out = "".join(words)
        for stop in s.stop:
            if stop and stop in out:
                out, finish = out[: out.index(stop)], "stop"
        return out, finish, len(words)

    def complete(self, requests: Sequence[Request]) -> list[Completion]:
        results = []
        self.stats.enqueue(len(requests))
        self.stats.start(len(requests))
        self.stats.batch(len(requests))
        try:
            for r in requests:
                t0 = time.perf_counter()
                text, finish, n = self._generate(r)
                self.stats.tokens(n)
                results.append(Completion(text, n, time.perf_counter() - t0, finish, model=self.name))
        finally:
            self.stats.finish(len(requests))
        return results

    def stream(self, request: Request) -> Iterator[str]:
        text = self.complete([request])[0].text
        yield from re.findall(r"\S+\s*|\s+", text)

    def score_choices(self, prompt, options: Sequence[str]) -> list[float]:
        as_request(prompt)
        if not options:
            raise ModelError("score_choices needs at least one option.")
        probs = self.config.choice_probs or [1.0] * len(options)
        if len(probs) != len(options):
            raise ModelConfigError(
                f"Scripted model {self.name!r} has {len(probs)} choice_probs for {len(options)} options.",
                setting=self.config.setting("choice_probs"),
            )
        total = float(sum(probs))
        return [p / total for p in probs]
