"""The guard: how much longer than written each window is enforced, widened by 429s that jitter explains.

The server counts a request when it arrives, not when it was granted. A 429 that comes while our own
permits filled the window was caused by that arrival jitter, not by the rate: it widens the guard (up
to a cap) instead of cutting the rate, and the guard narrows again slowly once the 429s stop.
"""

from __future__ import annotations

from collections.abc import Sequence

from engine.limits.history import PermitLog
from engine.limits.ratespec import RateRule, RateSpec

# A permit granted at t and one granted at t + window may reach the server in the other order or
# closer together than they left us; a small guard on each window keeps the server's count honest.
# Thread scheduling alone moves a request by tens of milliseconds on a busy machine (60 ms measured
# on 2 loaded cores), so the guard never drops below _GUARD_MIN, even on a one-second window.
_GUARD_SHARE = 0.01
_GUARD_MIN = 0.1
_GUARD_MAX = 0.25
# Under heavy load the jitter reaches a second (p99 1.1 s with 64 workers on 2 loaded cores), far
# beyond that guard. A 429 while our own permits filled the window doubles the guard, up to 10% of the
# window and at most WIDE_MAX: a wider guard costs throughput (a 1 s guard on a 10 s window leaves
# 91% of the limit), so short windows get little and per-second rules none (they cut the rate instead).
_WIDE_SHARE = 0.1
WIDE_MAX = 1.0
# A widened guard shrinks by _NARROW after each _NARROW_AFTER seconds (or six of the longest windows,
# if longer) without a 429, so a passing load spike does not cost throughput for the rest of the run.
_NARROW = 0.75
_NARROW_AFTER = 60.0


def base(rule: RateRule) -> float:
    """The guard ``rule`` has until a 429 widens it."""
    return min(_GUARD_MAX, max(_GUARD_MIN, rule.interval * _GUARD_SHARE))


def cap(rule: RateRule) -> float:
    """The widest guard ``rule`` may get: a share of its window, never below its base guard."""
    return max(base(rule), min(WIDE_MAX, rule.interval * _WIDE_SHARE))


class Guard:
    """The guard learnt from 429s (0: each rule's base guard); the owner's lock guards it."""

    def __init__(self) -> None:
        self.widened = 0.0
        self._last_narrow = -1e18

    def of(self, rule: RateRule) -> float:
        """How much longer than written ``rule``'s window is enforced: its base or widened guard."""
        return min(cap(rule), max(base(rule), self.widened))

    def widest(self, spec: RateSpec) -> float:
        return max(self.of(rule) for rule in spec.rules)

    def widen(self, spec: RateSpec) -> None:
        self.widened = min(WIDE_MAX, 2 * self.widest(spec))

    def follow(self, shared: float, now: float) -> None:
        """A 429 elsewhere showed arrivals bunching: every process keeps the widest guard.

        Its quiet period starts now, as after a 429 of our own, then it narrows step by step.
        """
        if shared > self.widened:
            self.widened = min(WIDE_MAX, shared)
            self._last_narrow = max(self._last_narrow, now)

    def narrow(self, now: float, last_throttle: float, paused_until: float, spec: RateSpec) -> bool:
        """Shrink a widened guard for each quiet period gone by; True when it changed."""
        if self.widened <= 0.0:
            return False
        quiet = max(_NARROW_AFTER, 6 * spec.longest)
        quiet_since = max(last_throttle, self._last_narrow)
        steps = int((now - quiet_since) // quiet)
        if steps <= 0 or now < paused_until:
            return False
        # One step per quiet period gone by, however rarely anyone looked.
        self.widened *= _NARROW**steps
        if all(self.of(rule) <= base(rule) for rule in spec.rules):
            self.widened = 0.0
        self._last_narrow = quiet_since + steps * quiet
        return True

    def jitter_suspected(
        self,
        now: float,
        spec: RateSpec,
        log: PermitLog,
        shared_mode: bool,
        everyone: Sequence[int] | None = None,
    ) -> bool:
        """Whether a 429 now is better blamed on arrival jitter than on our rate.

        True when our own permits filled a window (one pool's, in independent mode) of a rule whose
        guard may still widen: the rate was right by our clock, and the server only saw more than the
        limit because delays on the way bunched the arrivals. The refused request was granted up to a
        jitter before ``now`` and the ones the server counted before it up to a jitter earlier still,
        so the count reaches two widest guards beyond the window. With a shared quota, ``everyone``
        holds those counts for every process on it (per rule), since our log has only ours.
        """
        for index, rule in enumerate(spec.rules):
            if self.of(rule) >= cap(rule):
                continue
            recent = log.recent(now - rule.interval - 2 * cap(rule))
            if everyone is not None and shared_mode:
                count = everyone[index]
            elif shared_mode:
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
