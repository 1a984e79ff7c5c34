"""Rate specs as people write them (``300/min``, ``5/s,300/min``) parsed into rules."""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.errors import UsageError

_UNITS = {
    "s": 1.0,
    "sec": 1.0,
    "second": 1.0,
    "seconds": 1.0,
    "m": 60.0,
    "min": 60.0,
    "minute": 60.0,
    "minutes": 60.0,
    "h": 3600.0,
    "hr": 3600.0,
    "hour": 3600.0,
    "hours": 3600.0,
    "d": 86400.0,
    "day": 86400.0,
    "days": 86400.0,
}
_RULE = re.compile(r"^\s*(\d+)\s*/\s*(\d*(?:\.\d+)?)\s*([a-z]+)\s*$")


@dataclass(frozen=True, slots=True)
class RateRule:
    """At most ``limit`` requests in any window of ``interval`` seconds."""

    limit: int
    interval: float

    @property
    def per_minute(self) -> float:
        return self.limit * 60.0 / self.interval

    def __str__(self) -> str:
        for name, seconds in (("d", 86400.0), ("h", 3600.0), ("min", 60.0), ("s", 1.0)):
            if self.interval == seconds:
                return f"{self.limit}/{name}"
            if self.interval > seconds and self.interval % seconds == 0:
                return f"{self.limit}/{int(self.interval // seconds)}{name}"
        return f"{self.limit}/{self.interval:g}s"


@dataclass(frozen=True, slots=True)
class RateSpec:
    """A set of rules that all hold at once, e.g. 5/s and 300/min."""

    rules: tuple[RateRule, ...]

    @property
    def per_minute(self) -> float:
        """The sustained ceiling in requests per minute (the tightest rule)."""
        return min(rule.per_minute for rule in self.rules)

    @property
    def longest(self) -> float:
        return max(rule.interval for rule in self.rules)

    def scaled(self, factor: float) -> RateSpec:
        """The same windows with limits scaled down (never below one request)."""
        return RateSpec(
            tuple(RateRule(max(1, int(rule.limit * factor)), rule.interval) for rule in self.rules)
        )

    def __str__(self) -> str:
        return ",".join(str(rule) for rule in self.rules)


def parse_rate(text: str) -> RateSpec:
    """Parse ``"300/min"``, ``"50/s"``, ``"5/s,300/min"`` or ``"10/2s"``.

    Raises UsageError with an example of the expected form.
    """
    rules: list[RateRule] = []
    for part in str(text).lower().split(","):
        if not part.strip():
            continue
        match = _RULE.match(part)
        if not match:
            raise UsageError(
                f"cannot read rate limit {part.strip()!r}",
                hint="write requests/period, e.g. 300/min, 50/s or 5/s,300/min",
            )
        limit, count, unit = int(match[1]), match[2], match[3]
        if unit not in _UNITS:
            raise UsageError(
                f"unknown time unit {unit!r} in rate limit {part.strip()!r}",
                hint="use s, min, h or d",
            )
        interval = (float(count) if count else 1.0) * _UNITS[unit]
        if limit < 1 or interval <= 0:
            raise UsageError(
                f"rate limit {part.strip()!r} must allow at least one request in a positive period"
            )
        rules.append(RateRule(limit, interval))
    if not rules:
        raise UsageError("empty rate limit", hint="e.g. 300/min")
    rules.sort(key=lambda rule: rule.interval)
    return RateSpec(tuple(rules))
