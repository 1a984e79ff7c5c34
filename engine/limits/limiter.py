"""The Limiter: one external service's rate limit, its grant path, and how it reacts to 429s and outages.

Every permit is kept in a short log; when the spec, mode, worker count or effective rate changes,
the pools are rebuilt from it, so no window ever holds more than the limit across a change. The
windows live in a back end (windows.py: memory, or Redis); learning.py keeps what the service said.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable

from engine.clock import Clock, MonotonicClock
from engine.errors import Cancelled
from engine.events import EventKind
from engine.limits.guard import WIDE_MAX, cap
from engine.limits.headers import ServerQuota
from engine.limits.history import PermitLog
from engine.limits.learning import Claim, Learning
from engine.limits.memory_windows import MemoryWindows
from engine.limits.pacing import Rules, window_rules
from engine.limits.permit import Permit
from engine.limits.pools import INDEPENDENT, SHARED, check_mode
from engine.limits.ratespec import RateRule, RateSpec, parse_rate
from engine.limits.shared import SharedQuota
from engine.limits.shared_windows import SharedWindows
from engine.limits.stats import LimiterStats
from engine.limits.windows import Admission, Windows

# Retry-After is obeyed up to this long unless the caller sets another cap (86400 has been seen).
DEFAULT_MAX_PAUSE = 900.0
# History kept at least this long: stats report the last minute, and a change to a per-minute
# spec (the usual API quota) must count the permits already sent under a shorter one.
_MIN_HISTORY = 60.0


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
        pace: bool = True,
        max_pause: float = DEFAULT_MAX_PAUSE,
        quota: SharedQuota | None = None,
    ) -> None:
        self.service = service
        self._spec = parse_rate(spec) if isinstance(spec, str) else spec
        check_mode(mode)
        self._mode = mode
        self._clock = clock or MonotonicClock()
        self._lock = threading.Lock()
        self._log = PermitLog()
        self._learning = Learning(recovery_period)
        # (until, seconds): history a replaced spec's longer window still needs after a change.
        self._retain: list[tuple[float, float]] = []
        self._pace = pace
        self.max_pause = max_pause
        # Told of what the limiter learns or decides, e.g. the board's event log: (kind, text).
        self.on_event: Callable[[EventKind, str], None] | None = None
        self._waiting = 0
        self.granted = 0
        self.throttled = 0
        self._windows: Windows = (
            SharedWindows(quota)
            if quota is not None
            else MemoryWindows(service, self._log, self._lock, self._clock)
        )

    # -- configuration, all safe while workers are acquiring ---------------------------------

    @property
    def spec(self) -> RateSpec:
        return self._spec

    @property
    def mode(self) -> str:
        return self._mode

    @property
    def factor(self) -> float:
        return self._learning.rate.value

    @property
    def guard(self) -> float:
        """Seconds added to the most-guarded window to absorb arrival jitter."""
        with self._lock:
            return self._learning.guard.widest(self._spec)

    def set_spec(self, spec: RateSpec | str) -> None:
        new = parse_rate(spec) if isinstance(spec, str) else spec
        with self._lock:
            # Permits granted under the old spec stay in its windows: keep them for one of its
            # windows so a quick change back (300/min -> 5/s -> 300/min) still counts them.
            self._retain.append((self._clock.now() + self._spec.longest, self._spec.longest))
            self._spec = new
            self._windows.reset()

    def set_mode(self, mode: str) -> None:
        check_mode(mode)
        with self._lock:
            self._mode = mode
            self._windows.reset()

    @property
    def learnt(self) -> RateRule | None:
        """The server's own limit as read from its headers, or None."""
        return self._learning.learnt

    def effective_spec(self) -> RateSpec:
        return self._learning.effective(self._spec)

    # -- the grant path ----------------------------------------------------------------------

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
                permit, delay = self._attempt(key, started)
                if permit is not None:
                    return permit
                if not announced:
                    announced = True
                    with self._lock:
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

    def _attempt(self, key: str, started: float) -> tuple[Permit | None, float]:
        """One try at the windows: a permit, or how long to wait before the next try."""
        with self._lock:
            now = self._clock.now()
            self._maybe_recover(now)
            learning = self._learning
            if learning.paused_until > now:
                return None, learning.paused_until - now
            pool = key if self._mode == INDEPENDENT else SHARED
            factor, guard = learning.rate.value, learning.guard.widened
            probe = learning.claim(now)  # during an outage, the one probe: the rest wait for it
            if not self._windows.remote:
                answer = self._windows.admit(pool, self._rules, factor, guard, now)
                return self._settle(pool, started, now, answer, probe)
            rules = self._rules()
        # A round trip (Redis): made outside the lock, so the other workers need not queue behind it.
        answer = self._windows.admit(pool, lambda: rules, factor, guard, now)
        with self._lock:
            return self._settle(pool, started, None, answer, probe)

    def _settle(
        self, pool: str, started: float, now: float | None, answer: Admission, probe: Claim | None
    ) -> tuple[Permit | None, float]:
        """Turn a back end's answer into a permit; ``now`` is None after a round trip."""
        if answer.factor is not None:
            self._learning.follow(self._clock.now(), answer.factor, answer.guard)
        if not answer.admitted:
            self._learning.unclaim(probe)
            return None, answer.wait
        now = self._clock.now() if now is None else now
        entry = self._log.add(now, pool, self._mode == SHARED)
        self._trim(now)
        self.granted += 1
        on_sent = functools.partial(self._windows.sent, pool, entry, answer.token)
        return Permit(self.service, pool, now - started, on_sent), 0.0

    # -- what the service says ----------------------------------------------------------------

    def throttle(self, retry_after: float | None) -> float:
        """Record a 429: pause everyone for Retry-After (or a default); widen the guard or lower the rate.

        Returns the pause in seconds.
        """
        # With a shared quota our own log holds only our permits: ask the quota how many
        # everyone sent (a round trip, so before taking the lock).
        everyone = self._windows.recent(self._spec.rules, cap)
        with self._lock:
            now = self._clock.now()
            pause = retry_after if retry_after is not None and retry_after > 0 else None
            if pause is None:
                # No Retry-After: wait for a share of the tightest window.
                pause = min(max(1.0, self._spec.rules[0].interval / 4), 30.0)
            # A day-long Retry-After would leave the batch silent for a day: wait at most max_pause
            # (the countdown shows) and let the next 429 say again if the server still means it.
            pause = min(pause, self.max_pause)
            shared = self._mode == SHARED
            learning = self._learning
            if learning.throttle(now, pause, retry_after, self._spec, self._log, shared, everyone):
                self._windows.reset()
            self.throttled += 1
            factor, guard = learning.rate.value, learning.guard.widened
        # Everyone on a shared quota pauses and slows with us (outside the lock: a round trip).
        self._windows.throttle(pause, factor, guard)
        return pause

    def observe(self, quota: ServerQuota | None) -> None:
        """A reply came: the service is reachable, and its x-ratelimit headers may teach its limit."""
        learnt: RateRule | None = None
        with self._lock:
            back = self._learning.answered(self._clock.now())
            if quota is not None:
                learnt = self._learning.learn(quota)
                if learnt is not None:
                    self._windows.reset()
        self._windows.online()  # lifts a shared quota's hold for an outage, if there is one
        if back:
            self._tell(EventKind.ONLINE, f"{self.service}: reachable again, carrying on")
        if learnt is not None:
            text = f"{self.service}: server allows {learnt} (its x-ratelimit headers)"
            self._tell(EventKind.LEARNT, text)

    def offline(self) -> tuple[bool, float]:
        """The service cannot be reached: hold every permit, then let one probe through at a time.

        Returns (whether this starts an outage, seconds until the next probe).
        """
        with self._lock:
            first, probe, moved = self._learning.failed(self._clock.now())
        if moved:  # everyone on a shared quota holds off until our next probe too (a round trip)
            self._windows.offline(probe)
        return first, probe

    # -- reading ---------------------------------------------------------------------------

    def stats(self) -> LimiterStats:
        with self._lock:
            now = self._clock.now()
            self._maybe_recover(now)
            learning = self._learning
            effective = self.effective_spec()
            paused_for = max(0.0, learning.paused_until - now)
            return LimiterStats(
                service=self.service,
                spec=str(self._spec),
                mode=self._mode,
                effective=str(effective),
                factor=learning.rate.value,
                limit_per_min=self._spec.per_minute,
                effective_per_min=effective.per_minute,
                last_minute=self._log.count(now - 60.0),
                paused_for=paused_for,
                waiting=self._waiting,
                granted=self.granted,
                throttled=self.throttled,
                guard=learning.guard.widest(self._spec),
                learnt=learning.learnt_text(self._spec),
                offline_for=paused_for if learning.outage.active else None,
                rate_state=self._windows.state or learning.state(now, self._spec, self._pace),
                **self._windows.stats(),
            )

    # -- internals ---------------------------------------------------------------------------

    def _rules(self) -> Rules:
        """Each window of the effective spec with its guard, plus its pace."""
        return window_rules(self.effective_spec(), self._learning.guard.of, self._pace)

    def _trim(self, now: float) -> None:
        if self._retain:
            self._retain = [(until, span) for until, span in self._retain if until > now]
        learnt = self._learning.learnt.interval if self._learning.learnt is not None else 0.0
        keep = max([_MIN_HISTORY, self._spec.longest, learnt, *(s for _, s in self._retain)])
        # Also long enough for the jitter check, which looks two widest guards beyond the window.
        self._log.trim(now - keep - 2 * WIDE_MAX - 1.0)

    def _maybe_recover(self, now: float) -> None:
        if self._learning.recover(now, self._spec):
            self._windows.reset()

    def _tell(self, kind: EventKind, text: str) -> None:
        if self.on_event is not None:
            self.on_event(kind, text)
