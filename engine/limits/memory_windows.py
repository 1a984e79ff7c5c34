"""The in-memory window back end: pyrate-limiter buckets per pool, seeded from the permit log."""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Callable, Sequence
from typing import Any, cast

from pyrate_limiter import InMemoryBucket, Rate, RateItem

from engine.clock import Clock
from engine.limits.history import Entry, PermitLog
from engine.limits.pacing import Rules
from engine.limits.pools import SHARED
from engine.limits.ratespec import RateRule
from engine.limits.windows import Admission


class MemoryWindows:
    """Windows of one process; every call but ``sent`` is made under the limiter's lock."""

    remote = False
    state = ""

    def __init__(self, service: str, log: PermitLog, lock: threading.Lock, clock: Clock) -> None:
        self._service = service
        self._log = log
        self._lock = lock
        self._clock = clock
        self._buckets: dict[str, list[InMemoryBucket]] = {}

    def admit(
        self, pool: str, rules: Callable[[], Rules], factor: float, guard: float, now: float
    ) -> Admission:
        item = RateItem(self._service, _ms(now))
        wait_ms = _admit(self._bucket(pool, rules, now), item)
        if wait_ms == 0:
            return Admission(True, 0.0, item)
        return Admission(False, max(0.001, wait_ms / 1000.0))

    def sent(self, pool: str, entry: Entry, token: object) -> None:
        """Move a permit from its grant to the instant its request left.

        The server counts a request when it arrives. A worker that was descheduled between the
        grant and the write (over 0.2 s on 2 loaded cores) would otherwise reach it later than
        the limiter assumed, next to requests granted a whole window after it: a 429 although
        the limiter never granted too many. Counted from the send, the gap cannot matter.
        """
        item = cast(RateItem, token)
        with self._lock:
            now = self._clock.now()
            if now <= entry[0] or not self._log.move(entry, now):
                return
            stamp = RateItem(item.name, _ms(now), item.weight)
            for bucket in self._buckets.get(pool, ()):
                for index in range(len(bucket.items) - 1, -1, -1):
                    if bucket.items[index] is item:
                        del bucket.items[index]
                        bucket.items.insert(
                            bisect_left(bucket.items, stamp.timestamp, key=_stamp), stamp
                        )
                        break

    def reset(self) -> None:
        self._buckets.clear()

    def recent(
        self, rules: Sequence[RateRule], cap: Callable[[RateRule], float]
    ) -> list[int] | None:
        return None

    def throttle(self, pause: float, factor: float, guard: float) -> None:
        return None

    def offline(self, seconds: float) -> None:
        return None

    def online(self) -> None:
        return None

    def stats(self) -> dict[str, Any]:
        return {}

    def _bucket(self, pool: str, rules: Callable[[], Rules], now: float) -> list[InMemoryBucket]:
        buckets = self._buckets.get(pool)
        if buckets is None:
            # One single-rate bucket per rule: pyrate-limiter refuses a rate list whose density
            # rises with the interval (``5/s,300/min`` once the guard is added, or any scaled spec).
            # Seed with every recent permit that counts against this pool: all of them for the shared
            # pool; for an independent pool its own plus those granted while the mode was shared.
            shared = pool == SHARED
            seed = [
                RateItem(self._service, _ms(t))
                for t, owner, was_shared in self._log
                if shared or owner == pool or was_shared
            ]
            buckets = []
            for limit, window in rules():
                bucket = InMemoryBucket([Rate(limit, _ms(window))])
                bucket.items.extend(seed)
                buckets.append(bucket)
            self._buckets[pool] = buckets
        else:
            for bucket in buckets:
                # Keep memory bounded: drop entries that have left the window now and then.
                if len(bucket.items) > 2 * bucket.rates[0].limit + 64:
                    bucket.leak(_ms(now))
        return buckets


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


def _ms(seconds: float) -> int:
    return int(seconds * 1000)
