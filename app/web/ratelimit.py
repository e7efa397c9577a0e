"""Failed attempts: a sliding window per address (logins, magic links) and a back-off per account (logins)."""

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


class AccountBackoff:
    """Failed sign-ins to one account from any address: after ``free`` of them each attempt waits.

    The wait starts at one second and doubles with each further failure up to ``max_delay``, so guessing
    from many addresses slows to one try per ``max_delay`` while the owner, typing the right password,
    waits seconds rather than being locked out. A success, or ``forget_after`` seconds without a failure,
    clears the count. Per-process, like AttemptLimiter. Keys are the account names as typed (lower-cased),
    known or not, so the answer does not tell which accounts exist.
    """

    def __init__(self, free: int, max_delay: float, forget_after: float = 900.0) -> None:
        self.free = free
        self.max_delay = max_delay
        self.forget_after = forget_after
        self._failures: dict[str, tuple[int, float]] = {}  # key -> (failures, time of the last one)

    def _current(self, key: str, now: float) -> tuple[int, float]:
        count, last = self._failures.get(key, (0, now))
        if count and now - last > self.forget_after:
            del self._failures[key]
            return 0, now
        return count, last

    def wait(self, key: str) -> float:
        """Seconds until an attempt on ``key`` is heard again (0: now)."""
        now = time.monotonic()
        count, last = self._current(key, now)
        if count < self.free:
            return 0.0
        delay = min(self.max_delay, 2.0 ** (count - self.free))
        return max(0.0, last + delay - now)

    def failed(self, key: str) -> int:
        """Counts a failure; returns how many there are now."""
        now = time.monotonic()
        if len(self._failures) > 100_000:  # a flood of made-up names must not grow memory without end
            self._failures = {k: v for k, v in self._failures.items() if now - v[1] <= self.forget_after}
        count, _last = self._current(key, now)
        self._failures[key] = (count + 1, now)
        return count + 1

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)
