"""Per-process sliding-window counters for failed link lookups (unknown or withdrawn tokens).

In memory on purpose: a link lookup runs on every page run of every participant, so it must stay a
read; counting only the misses here keeps the database out of it. With several app replicas each
replica counts its own misses (a sticky proxy sends one client to one replica).
"""

from __future__ import annotations

import threading
import time
from collections import deque


class MissCounter:
    def __init__(self, window_s: float = 60.0) -> None:
        self.window_s = window_s
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window_s:
            hits.popleft()
        return hits

    def wait_seconds(self, keys: list[str], limit: int) -> float:
        """0 when none of the keys has reached `limit` misses in the window, else how long until one drops."""
        now = time.monotonic()
        with self._lock:
            waits = []
            for key in keys:
                hits = self._recent(key, now)
                if len(hits) >= limit:
                    waits.append(hits[len(hits) - limit] + self.window_s - now)
                if not hits:
                    self._hits.pop(key, None)
            return max(waits, default=0.0)

    def miss(self, keys: list[str]) -> None:
        now = time.monotonic()
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)

    def clear(self) -> None:
        with self._lock:
            self._hits.clear()


link_misses = MissCounter()
