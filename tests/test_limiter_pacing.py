"""Pacing, what the server teaches, capped pauses and outages: limiter arithmetic on a manual clock."""

from __future__ import annotations

import pytest

from engine.clock import ManualClock
from engine.limits.headers import ServerQuota, learn_rule, parse_duration, quota_from_headers
from engine.limits.limiter import Limiter
from engine.limits.ratespec import RateRule
from tests.servers.openai_api import max_in_window

T0 = 1000.0


def limiter(spec: str, **kwargs: object) -> tuple[Limiter, ManualClock]:
    clock = ManualClock(T0)
    return Limiter("asr", spec, clock=clock, **kwargs), clock  # type: ignore[arg-type]


def grant_times(lim: Limiter, clock: ManualClock, count: int) -> list[float]:
    times = []
    for _ in range(count):
        lim.acquire()
        times.append(clock.now() - T0)
    return times


def test_a_minute_quota_goes_out_a_second_at_a_time_never_all_at_once() -> None:
    lim, clock = limiter("300/min")
    times = grant_times(lim, clock, 300)
    assert times[:5] == [0.0] * 5
    assert times[5] == pytest.approx(1.001, abs=0.002)
    assert max_in_window(times, 1.0) == 5
    # A server counting the same quota over 10 s slices (50 each) is never over it by our clock.
    assert max_in_window(times, 10.0) == 50
    # And the whole quota still fits in the minute: pacing costs no throughput.
    assert times[-1] < 60.0


def test_a_rate_that_does_not_divide_a_second_is_paced_without_losing_any() -> None:
    lim, clock = limiter("200/min")
    times = grant_times(lim, clock, 200)
    # 4 per 1.2 s is exactly 200/min; 3 per second would have lost a tenth.
    assert max_in_window(times, 1.2) == 4
    assert times[-1] < 60.0


def test_short_windows_keep_their_bursts_and_pacing_can_be_turned_off() -> None:
    lim, clock = limiter("5/s")
    assert grant_times(lim, clock, 5) == [0.0] * 5
    lim, clock = limiter("300/min", pace=False)
    assert grant_times(lim, clock, 300) == [0.0] * 300
    assert lim.stats().rate_state == "bursts"


def test_headers_teach_the_servers_window_and_it_becomes_a_rule() -> None:
    lim, clock = limiter("300/min")
    events: list[tuple[str, str]] = []
    lim.on_event = lambda kind, text: events.append((kind, text))
    lim.observe(ServerQuota(50, 49, 0.2))
    lim.observe(ServerQuota(50, 45, 1.0))
    stats = lim.stats()
    assert (stats.learnt, stats.rate_state, stats.effective) == (
        "50/10s",
        "learnt 50/10s",
        "50/10s,300/min",
    )
    assert events == [("learnt", "asr: server allows 50/10s (its x-ratelimit headers)")]
    times = grant_times(lim, clock, 120)
    # The learnt rule carries its own guard: a 10 s server window never sees 50 of ours.
    assert max_in_window(times, 10.0) <= 50
    assert max_in_window(times, 10.1) <= 50


def test_a_lower_limit_in_the_headers_lowers_the_rate() -> None:
    lim, clock = limiter("300/min")
    lim.observe(ServerQuota(200, 199, 0.3))
    assert lim.stats().effective == "200/min"
    times = grant_times(lim, clock, 201)
    assert times[-1] >= 60.0


def test_a_daily_quota_in_the_headers_is_shown_but_not_a_rule() -> None:
    # Groq's documented example: 14400 a day, 14370 left, full again in 2m59.56s.
    quota = quota_from_headers(
        {
            "x-ratelimit-limit-requests": "14400",
            "x-ratelimit-remaining-requests": "14370",
            "x-ratelimit-reset-requests": "2m59.56s",
        }
    )
    assert quota == ServerQuota(14400, 14370, pytest.approx(179.56))
    assert quota is not None and quota.window() == pytest.approx(86188.8)
    assert learn_rule(quota, [quota.window() or 0.0]) is None


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("6m0s", 360.0), ("1.2s", 1.2), ("20ms", 0.02), ("1h2m3s", 3723.0), ("7", 7.0)],
)
def test_reset_durations_read_as_openai_and_groq_write_them(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "soon", "5x", "-", "1.2s garbage"])
def test_unreadable_durations_are_none(text: str) -> None:
    assert parse_duration(text) is None


def test_one_early_reply_cannot_mislead_the_window_estimate() -> None:
    # First request of a fresh window on a bucket server: 1 of 50 used, reset rounded to 1s.
    windows = [50.0, 10.0, 10.2, 9.9, 10.0]
    assert learn_rule(ServerQuota(50, 0, 10.0), windows) == RateRule(50, 10.0)


def test_a_429_without_headers_teaches_a_ceiling_kept_for_a_while_then_probed() -> None:
    lim, clock = limiter("300/min", recovery_period=5.0)
    grant_times(lim, clock, 200)  # a server allowing 200 per minute refused the 200th
    lim.throttle(20.0)
    stats = lim.stats()
    ceiling = 199 / 300 * 0.97
    assert stats.factor == pytest.approx(ceiling)
    assert stats.learnt == "~193/min" and stats.rate_state == "429 pause 20s"
    clock.advance(20.0)
    assert lim.stats().rate_state == "learnt ~193/min"
    # Held at the ceiling for 20 recovery periods (100 s from the 429), then raised 5% at a time.
    for _ in range(15):
        clock.advance(5.0)
        assert lim.stats().factor == pytest.approx(ceiling)
    clock.advance(10.0)
    assert lim.stats().factor == pytest.approx(ceiling * 1.05)


def test_retry_after_is_capped_and_counted_down() -> None:
    lim, clock = limiter("300/min", max_pause=900.0)
    assert lim.throttle(86400.0) == 900.0
    assert lim.stats().rate_state == "429 pause 900s"
    clock.advance(893.0)
    assert lim.stats().rate_state == "429 pause 7s"


def test_an_outage_holds_permits_and_lets_one_probe_through_with_backoff() -> None:
    lim, clock = limiter("300/min")
    events: list[tuple[str, str]] = []
    lim.on_event = lambda kind, text: events.append((kind, text))
    assert lim.offline() == (True, 1.0)
    assert lim.offline() == (False, 1.0)  # another worker failing alongside: same outage
    assert lim.stats().rate_state == "offline, probe in 1s"
    lim.acquire()  # the probe, after the pause
    assert clock.now() == pytest.approx(T0 + 1.0)
    assert lim.offline() == (False, 2.0)  # the probe failed: wait twice as long
    assert lim.offline() == (False, 2.0)  # a worker whose request went before the probe's
    lim.acquire()
    assert clock.now() == pytest.approx(T0 + 3.0)
    lim.observe(None)  # it answered
    assert lim.stats().offline_for is None and lim.stats().rate_state == "paced"
    assert events == [("online", "asr: reachable again, carrying on")]
    before = clock.now()
    grant_times(lim, clock, 4)  # the rest of this second's slice (the probe took one)
    assert clock.now() == before
