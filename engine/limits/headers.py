"""What a server says about its own rate limit: x-ratelimit-* headers and Retry-After, read into rules.

OpenAI (platform.openai.com/docs/guides/rate-limits, "Rate limits in headers"):
    x-ratelimit-limit-requests      "The maximum number of requests that are permitted before
                                     exhausting the rate limit."              e.g. 60
    x-ratelimit-remaining-requests  "The remaining number of requests that are permitted before
                                     exhausting the rate limit."              e.g. 59
    x-ratelimit-reset-requests      "The time until the rate limit (based on requests) resets to its
                                     initial state."                          e.g. 1s
Groq (console.groq.com/docs/rate-limits) sends the same names, e.g. limit 14400, remaining 14370,
reset "2m59.56s", and "retry-after" (seconds) only on 429. Both examples are consistent with a bucket
that refills evenly: 1 of 60 used resets in 1 s on a minute's limit; 30 of 14400 in 2m59.56s on a
day's. So the window is about ``reset * limit / (limit - remaining)``.
"""

from __future__ import annotations

import email.utils
import re
import statistics
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from engine.limits.ratespec import RateRule

# Windows people and services actually use; an estimate is rounded up to the nearest of them.
_NICE: tuple[float, ...] = (1.0, 2.0, 5.0, 10.0, 15.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0)
_NICE += (900.0, 1800.0, 3600.0, 86400.0)
# Estimates this much below a nice window still round to it (the reply left a moment after the count).
_SLACK = 0.85
# Windows longer than this are daily quotas: our history cannot count them, so they are not rules.
LONGEST_LEARNT = 3600.0
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")


@dataclass(frozen=True, slots=True)
class ServerQuota:
    """The x-ratelimit-*-requests headers of one reply (any of them may be missing)."""

    limit: int | None
    remaining: int | None
    reset: float | None  # seconds

    def window(self) -> float | None:
        """The window this reply implies, or None when it cannot tell (nothing used yet)."""
        if self.limit is None or self.remaining is None or self.reset is None:
            return None
        used = self.limit - self.remaining
        if self.limit < 1 or used < 1 or self.reset <= 0:
            return None
        return self.reset * self.limit / used


def parse_duration(text: str | None) -> float | None:
    """``6m0s``, ``1.2s``, ``20ms``, ``2m59.56s``, ``1h``, or plain seconds (``7``); None if unreadable."""
    if not text:
        return None
    value = text.strip().lower()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    parts = _PART.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value:
        return None
    return sum(float(n) * _UNITS[u] for n, u in parts)


def quota_from_headers(headers: Mapping[str, str]) -> ServerQuota | None:
    """The request quota a reply announces, or None when it sends no x-ratelimit headers."""
    limit = _int(headers.get("x-ratelimit-limit-requests"))
    remaining = _int(headers.get("x-ratelimit-remaining-requests"))
    reset = parse_duration(headers.get("x-ratelimit-reset-requests"))
    if limit is None and remaining is None and reset is None:
        return None
    return ServerQuota(limit, remaining, reset)


def learn_rule(quota: ServerQuota, windows: Iterable[float]) -> RateRule | None:
    """The server's limit as a rule: its stated count over the window recent replies imply.

    The median of recent estimates, rounded up to a usual window: one early reply (one request
    used, a reset rounded to a whole second) cannot mislead it much.
    """
    estimates = list(windows)
    if quota.limit is None or quota.limit < 1 or not estimates:
        return None
    window = statistics.median(estimates)
    nice = next((w for w in _NICE if w * _SLACK <= window <= w / _SLACK or w >= window), None)
    if nice is None or nice > LONGEST_LEARNT:
        return None
    return RateRule(quota.limit, nice)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds (``"7"``) or an HTTP date; None when absent or unreadable.

    RFC 9110 section 10.2.3: ``Retry-After = HTTP-date / delay-seconds``.
    """
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(float(value.strip()))
    except ValueError:
        return None
