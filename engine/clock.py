"""Time sources: the real monotonic clock, and a manual one for exact limiter arithmetic in tests."""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds on a monotonic scale."""
        ...

    def sleep(self, seconds: float, wake: threading.Event | None = None) -> None:
        """Sleep up to ``seconds``; return early when ``wake`` is set."""
        ...


class MonotonicClock:
    """The real clock."""

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float, wake: threading.Event | None = None) -> None:
        if seconds <= 0:
            return
        if wake is None:
            time.sleep(seconds)
        else:
            wake.wait(seconds)


class ManualClock:
    """A clock that only moves when told to; ``sleep`` advances it at once.

    Used for deterministic tests of limiter arithmetic from a single thread.
    """

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._lock = threading.Lock()
        self.slept: list[float] = []

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds

    def sleep(self, seconds: float, wake: threading.Event | None = None) -> None:
        if seconds > 0:
            self.slept.append(seconds)
            self.advance(seconds)
