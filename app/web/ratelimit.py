"""A sliding-window counter of failed attempts per address (logins, magic links)."""

from __future__ import annotations

import time
from collections import defaultdict, deque


class AttemptLimiter:
    """Per-process: with several web processes the limit applies to each (documented in OPERATIONS)."""

    def __init__(self, limit: int, window_seconds: float = 60.0) -> None:
        self.limit = limit
        self.window = window_seconds
        self._attempts: dict[str, deque[float]] = defaultdict(deque)

    def _prune(self, key: str, now: float) -> deque[float]:
        attempts = self._attempts[key]
        while attempts and now - attempts[0] > self.window:
            attempts.popleft()
        return attempts

    def blocked(self, key: str) -> bool:
        return len(self._prune(key, time.monotonic())) >= self.limit

    def record(self, key: str) -> None:
        self._prune(key, time.monotonic()).append(time.monotonic())

    def retry_after(self, key: str) -> int:
        attempts = self._prune(key, time.monotonic())
        if not attempts:
            return 0
        return max(1, int(self.window - (time.monotonic() - attempts[0])) + 1)
