"""Per-model counters for the admin page: queue, in flight, recent throughput and errors, batch sizes."""

from __future__ import annotations

import threading
import time
from collections import deque


class Stats:
    def __init__(self, window_s: float = 60.0):
        self.window_s = window_s
        self._lock = threading.Lock()
        self.queued = 0
        self.in_flight = 0
        self.requests = 0
        self.batches = 0
        self.max_batch = 0  # the most requests one batch step held (proves that batching happens)
        self._tokens: deque[tuple[float, int]] = deque()
        self.errors: deque[tuple[float, str]] = deque(maxlen=20)

    def enqueue(self, n: int = 1) -> None:
        with self._lock:
            self.queued += n
            self.requests += n

    def start(self, n: int = 1) -> None:
        with self._lock:
            self.queued -= n
            self.in_flight += n

    def finish(self, n: int = 1) -> None:
        with self._lock:
            self.in_flight -= n

    def batch(self, size: int) -> None:
        with self._lock:
            self.batches += 1
            self.max_batch = max(self.max_batch, size)

    def tokens(self, n: int) -> None:
        now = time.monotonic()
        with self._lock:
            self._tokens.append((now, n))
            while self._tokens and self._tokens[0][0] < now - self.window_s:
                self._tokens.popleft()

    def error(self, message: str) -> None:
        with self._lock:
            self.errors.append((time.time(), message))

    def snapshot(self) -> dict:
        now = time.monotonic()
        with self._lock:
            recent = [(t, n) for t, n in self._tokens if t >= now - self.window_s]
            total = sum(n for _, n in recent)
            span = max(now - recent[0][0], 1.0) if recent else 1.0
            return {
                "queued": self.queued,
                "in_flight": self.in_flight,
                "requests": self.requests,
                "batches": self.batches,
                "max_batch": self.max_batch,
                "tokens_per_s": round(total / span, 1) if recent else 0.0,
                "recent_errors": [f"{time.strftime('%H:%M:%S', time.localtime(t))} {m}" for t, m in self.errors],
            }
