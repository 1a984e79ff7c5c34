"""Per-service rate limiting on pyrate-limiter buckets: pacing, pools, live changes, 429s, outages.

Every permit handed out is kept in a short history (as long as the longest window). When the spec, the
mode, the worker count or the effective rate changes, the pools are rebuilt and seeded from that history,
so no sliding window ever holds more than the limit across a change.

Each window is enforced a little longer than written (the guard), because the server counts a request
when it arrives, not when it was granted. A 429 that comes while our own permits filled the window was
caused by that arrival jitter, not by the rate: it widens the guard (up to a cap) instead of cutting the
rate, and the guard narrows again slowly once the 429s stop.

Permits are paced: a long window's quota is spread over slices of about a second (300/min goes out as
5 per second, never 300 at once), because servers often count a per-minute quota over shorter slices.
What the server says about its own limit (x-ratelimit headers, see engine/quota.py) becomes one more
rule; a 429 without such headers teaches a ceiling from how many we had sent when it came.
"""

from __future__ import annotations

import functools
import math
import threading
from bisect import bisect_left
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

from pyrate_limiter import InMemoryBucket, Rate, RateItem

from engine.clock import Clock, MonotonicClock
from engine.errors import Cancelled
from engine.quota import ServerQuota, learn_rule
from engine.ratespec import RateRule, RateSpec, parse_rate
from engine.shared_quota import SharedQuota, SharedState

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
# Under heavy load the jitter reaches a second (p99 1.1 s with 64 workers on 2 loaded cores), far
# beyond that guard. A 429 while our own permits filled the window doubles the guard, up to 10% of the
# window and at most _WIDE_MAX: a wider guard costs throughput (a 1 s guard on a 10 s window leaves
# 91% of the limit), so short windows get little and per-second rules none (they cut the rate instead).
_WIDE_SHARE = 0.1
_WIDE_MAX = 1.0
# A widened guard shrinks by _NARROW after each _NARROW_AFTER seconds (or six of the longest windows,
# if longer) without a 429, so a passing load spike does not cost throughput for the rest of the run.
_NARROW = 0.75
_NARROW_AFTER = 60.0
# Requests granted before we reacted to a 429 may still draw 429s for this long (grant-to-arrival
# delay, 1.9 s at most under that load): those are echoes of the same burst, not new evidence.
_ECHO = 2.0
# After a 429 the effective rate is cut by this factor and grows back by _RECOVER per quiet period.
_BACKOFF = 0.5
_RECOVER = 1.25
_FLOOR = 0.05
# OpenAI: "Your rate limit may be quantized, meaning it is enforced over shorter periods of time
# (e.g. 60,000 requests/minute may be enforced as 1,000 requests/second)" (platform.openai.com/docs/
# guides/rate-limits). Each window longer than _SLICE is also enforced as its share per slice of
# about _SLICE seconds, with no guard of its own (the whole window keeps its guard).
_SLICE = 1.0
# A ceiling taught by a 429 (no headers) is kept this many recovery periods before probing above it.
_CEILING_HOLD = 20
_CEILING_MARGIN = 0.97
# A Retry-After under this share of our window says the server's own window is short (a quantised
# quota): we were only just over it, so the rate steps down by _STEP_DOWN instead.
_SHORT_RETRY = 0.1
_STEP_DOWN = 0.95
_PROBE_STEP = 1.05
# Retry-After is obeyed up to this long unless the caller sets another cap (86400 has been seen).
DEFAULT_MAX_PAUSE = 900.0
# An unreachable service is probed again after these many seconds, doubling up to the last.
_PROBE_FIRST = 1.0
_PROBE_MAX = 60.0
# History kept at least this long: stats report the last minute, and a change to a per-minute
# spec (the usual API quota) must count the permits already sent under a shorter one.
_MIN_HISTORY = 60.0


@dataclass(frozen=True, slots=True)
class Permit:
    """Proof of one admitted request; ``key`` is the pool it was drawn from.

    Call ``sent()`` once the request is on the wire: the limiter then counts it from that
    instant, the one the server's clock sees, rather than from the grant.
    """

    service: str
    key: str
    waited: float
    _on_sent: Callable[[], None] | None = field(default=None, repr=False, compare=False)

    def sent(self) -> None:
        if self._on_sent is not None:
            self._on_sent()


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
    # Seconds added to the longest-guarded window to absorb arrival jitter (0.1-0.25 unless widened).
    guard: float = 0.0
    # What the server was found to allow ("50/10s"), from its headers or its 429s; "" when nothing.
    learnt: str = ""
    # Seconds until the next probe of an unreachable service; None while it answers.
    offline_for: float | None = None
    # One short phrase for the head of a status line: paced, 429 pause 7s, learnt 50/10s, offline.
    rate_state: str = "paced"
    # With a shared quota (Redis): how many other processes use it, everyone's last minute, and why
    # nothing is admitted when the quota cannot be reached or came back empty.
    shared_with: int | None = None
    quota_last_minute: int | None = None
    quota_note: str = ""


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
        self._react_after = -1e18
        # Guard in seconds learnt from 429s (0: each rule's base guard); see _guard.
        self._widened = 0.0
        self._last_narrow = -1e18
        # (until, seconds): history a replaced spec's longer window still needs after a change.
        self._retain: list[tuple[float, float]] = []
        self._recovery_period = recovery_period
        self._pace = pace
        self.max_pause = max_pause
        # The server's own limit, from x-ratelimit headers (a rule of its own, never raised by us).
        self._learnt: RateRule | None = None
        self._quota_windows: deque[float] = deque(maxlen=16)
        # After a 429 without headers: the factor we stay under until _ceiling_until, then probe.
        self._ceiling = 1.0
        self._ceiling_until = -1e18
        # Outage: probe delay in seconds (0 while the service answers); whether a probe went out.
        self._probe = 0.0
        self._probe_sent = False
        # Told of what the limiter learns or decides, e.g. the board's event log: (kind, text).
        self.on_event: Callable[[str, str], None] | None = None
        self._waiting = 0
        self.granted = 0
        self.throttled = 0
        self._shared = SharedState(quota) if quota is not None else None

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

    @property
    def guard(self) -> float:
        """Seconds added to the most-guarded window to absorb arrival jitter."""
        with self._lock:
            return max(self._guard(rule) for rule in self._spec.rules)

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

    @property
    def learnt(self) -> RateRule | None:
        """The server's own limit as read from its headers, or None."""
        return self._learnt

    def effective_spec(self) -> RateSpec:
        spec = self._spec.scaled(self._factor) if self._factor < 1.0 else self._spec
        learnt = self._learnt
        if learnt is None or any(
            r.interval == learnt.interval and r.limit <= learnt.limit for r in spec.rules
        ):
            return spec
        rules = [r for r in spec.rules if r.interval != learnt.interval] + [learnt]
        return RateSpec(tuple(sorted(rules, key=lambda r: r.interval)))

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
                if self._shared is not None:
                    permit, delay = self._try_shared(key, started)
                    if permit is not None:
                        return permit
                    with self._lock:
                        if not announced:
                            announced = True
                            self._waiting += 1
                    if on_wait is not None and not signalled:
                        signalled = True
                        on_wait(True)
                    self._clock.sleep(min(delay, 0.25), cancel)
                    continue
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
                            if self._probe > 0:
                                # Unreachable: this permit is the one probe; the rest wait for it.
                                self._paused_until = now + self._probe
                                self._probe_sent = True
                            entry = (now, pool, self._mode == SHARED)
                            self._history.append(entry)
                            self._trim(now)
                            self.granted += 1
                            return Permit(
                                self.service,
                                pool,
                                now - started,
                                functools.partial(self._sent, pool, entry, item),
                            )
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
        """Record a 429: pause everyone for Retry-After (or a default); widen the guard or lower the rate.

        Returns the pause in seconds.
        """
        # With a shared quota our own history holds only our permits: ask the quota how many
        # everyone sent (a round trip, so before taking the lock).
        everyone = self._shared.recent(self._spec.rules, _cap) if self._shared is not None else None
        with self._lock:
            now = self._clock.now()
            pause = retry_after if retry_after is not None and retry_after > 0 else None
            if pause is None:
                # No Retry-After: wait for a share of the tightest window.
                pause = min(max(1.0, self._spec.rules[0].interval / 4), 30.0)
            # A day-long Retry-After would leave the batch silent for a day: wait at most max_pause
            # (the countdown shows) and let the next 429 say again if the server still means it.
            pause = min(pause, self.max_pause)
            # Several workers often hit the same 429 burst: react once per burst. Nothing is granted
            # until the pause ends, so any 429 before then is from a request sent before it.
            react = now >= self._react_after
            self._paused_until = max(self._paused_until, now + pause)
            self._react_after = max(self._react_after, self._paused_until)
            if react:
                self._react_after = max(self._react_after, now + _ECHO)
                if self._jitter_suspected(now, everyone):
                    self._widen()
                else:
                    # We sent fewer than the limit, or the guard is already as wide as it may be:
                    # the server's limit is lower than ours, or others use the same quota.
                    self._cut(now, retry_after, None if everyone is None else everyone[-1])
                self._buckets.clear()
            self._last_throttle = now
            self.throttled += 1
            factor, guard = self._factor, self._widened
        if self._shared is not None:
            # Everyone on the quota pauses and slows with us (outside the lock: it is a round trip).
            self._shared.throttle(pause, factor, guard)
        return pause

    def _try_shared(self, key: str, started: float) -> tuple[Permit | None, float]:
        """One attempt on the shared quota: a permit, or how long to wait before the next one."""
        assert self._shared is not None
        with self._lock:
            now = self._clock.now()
            self._maybe_recover(now)
            if self._paused_until > now:
                return None, self._paused_until - now
            pool = key if self._mode == INDEPENDENT else SHARED
            # The same rules as the in-memory pools: each window with its guard, plus its pace.
            rules: list[tuple[int, float]] = []
            for rule in self.effective_spec().rules:
                rules.append((rule.limit, rule.interval + self._guard(rule)))
                slice_ = _slice(rule) if self._pace else None
                if slice_ is not None:
                    rules.append((slice_.limit, slice_.interval))
            recovered = self._factor
        decision = self._shared.admit(pool, rules, recovered)
        if decision is None:
            return None, self._shared.retry_in()
        with self._lock:
            if decision.guard > self._widened:
                # A 429 elsewhere showed arrivals bunching: every process keeps the widest guard.
                self._widened = min(_WIDE_MAX, decision.guard)
            if abs(decision.factor - self._factor) > 1e-9:
                # The quota's factor is everyone's: a 429 elsewhere slows us; quiet here raises it.
                if decision.factor < self._factor:
                    self._last_throttle = self._clock.now()
                self._factor = decision.factor
            if not decision.admitted:
                return None, max(0.001, decision.wait)
            now = self._clock.now()
            self._history.append((now, pool, self._mode == SHARED))
            self._trim(now)
            self.granted += 1
            shared = self._shared
            return (
                Permit(
                    self.service,
                    pool,
                    now - started,
                    functools.partial(shared.sent, pool, decision.member),
                ),
                0.0,
            )

    def observe(self, quota: ServerQuota | None) -> None:
        """A reply came: the service is reachable, and its x-ratelimit headers may teach its limit."""
        back = False
        learnt: RateRule | None = None
        with self._lock:
            if self._probe > 0:
                back = True
                self._probe = 0.0
                self._probe_sent = False
                self._paused_until = min(self._paused_until, self._clock.now())
            if quota is not None:
                window = quota.window()
                if window is not None:
                    self._quota_windows.append(window)
                rule = learn_rule(quota, self._quota_windows)
                if rule is not None and rule != self._learnt:
                    self._learnt = learnt = rule
                    self._buckets.clear()
        if back:
            self._tell("online", f"{self.service}: reachable again, carrying on")
        if learnt is not None:
            self._tell(
                "learnt", f"{self.service}: server allows {learnt} (its x-ratelimit headers)"
            )

    def offline(self) -> tuple[bool, float]:
        """The service cannot be reached: hold every permit, then let one probe through at a time.

        Returns (whether this starts an outage, seconds until the next probe).
        """
        with self._lock:
            now = self._clock.now()
            first = self._probe == 0.0
            if first:
                self._probe = _PROBE_FIRST
                self._paused_until = max(self._paused_until, now + self._probe)
            elif self._probe_sent:
                # Only a probe that failed moves the backoff on, not workers failing alongside it.
                self._probe_sent = False
                self._probe = min(_PROBE_MAX, self._probe * 2)
                self._paused_until = max(self._paused_until, now + self._probe)
            return first, self._paused_until - now

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
                guard=max(self._guard(rule) for rule in self._spec.rules),
                learnt=self._learnt_text(),
                offline_for=max(0.0, self._paused_until - now) if self._probe > 0 else None,
                rate_state=self._state(now, effective),
                **(self._shared.stats() if self._shared is not None else {}),
            )

    def _learnt_text(self) -> str:
        if self._learnt is not None:
            return str(self._learnt)
        if self._ceiling < 1.0:
            return f"~{self._spec.scaled(self._ceiling).rules[-1]}"
        return ""

    def _state(self, now: float, effective: RateSpec) -> str:
        if self._shared is not None and self._shared.state:
            return self._shared.state
        if self._probe > 0:
            return f"offline, probe in {max(0.0, self._paused_until - now):.0f}s"
        if self._paused_until > now:
            return f"429 pause {self._paused_until - now:.0f}s"
        learnt = self._learnt_text()
        if learnt:
            return f"learnt {learnt}"
        if self._factor < 1.0:
            return f"slowed {effective}"
        return "paced" if self._pace else "bursts"

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
                rates = [Rate(rule.limit, _ms(rule.interval + self._guard(rule)))]
                slice_ = _slice(rule) if self._pace else None
                if slice_ is not None:
                    rates.append(Rate(slice_.limit, _ms(slice_.interval)))
                for rate in rates:
                    bucket = InMemoryBucket([rate])
                    bucket.items.extend(seed)
                    buckets.append(bucket)
            self._buckets[pool] = buckets
        else:
            for bucket in buckets:
                # Keep memory bounded: drop entries that have left the window now and then.
                if len(bucket.items) > 2 * bucket.rates[0].limit + 64:
                    bucket.leak(_ms(now))
        return buckets

    def _sent(self, pool: str, entry: tuple[float, str, bool], item: RateItem) -> None:
        """Move a permit from its grant to the instant its request left.

        The server counts a request when it arrives. A worker that was descheduled between the
        grant and the write (over 0.2 s on 2 loaded cores) would otherwise reach it later than
        the limiter assumed, next to requests granted a whole window after it: a 429 although
        the limiter never granted too many. Counted from the send, the gap cannot matter.
        """
        with self._lock:
            now = self._clock.now()
            if now <= entry[0]:
                return
            moved = (now, *entry[1:])
            history = self._history
            try:
                history.remove(entry)
            except ValueError:  # trimmed, or the pools were rebuilt from history since
                return
            history.insert(bisect_left(history, now, key=lambda e: e[0]), moved)
            stamp = RateItem(item.name, _ms(now), item.weight)
            for bucket in self._buckets.get(pool, ()):
                for index in range(len(bucket.items) - 1, -1, -1):
                    if bucket.items[index] is item:
                        del bucket.items[index]
                        bucket.items.insert(
                            bisect_left(bucket.items, stamp.timestamp, key=_stamp), stamp
                        )
                        break

    def _trim(self, now: float) -> None:
        if self._retain:
            self._retain = [(until, span) for until, span in self._retain if until > now]
        learnt = self._learnt.interval if self._learnt is not None else 0.0
        keep = max([_MIN_HISTORY, self._spec.longest, learnt, *(s for _, s in self._retain)])
        # Also long enough for _jitter_suspected, which looks two widest guards beyond the window.
        horizon = now - keep - 2 * _WIDE_MAX - 1.0
        history = self._history
        while history and history[0][0] < horizon:
            history.popleft()

    def _guard(self, rule: RateRule) -> float:
        """How much longer than written ``rule``'s window is enforced: its base or widened guard."""
        return min(_cap(rule), max(_base(rule), self._widened))

    def _widen(self) -> None:
        self._widened = min(_WIDE_MAX, 2 * max(self._guard(rule) for rule in self._spec.rules))

    def _cut(self, now: float, retry_after: float | None, everyone: int | None = None) -> None:
        """Lower the rate after a 429 that our own pacing cannot explain.

        A Retry-After far shorter than our window means the server counts over a short one and we
        were just over it: step down a little. Otherwise, when we had sent a good share of the
        limit, the server's capacity is about what it took before refusing: the rate drops to just
        under that. Either way it stays there a while before probing higher. When we had sent
        little, others share the quota or the limit is far lower: halve and feel the way back.
        """
        rule = self._spec.rules[-1]
        start = now - rule.interval - self._guard(rule)
        times = [t for t, _, _ in self._history]
        # With a shared quota, what every process on it sent (``everyone``), not only us.
        sent = len(times) - bisect_left(times, start) if everyone is None else everyone
        limit = rule.limit * self._factor
        # In independent mode a 429 does not say whose pool drew it, so nothing can be learnt.
        shared = self._mode == SHARED and sent >= 4
        short = retry_after is not None and retry_after <= rule.interval * _SHORT_RETRY
        if shared and short:
            # How much we sent over our long window says nothing about a short one.
            self._factor = max(_FLOOR, self._factor * _STEP_DOWN)
        elif shared and sent >= limit / 2:
            self._factor = max(_FLOOR, min(self._factor, (sent - 1) / rule.limit) * _CEILING_MARGIN)
        else:
            self._factor = max(_FLOOR, self._factor * _BACKOFF)
            return
        self._ceiling = self._factor
        period = self._recovery_period or max(5.0, min(self._spec.longest / 4, 60.0))
        self._ceiling_until = now + _CEILING_HOLD * period

    def _tell(self, kind: str, text: str) -> None:
        if self.on_event is not None:
            self.on_event(kind, text)

    def _jitter_suspected(self, now: float, everyone: list[int] | None = None) -> bool:
        """Whether a 429 now is better blamed on arrival jitter than on our rate.

        True when our own permits filled a window (one pool's, in independent mode) of a rule whose
        guard may still widen: the rate was right by our clock, and the server only saw more than the
        limit because delays on the way bunched the arrivals. The refused request was granted up to a
        jitter before ``now`` and the ones the server counted before it up to a jitter earlier still,
        so the count reaches two widest guards beyond the window. With a shared quota, ``everyone``
        holds those counts for every process on it (per rule), since our history has only ours.
        """
        history = list(self._history)
        times = [t for t, _, _ in history]
        for index, rule in enumerate(self._spec.rules):
            if self._guard(rule) >= _cap(rule):
                continue
            recent = history[bisect_left(times, now - rule.interval - 2 * _cap(rule)) :]
            if everyone is not None and self._mode == SHARED:
                count = everyone[index]
            elif self._mode == SHARED:
                count = len(recent)
            else:
                shared = sum(1 for _, _, was_shared in recent if was_shared)
                own: dict[str, int] = {}
                for _, pool, was_shared in recent:
                    if not was_shared:
                        own[pool] = own.get(pool, 0) + 1
                count = shared + max(own.values(), default=0)
            if count >= rule.limit:
                return True
        return False

    def _maybe_recover(self, now: float) -> None:
        if self._widened > 0.0:
            quiet = max(_NARROW_AFTER, 6 * self._spec.longest)
            quiet_since = max(self._last_throttle, self._last_narrow)
            steps = int((now - quiet_since) // quiet)
            if steps > 0 and now >= self._paused_until:
                # One step per quiet period gone by, however rarely anyone looked.
                self._widened *= _NARROW**steps
                if all(self._guard(rule) <= _base(rule) for rule in self._spec.rules):
                    self._widened = 0.0
                self._last_narrow = quiet_since + steps * quiet
                self._buckets.clear()
        if self._factor >= 1.0:
            return
        period = self._recovery_period or max(5.0, min(self._spec.longest / 4, 60.0))
        quiet_since = max(self._last_throttle, self._last_recover)
        if now - quiet_since >= period and now >= self._paused_until:
            if now < self._ceiling_until:
                # Taught by a 429: come back up to just under the rate that drew it, and stay.
                self._factor = min(self._ceiling, self._factor * _RECOVER)
            elif self._factor >= self._ceiling:
                # Held long enough: probe above the ceiling a little at a time.
                self._factor = min(1.0, self._factor * _PROBE_STEP)
                self._ceiling = max(self._ceiling, self._factor)
            else:
                self._factor = min(1.0, self._factor * _RECOVER)
            # Kept apart from _last_throttle so a 429 right after a step up still cuts the rate.
            self._last_recover = now
            self._buckets.clear()


def _stamp(item: RateItem) -> int:
    return item.timestamp


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


def _slice(rule: RateRule) -> RateRule | None:
    """``rule``'s share of a slice of about _SLICE seconds, or None for windows that short.

    The slice holds a whole number of permits at exactly the rule's rate: 200/min is paced as
    4 per 1.2 s, not 3 per second (which would lose a tenth of the quota).
    """
    if rule.interval <= _SLICE:
        return None
    per = math.ceil(rule.limit * _SLICE / rule.interval - 1e-9)
    if per >= rule.limit:
        return None
    return RateRule(per, per * rule.interval / rule.limit)


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


def _base(rule: RateRule) -> float:
    """The guard ``rule`` has until a 429 widens it."""
    return min(_GUARD_MAX, max(_GUARD_MIN, rule.interval * _GUARD_SHARE))


def _cap(rule: RateRule) -> float:
    """The widest guard ``rule`` may get: a share of its window, never below its base guard."""
    return max(_base(rule), min(_WIDE_MAX, rule.interval * _WIDE_SHARE))
