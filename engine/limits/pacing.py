"""Slice pacing: each long window's quota also enforced per slice of about a second, never in one burst."""

from __future__ import annotations

import math
from collections.abc import Callable

from engine.limits.ratespec import RateRule, RateSpec

# OpenAI: "Your rate limit may be quantized, meaning it is enforced over shorter periods of time
# (e.g. 60,000 requests/minute may be enforced as 1,000 requests/second)" (platform.openai.com/docs/
# guides/rate-limits). Each window longer than SLICE is also enforced as its share per slice of
# about SLICE seconds, with no guard of its own (the whole window keeps its guard).
SLICE = 1.0

# What a window back end enforces: (at most this many permits, in any window of these seconds).
Rules = list[tuple[int, float]]


def slice_of(rule: RateRule) -> RateRule | None:
    """``rule``'s share of a slice of about SLICE seconds, or None for windows that short.

    The slice holds a whole number of permits at exactly the rule's rate: 200/min is paced as
    4 per 1.2 s, not 3 per second (which would lose a tenth of the quota).
    """
    if rule.interval <= SLICE:
        return None
    per = math.ceil(rule.limit * SLICE / rule.interval - 1e-9)
    if per >= rule.limit:
        return None
    return RateRule(per, per * rule.interval / rule.limit)


def window_rules(spec: RateSpec, guard: Callable[[RateRule], float], pace: bool) -> Rules:
    """Every window a permit must fit: each rule lengthened by its guard, then its pace slice."""
    rules: Rules = []
    for rule in spec.rules:
        rules.append((rule.limit, rule.interval + guard(rule)))
        slice_ = slice_of(rule) if pace else None
        if slice_ is not None:
            rules.append((slice_.limit, slice_.interval))
    return rules
