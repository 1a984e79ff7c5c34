"""The rate factor 429s teach: cut to what the server took, held under that ceiling, then probed back up.

A 429 without x-ratelimit headers teaches a ceiling from how many we had sent when it came; a
Retry-After far shorter than our window says the server counts over a short one.
"""

from __future__ import annotations

from engine.limits.ratespec import RateRule

# After a 429 the effective rate is cut by this factor and grows back by _RECOVER per quiet period.
_BACKOFF = 0.5
_RECOVER = 1.25
_FLOOR = 0.05
# A ceiling taught by a 429 (no headers) is kept this many recovery periods before probing above it.
_CEILING_HOLD = 20
_CEILING_MARGIN = 0.97
# A Retry-After under this share of our window says the server's own window is short (a quantised
# quota): we were only just over it, so the rate steps down by _STEP_DOWN instead.
_SHORT_RETRY = 0.1
_STEP_DOWN = 0.95
_PROBE_STEP = 1.05


class RateFactor:
    """The share of the written limit granted now (1.0: all of it); the owner's lock guards it."""

    def __init__(self) -> None:
        self.value = 1.0
        # After a 429 without headers: the factor we stay under until _ceiling_until, then probe.
        self.ceiling = 1.0
        self._ceiling_until = -1e18
        self._last_recover = -1e18

    def cut(
        self,
        now: float,
        rule: RateRule,
        sent: int,
        retry_after: float | None,
        shared_mode: bool,
        period: float,
    ) -> None:
        """Lower the rate after a 429 that our own pacing cannot explain.

        ``rule`` is the longest rule and ``sent`` how many permits its window held. A Retry-After
        far shorter than our window means the server counts over a short one and we were just over
        it: step down a little. Otherwise, when we had sent a good share of the limit, the server's
        capacity is about what it took before refusing: the rate drops to just under that. Either way
        it stays there a while before probing higher. When we had sent little, others share the
        quota or the limit is far lower: halve and feel the way back.
        """
        limit = rule.limit * self.value
        # In independent mode a 429 does not say whose pool drew it, so nothing can be learnt.
        shared = shared_mode and sent >= 4
        short = retry_after is not None and retry_after <= rule.interval * _SHORT_RETRY
        if shared and short:
            # How much we sent over our long window says nothing about a short one.
            self.value = max(_FLOOR, self.value * _STEP_DOWN)
        elif shared and sent >= limit / 2:
            self.value = max(_FLOOR, min(self.value, (sent - 1) / rule.limit) * _CEILING_MARGIN)
        else:
            self.value = max(_FLOOR, self.value * _BACKOFF)
            return
        self.ceiling = self.value
        self._ceiling_until = now + _CEILING_HOLD * period

    def recover(self, now: float, last_throttle: float, paused_until: float, period: float) -> bool:
        """Raise the factor one step once a quiet period has gone by; True when it changed."""
        if self.value >= 1.0:
            return False
        quiet_since = max(last_throttle, self._last_recover)
        if now - quiet_since < period or now < paused_until:
            return False
        if now < self._ceiling_until:
            # Taught by a 429: come back up to just under the rate that drew it, and stay.
            self.value = min(self.ceiling, self.value * _RECOVER)
        elif self.value >= self.ceiling:
            # Held long enough: probe above the ceiling a little at a time.
            self.value = min(1.0, self.value * _PROBE_STEP)
            self.ceiling = max(self.ceiling, self.value)
        else:
            self.value = min(1.0, self.value * _RECOVER)
        # Kept apart from the last throttle so a 429 right after a step up still cuts the rate.
        self._last_recover = now
        return True
