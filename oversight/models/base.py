"""The interface every backend implements."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator, Sequence

from oversight.models.config import ModelConfig
from oversight.models.errors import ModelError
from oversight.models.stats import Stats
from oversight.models.types import Completion, Request


class Backend:
    """A configured model. One instance per model per process, shared by all sessions and threads."""

    def __init__(self, config: ModelConfig):
        self.config = config
        self.name = config.name
        self.stats = Stats()
        self._load_lock = threading.Lock()
        self.loaded = False

    # -- what protocols call --------------------------------------------------------------------------------------
    def complete(self, requests: Sequence[Request]) -> list[Completion]:
        """Complete several requests; backends that can batch run them together."""
        raise NotImplementedError

    def stream(self, request: Request) -> Iterator[str]:
        """Yield text deltas; their concatenation is the completion text."""
        yield self.complete([request])[0].text

    def score_choices(self, prompt, options: Sequence[str]) -> list[float]:
        """Probability of each option (sums to 1)."""
        raise NotImplementedError

    # -- life cycle -----------------------------------------------------------------------------------------------
    def load(self) -> None:
        """Load weights / connect. Idempotent and thread-safe."""
        with self._load_lock:
            if not self.loaded:
                try:
                    self._load()
                except ModelError as e:
                    self.stats.error(str(e))  # the admin page lists it under recent errors
                    raise
                self.loaded = True

    def _load(self) -> None:
        pass

    def warm(self) -> None:
        """Load and do any start-up work (compilation) so that no request pays for it."""
        self.load()

    def read_ahead(self, sources: Sequence[str]) -> None:
        """Work a request on these source texts would do first, done now (the speech runner calls it in the
        background when a study's first debate starts here). Most backends have none."""

    def close(self) -> None:
        pass

    def info(self) -> dict:
        """Backend, device, memory and the live counters, for the admin page."""
        return {
            "name": self.name,
            "backend": self.config.backend,
            "model": self.config.label,
            "loaded": self.loaded,
            "device": "cpu",
            "memory_mb": 0.0,
            **self.stats.snapshot(),
        }


def softmax(logits: Sequence[float]) -> list[float]:
    m = max(logits)
    exps = [math.exp(x - m) for x in logits]
    s = sum(exps)
    return [e / s for e in exps]
