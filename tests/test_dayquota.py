"""The calendar-day quota: resets at 00:00 UTC, not 24 hours after the first request (fake clock)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from engine.clock import ManualClock
from engine.errors import Cancelled
from engine.limits.dayquota import DayQuota, next_midnight, pause_text


def epoch(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_next_midnight_is_the_next_utc_date_boundary() -> None:
    assert next_midnight(epoch("2026-12-01T23:59:59")) == epoch("2026-12-02T00:00:00")
    assert next_midnight(epoch("2026-12-02T00:00:00")) == epoch("2026-12-03T00:00:00")
    assert next_midnight(epoch("2026-12-31T12:00:00")) == epoch("2027-01-01T00:00:00")


def test_the_quota_resets_at_midnight_not_a_day_after_the_first_request() -> None:
    clock = ManualClock(epoch("2026-12-01T23:50:00"))
    quota = DayQuota(2, clock=clock)
    assert quota.take() == 0.0
    assert quota.take() == 0.0
    assert quota.take() == pytest.approx(600.0)  # ten minutes to 00:00 UTC, not 24 hours
    clock.advance(600.0)
    assert quota.take() == 0.0  # a new day, ten minutes after the day's first request
    assert quota.used == 1


def test_a_request_that_was_never_sent_is_given_back() -> None:
    quota = DayQuota(1, clock=ManualClock(epoch("2026-12-01T10:00:00")))
    assert quota.take() == 0.0
    quota.give_back()
    assert quota.take() == 0.0


def test_wait_pauses_once_until_midnight_then_resumes() -> None:
    clock = ManualClock(epoch("2026-12-01T23:00:00"))
    quota = DayQuota(1, clock=clock)
    quota.take()
    paused: list[float] = []
    resumed: list[bool] = []
    quota.wait(on_pause=paused.append, on_resume=lambda: resumed.append(True))
    assert paused == [epoch("2026-12-02T00:00:00")]
    assert resumed == [True]
    assert clock.now() == pytest.approx(epoch("2026-12-02T00:00:00"))
    # It slept in short steps, so a stop is noticed well before midnight.
    assert max(clock.slept) <= 30.0


def test_wait_stops_when_cancelled() -> None:
    clock = ManualClock(epoch("2026-12-01T12:00:00"))
    quota = DayQuota(1, clock=clock)
    quota.take()
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        quota.wait(cancel)


def test_the_pause_says_when_it_resumes() -> None:
    text = pause_text("deapi", 10, epoch("2026-12-02T00:00:00"))
    assert text == "deapi: daily limit reached (10/day), resumes at 00:00 UTC (2026-12-02)"
