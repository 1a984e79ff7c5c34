"""Per-service rate limiting on pyrate-limiter buckets: shared or independent pools, live changes, 429 back-off.

Every permit handed out is kept in a short history (as long as the longest window). When the spec, the
mode, the worker count or the effective rate changes, the pools are rebuilt and seeded from that history,
so no sliding window ever holds more than the limit across a change.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from pyrate_limiter import InMemoryBucket, Rate, RateItem

from engine.clock import Clock, MonotonicClock
from engine.errors import Cancelled
from engine.ratespec import RateSpec, parse_rate

SHARED = "shared"
INDEPENDENT = "independent"
MODES = (SHARED, INDEPENDENT)

# A permit granted at t and one granted at t + window may reach the server in the other order or
# closer together than they left us; a small guard on each window keeps the server's count honest.
# Thread scheduling alone moves a request by tens of milliseconds on a busy machine (60 ms measured
# on 2 loaded cores), so the guard never drops below _GUARD_MIN, even on a one-second window.
_GUARD_SHARE = 0.01
_GUARD_MIN = 0.1
_GUARD_MAX = 0.25
# After a 429 the effective rate is cut by this factor and grows back by _RECOVER per quiet period.
_BACKOFF = 0.5
_RECOVER = 1.25
_FLOOR = 0.05
# History kept at least this long: stats report the last minute, and a change to a per-minute
# spec (the usual API quota) must count the permits already sent under a shorter one.
_MIN_HISTORY = 60.0


@dataclass(frozen=True, slots=True)
class Permit:
    """Proof of one admitted request; ``key`` is the pool it was drawn from."""

    service: str
    key: str
    waited: float


@dataclass(frozen=True, slots=True)
class LimiterStats:
    service: str
    spec: str
    mode: str
    effective: str
    factor: float
    limit_per_min: float
    effective_per_min: float
    last_minute: int
    paused_for: float
    waiting: int
    granted: int
    throttled: int


class Limiter:
    """Rate limit for one external service, shared by all workers or one pool per key."""

    def __init__(
        self,
        service: str,
        spec: RateSpec | str,
        *,
        mode: str = SHARED,
        clock: Clock | None = None,
        recovery_period: float | None = None,
    ) -> None:
        self.service = service
        self._spec = parse_rate(spec) if isinstance(spec, str) else spec
        self._check_mode(mode)
        self._mode = mode
        self._clock = clock or MonotonicClock()
        self._lock = threading.Lock()
        self._buckets: dict[str, list[InMemoryBucket]] = {}
        # (time, pool key, granted in shared mode) for every permit within the longest window.
        self._history: deque[tuple[float, str, bool]] = deque()
        self._factor = 1.0
        self._paused_until = 0.0
        self._last_throttle = -1e18
        self._last_recover = -1e18
        # (until, seconds): history a replaced spec's longer window still needs after a change.
        self._retain: list[tuple[float, float]] = []
        self._recovery_period = recovery_period
        self._waiting = 0
        self.granted = 0
        self.throttled = 0

    # -- configuration, all safe while workers are acquiring ---------------------------------

    @property
    def spec(self) -> RateSpec:
        return self._spec

    @property
    def mode(self) -> str:
        return self._mode

    @property
    def factor(self) -> float:
        return self._factor

    def set_spec(self, spec: RateSpec | str) -> None:
        new = parse_rate(spec) if isinstance(spec, str) else spec
        with self._lock:
            # Permits granted under the old spec stay in its windows: keep them for one of its
            # windows so a quick change back (300/min -> 5/s -> 300/min) still counts them.
            self._retain.append((self._clock.now() + self._spec.longest, self._spec.longest))
            self._spec = new
            self._buckets.clear()

    def set_mode(self, mode: str) -> None:
        self._check_mode(mode)
        with self._lock:
            self._mode = mode
            self._buckets.clear()

    def effective_spec(self) -> RateSpec:
        return self._spec.scaled(self._factor) if self._factor < 1.0 else self._spec

    # -- the hot path ----------------------------------------------------------------------

    def acquire(
        self,
        key: str = SHARED,
        *,
        cancel: threading.Event | None = None,
        on_wait: Callable[[bool], None] | None = None,
    ) -> Permit:
        """Block until a request may be sent for ``key``'s pool; raise Cancelled if ``cancel`` is set.

        ``on_wait(True)`` is called once if the caller has to wait, ``on_wait(False)`` when it is admitted.
        """
        started = self._clock.now()
        announced = False
        signalled = False
        try:
            while True:
                if cancel is not None and cancel.is_set():
                    raise Cancelled("stopped while waiting for a rate-limit permit")
                with self._lock:
                    now = self._clock.now()
                    self._maybe_recover(now)
                    if self._paused_until > now:
                        delay = self._paused_until - now
                    else:
                        pool = key if self._mode == INDEPENDENT else SHARED
                        item = RateItem(self.service, _ms(now))
                        wait_ms = _admit(self._bucket(pool, now), item)
                        if wait_ms == 0:
                            self._history.append((now, pool, self._mode == SHARED))
                            self._trim(now)
                            self.granted += 1
                            return Permit(self.service, pool, now - started)
                        delay = max(0.001, wait_ms / 1000.0)
                    if not announced:
                        announced = True
                        self._waiting += 1
                if on_wait is not None and not signalled:
                    signalled = True
                    on_wait(True)
                # Sleep in short steps so changes of spec or mode and cancellation take effect promptly.
                self._clock.sleep(min(delay, 0.25), cancel)
        finally:
            if announced:
                with self._lock:
                    self._waiting -= 1
            if signalled and on_wait is not None:
                on_wait(False)

    def throttle(self, retry_after: float | None) -> float:
        """Record a 429: pause everyone for Retry-After (or a default) and lower the effective rate.

        Returns the pause in seconds.
        """
        with self._lock:
            now = self._clock.now()
            pause = retry_after if retry_after is not None and retry_after > 0 else None
            if pause is None:
                # No Retry-After: wait for a share of the tightest window.
                pause = min(max(1.0, self._spec.rules[0].interval / 4), 30.0)
            self._paused_until = max(self._paused_until, now + pause)
            # Several workers often hit the same 429 burst: cut the rate once per burst.
            if now - self._last_throttle > pause:
                self._factor = max(_FLOOR, self._factor * _BACKOFF)
                self._buckets.clear()
            self._last_throttle = now
            self.throttled += 1
            return pause

    # -- reading ---------------------------------------------------------------------------

    def stats(self) -> LimiterStats:
        with self._lock:
            now = self._clock.now()
            self._maybe_recover(now)
            times = [t for t, _, _ in self._history]
            last_minute = len(times) - bisect_left(times, now - 60.0)
            effective = self.effective_spec()
            return LimiterStats(
                service=self.service,
                spec=str(self._spec),
                mode=self._mode,
                effective=str(effective),
                factor=self._factor,
                limit_per_min=self._spec.per_minute,
                effective_per_min=effective.per_minute,
                last_minute=last_minute,
                paused_for=max(0.0, self._paused_until - now),
                waiting=self._waiting,
                granted=self.granted,
                throttled=self.throttled,
            )

    # -- internals ---------------------------------------------------------------------------

    @staticmethod
    def _check_mode(mode: str) -> None:
        if mode not in MODES:
            from engine.errors import UsageError

            raise UsageError(f"unknown rate mode {mode!r}", hint="use shared or independent")

    def _bucket(self, pool: str, now: float) -> list[InMemoryBucket]:
        buckets = self._buckets.get(pool)
        if buckets is None:
            # One single-rate bucket per rule: pyrate-limiter refuses a rate list whose density
            # rises with the interval (``5/s,300/min`` once the guard is added, or any scaled spec).
            # Seed with every recent permit that counts against this pool: all of them for the shared
            # pool; for an independent pool its own plus those granted while the mode was shared.
            shared = pool == SHARED
            seed = [
                RateItem(self.service, _ms(t))
                for t, owner, was_shared in self._history
                if shared or owner == pool or was_shared
            ]
            buckets = []
            for rule in self.effective_spec().rules:
                guard = min(_GUARD_MAX, max(_GUARD_MIN, rule.interval * _GUARD_SHARE))
                bucket = InMemoryBucket([Rate(rule.limit, _ms(rule.interval + guard))])
                bucket.items.extend(seed)
                buckets.append(bucket)
            self._buckets[pool] = buckets
        else:
            for bucket in buckets:
                # Keep memory bounded: drop entries that have left the window now and then.
                if len(bucket.items) > 2 * bucket.rates[0].limit + 64:
                    bucket.leak(_ms(now))
        return buckets

    def _trim(self, now: float) -> None:
        if self._retain:
            self._retain = [(until, span) for until, span in self._retain if until > now]
        keep = max([_MIN_HISTORY, self._spec.longest, *(span for _, span in self._retain)])
        horizon = now - keep - _GUARD_MAX - 1.0
        history = self._history
        while history and history[0][0] < horizon:
            history.popleft()

    def _maybe_recover(self, now: float) -> None:
        if self._factor >= 1.0:
            return
        period = self._recovery_period or max(5.0, min(self._spec.longest / 4, 60.0))
        quiet_since = max(self._last_throttle, self._last_recover)
        if now - quiet_since >= period and now >= self._paused_until:
            self._factor = min(1.0, self._factor * _RECOVER)
            # Kept apart from _last_throttle so a 429 right after a step up still cuts the rate.
            self._last_recover = now
            self._buckets.clear()


def _admit(buckets: list[InMemoryBucket], item: RateItem) -> int:
    """Put ``item`` in every bucket, or in none; return 0 when admitted, else the wait in ms."""
    admitted: list[InMemoryBucket] = []
    wait_ms = 0
    for bucket in buckets:
        if bucket.put(item):
            admitted.append(bucket)
        else:
            # An in-memory bucket answers at once; only remote backends return awaitables.
            wait_ms = max(wait_ms, cast(int, bucket.waiting(item)), 1)
    if wait_ms:
        # Refused by one rule: take the permit back from the rules that had admitted it.
        for bucket in admitted:
            bucket.items.pop()
    return wait_ms


def _ms(seconds: float) -> int:
    return int(seconds * 1000)
