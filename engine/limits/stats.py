"""What a limiter shows its readers: one frozen snapshot per service."""

from __future__ import annotations

from dataclasses import dataclass


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
