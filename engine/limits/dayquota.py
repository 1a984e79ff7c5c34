"""A per-day request quota that resets at midnight UTC (a calendar day, not a sliding 24 hours).

deAPI states its daily limits this way: "Rate limits are defined per endpoint as: RPM — Requests
Per Minute, RPD — Requests Per Day. Limits reset daily at midnight UTC."
(https://docs.deapi.ai/limits-and-quotas). The sliding windows of engine/limits/limiter.py cannot say
"until 00:00 UTC", so the day rule is this separate component, consulted before a permit is taken.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from engine.clock import MonotonicClock
from engine.errors import Cancelled

DAY = 86400.0


class WallClock(Protocol):
    def now(self) -> float:
        """Seconds since the Unix epoch (UTC)."""
        ...

    def sleep(self, seconds: float, wake: threading.Event | None = None) -> None: ...


class SystemWallClock(MonotonicClock):
    """The real wall clock: the day boundary is a date, so monotonic time cannot be used.

    It sleeps as the monotonic clock does; only ``now`` reads the calendar.
    """

    def now(self) -> float:
        return time.time()


def next_midnight(t: float) -> float:
    """The epoch time of the first 00:00 UTC after ``t``."""
    day = datetime.fromtimestamp(t, UTC).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


class DayQuota:
    """At most ``limit`` requests per UTC calendar day, shared by every worker of the process."""

    def __init__(self, limit: int, *, clock: WallClock | None = None, used: int = 0) -> None:
        if limit < 1:
            raise ValueError("a daily quota allows at least one request")
        self.limit = limit
        self.clock: WallClock = clock or SystemWallClock()
        self._lock = threading.Lock()
        self._resets_at = next_midnight(self.clock.now())
        self._used = used

    @property
    def used(self) -> int:
        with self._lock:
            self._roll(self.clock.now())
            return self._used

    @property
    def resets_at(self) -> float:
        return self._resets_at

    def take(self) -> float:
        """Spend one request of today's quota: 0.0 when granted, else seconds until it resets."""
        with self._lock:
            now = self.clock.now()
            self._roll(now)
            if self._used < self.limit:
                self._used += 1
                return 0.0
            return max(0.0, self._resets_at - now)

    def exhaust(self) -> None:
        """The service says today's quota is spent (others share the key): wait for midnight."""
        with self._lock:
            self._roll(self.clock.now())
            self._used = max(self._used, self.limit)

    def give_back(self) -> None:
        """Return a request that never reached the service (it failed before being sent)."""
        with self._lock:
            self._used = max(0, self._used - 1)

    def wait(
        self,
        cancel: threading.Event | None = None,
        on_pause: Callable[[float], None] | None = None,
        on_resume: Callable[[], None] | None = None,
    ) -> None:
        """Block until a request of the day is granted; ``on_pause(resets_at)`` is called once."""
        paused = False
        while True:
            delay = self.take()
            if delay <= 0:
                if paused and on_resume is not None:
                    on_resume()
                return
            if not paused:
                paused = True
                if on_pause is not None:
                    on_pause(self._resets_at)
            # Wake now and then: a cancelled item or a stopping engine must not wait for midnight.
            self.clock.sleep(min(delay, 30.0), cancel)
            if cancel is not None and cancel.is_set():
                raise Cancelled("stopped while waiting for the daily quota")

    def _roll(self, now: float) -> None:
        if now >= self._resets_at:
            self._used = 0
            self._resets_at = next_midnight(now)


def pause_text(service: str, limit: int, resets_at: float) -> str:
    when = datetime.fromtimestamp(resets_at, UTC)
    return (
        f"{service}: daily limit reached ({limit}/day), resumes at {when:%H:%M} UTC "
        f"({when:%Y-%m-%d})"
    )
