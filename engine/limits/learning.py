"""What a limiter learns from its service: 429 pauses, a guard or a lower rate, the server's own rule, outages.

A 429 that comes while our own permits filled a window is blamed on arrival jitter and widens the
guard (guard.py); any other lowers the rate factor (backoff.py). x-ratelimit headers teach the
server's own rule (headers.py). An unreachable service holds every permit but one probe (offline.py).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from engine.limits.backoff import RateFactor
from engine.limits.guard import Guard
from engine.limits.headers import ServerQuota, learn_rule
from engine.limits.history import PermitLog
from engine.limits.offline import Claim, Outage
from engine.limits.ratespec import RateRule, RateSpec

# Requests granted before we reacted to a 429 may still draw 429s for this long (grant-to-arrival
# delay, 1.9 s at most under load): those are echoes of the same burst, not new evidence.
_ECHO = 2.0


class Learning:
    """A service's pauses, rate factor, guard, learnt rule and outage; the limiter's lock guards it."""

    def __init__(self, recovery_period: float | None) -> None:
        self.paused_until = 0.0
        self.last_throttle = -1e18
        self._react_after = -1e18
        self.rate = RateFactor()
        self.guard = Guard()
        self.outage = Outage()
        # The server's own limit, from x-ratelimit headers (a rule of its own, never raised by us).
        self.learnt: RateRule | None = None
        self._quota_windows: deque[float] = deque(maxlen=16)
        self._recovery_period = recovery_period

    def effective(self, spec: RateSpec) -> RateSpec:
        """``spec`` as granted now: scaled by the rate factor, capped by the server's own rule."""
        factor = self.rate.value
        scaled = spec.scaled(factor) if factor < 1.0 else spec
        learnt = self.learnt
        if learnt is None or any(
            r.interval == learnt.interval and r.limit <= learnt.limit for r in scaled.rules
        ):
            return scaled
        rules = [r for r in scaled.rules if r.interval != learnt.interval] + [learnt]
        return RateSpec(tuple(sorted(rules, key=lambda r: r.interval)))

    def period(self, spec: RateSpec) -> float:
        """The quiet time after which a lowered rate steps back up."""
        return self._recovery_period or max(5.0, min(spec.longest / 4, 60.0))

    def throttle(
        self,
        now: float,
        pause: float,
        retry_after: float | None,
        spec: RateSpec,
        log: PermitLog,
        shared_mode: bool,
        everyone: Sequence[int] | None,
    ) -> bool:
        """A 429: pause everyone for ``pause`` s, then widen the guard or lower the rate once per burst.

        ``everyone`` counts every process's permits per rule on a shared quota. True when the
        windows must be rebuilt.
        """
        # Several workers often hit the same 429 burst: react once per burst. Nothing is granted
        # until the pause ends, so any 429 before then is from a request sent before it.
        react = now >= self._react_after
        self.paused_until = max(self.paused_until, now + pause)
        self._react_after = max(self._react_after, self.paused_until)
        if react:
            self._react_after = max(self._react_after, now + _ECHO)
            if self.guard.jitter_suspected(now, spec, log, shared_mode, everyone):
                self.guard.widen(spec)
            else:
                # We sent fewer than the limit, or the guard is already as wide as it may be:
                # the server's limit is lower than ours, or others use the same quota.
                rule = spec.rules[-1]
                sent = log.count(now - rule.interval - self.guard.of(rule))
                if everyone is not None:
                    sent = everyone[-1]
                self.rate.cut(now, rule, sent, retry_after, shared_mode, self.period(spec))
        self.last_throttle = now
        return react

    def follow(self, now: float, factor: float, guard: float) -> None:
        """A 429 elsewhere, told by a shared quota: every process slows and keeps the widest guard.

        ``factor`` and ``guard`` are what 429s taught since the quota's last answer (1.0 and 0.0
        when nothing). Never a step back up: each process takes those on its own quiet periods.
        """
        self.guard.follow(guard, now)
        if factor < self.rate.value - 1e-9:
            self.last_throttle = now
            self.rate.value = factor

    def recover(self, now: float, spec: RateSpec) -> bool:
        """Narrow the guard and raise the rate for the quiet time gone by; True when either moved."""
        # Checked on every attempt: nothing is computed while there is nothing to recover from.
        narrowed = self.guard.widened > 0.0 and self.guard.narrow(
            now, self.last_throttle, self.paused_until, spec
        )
        raised = self.rate.value < 1.0 and self.rate.recover(
            now, self.last_throttle, self.paused_until, self.period(spec)
        )
        return narrowed or raised

    def learn(self, quota: ServerQuota) -> RateRule | None:
        """Read a reply's x-ratelimit headers; the server's rule when it is new."""
        window = quota.window()
        if window is not None:
            self._quota_windows.append(window)
        rule = learn_rule(quota, self._quota_windows)
        if rule is None or rule == self.learnt:
            return None
        self.learnt = rule
        return rule

    def answered(self, now: float) -> bool:
        """A reply came; True when that ends an outage."""
        if not self.outage.answered():
            return False
        self.paused_until = min(self.paused_until, now)
        return True

    def failed(self, now: float) -> tuple[bool, float, bool]:
        """The service cannot be reached: (outage starts, seconds to the next probe, that moved)."""
        before = self.paused_until
        first, self.paused_until = self.outage.failed(now, before)
        return first, self.paused_until - now, self.paused_until != before

    def claim(self, now: float) -> Claim | None:
        """During an outage this attempt is the one probe and the rest wait for it; else None."""
        claim = self.outage.claim(now, self.paused_until)
        if claim is not None:
            self.paused_until = claim.until
        return claim

    def unclaim(self, claim: Claim | None) -> None:
        """No permit came of the attempt: a claimed probe goes to the next one."""
        if claim is not None:
            self.paused_until = self.outage.unclaim(claim, self.paused_until)

    def learnt_text(self, spec: RateSpec) -> str:
        if self.learnt is not None:
            return str(self.learnt)
        if self.rate.ceiling < 1.0:
            return f"~{spec.scaled(self.rate.ceiling).rules[-1]}"
        return ""

    def state(self, now: float, spec: RateSpec, pace: bool) -> str:
        """One short phrase for the head of a status line."""
        if self.outage.active:
            return f"offline, probe in {max(0.0, self.paused_until - now):.0f}s"
        if self.paused_until > now:
            return f"429 pause {self.paused_until - now:.0f}s"
        learnt = self.learnt_text(spec)
        if learnt:
            return f"learnt {learnt}"
        if self.rate.value < 1.0:
            return f"slowed {self.effective(spec)}"
        return "paced" if pace else "bursts"
