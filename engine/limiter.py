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

from pyrate_limiter import InMemoryBucket, Rate, RateItem

from engine.clock import Clock, MonotonicClock
from engine.errors import Cancelled
from engine.ratespec import RateSpec, parse_rate

SHARED = "shared"
INDEPENDENT = "independent"
MODES = (SHARED, INDEPENDENT)

# A permit granted at t and one granted at t + window may reach the server in the other order or
# closer together than they left us; a small guard on each window keeps the server's count honest.
_GUARD_SHARE = 0.01
_GUARD_MAX = 0.25
# After a 429 the effective rate is cut by this factor and grows back by _RECOVER per quiet period.
_BACKOFF = 0.5
_RECOVER = 1.25
_FLOOR = 0.05


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
        self._buckets: dict[str, InMemoryBucket] = {}
        # (time, pool key, granted in shared mode) for every permit within the longest window.
        self._history: deque[tuple[float, str, bool]] = deque()
        self._factor = 1.0
        self._paused_until = 0.0
        self._last_throttle = -1e18
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
                        bucket = self._bucket(pool, now)
                        item = RateItem(self.service, _ms(now))
                        if bucket.put(item):
                            self._history.append((now, pool, self._mode == SHARED))
                            self._trim(now)
                            self.granted += 1
                            return Permit(self.service, pool, now - started)
                        wait_ms = bucket.waiting(item)
                        delay = max(0.001, (wait_ms if wait_ms > 0 else 1) / 1000.0)
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

    def _bucket(self, pool: str, now: float) -> InMemoryBucket:
        bucket = self._buckets.get(pool)
        if bucket is None:
            spec = self.effective_spec()
            rates = [
                Rate(rule.limit, _ms(rule.interval + min(_GUARD_MAX, rule.interval * _GUARD_SHARE)))
                for rule in spec.rules
            ]
            bucket = InMemoryBucket(rates)
            # Seed with every recent permit that counts against this pool: all of them for the shared
            # pool; for an independent pool its own plus those granted while the mode was shared.
            shared = pool == SHARED
            bucket.items.extend(
                RateItem(self.service, _ms(t))
                for t, owner, was_shared in self._history
                if shared or owner == pool or was_shared
            )
            self._buckets[pool] = bucket
        elif self.granted % 64 == 0:
            bucket.leak(_ms(now))
        return bucket

    def _trim(self, now: float) -> None:
        horizon = now - self._spec.longest - _GUARD_MAX - 1.0
        history = self._history
        while history and history[0][0] < horizon:
            history.popleft()

    def _maybe_recover(self, now: float) -> None:
        if self._factor >= 1.0:
            return
        period = self._recovery_period or max(5.0, min(self._spec.longest / 4, 60.0))
        if now - self._last_throttle >= period and now >= self._paused_until:
            self._factor = min(1.0, self._factor * _RECOVER)
            self._last_throttle = now
            self._buckets.clear()


def _ms(seconds: float) -> int:
    return int(seconds * 1000)
