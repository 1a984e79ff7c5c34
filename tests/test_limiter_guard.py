"""The window guard on a manual clock: 429s from arrival jitter widen it, quiet spells narrow it."""

from __future__ import annotations

import pytest

from engine.limits.pools import INDEPENDENT
from tests.test_limiter import T0, Recorder, window_breaches

# Retry-After of the local server's 429s; 429s 2.5 s apart are bursts of their own.
RETRY = 1.0
APART = 2.5


def widened(spec: str, times: int) -> Recorder:
    """A limiter whose window our own permits filled, then ``times`` 429 bursts."""
    rec = Recorder(spec)
    rec.grants(rec.limiter.spec.rules[-1].limit)
    for _ in range(times):
        rec.clock.advance(APART)
        rec.throttle(RETRY)
    return rec


def test_a_429_while_our_permits_fill_the_window_widens_the_guard_not_the_rate() -> None:
    rec = Recorder("300/10s")
    rec.grants(300)
    rec.clock.advance(0.5)
    assert rec.throttle(RETRY) == RETRY
    stats = rec.limiter.stats()
    assert (stats.factor, stats.effective, stats.effective_per_min) == (1.0, "300/10s", 1800.0)
    assert stats.guard == pytest.approx(0.2)
    assert stats.paused_for == pytest.approx(RETRY)
    # The next window opens 10.2 s after the first instead of 10.1 s, and then takes a full 300.
    times = rec.grants(301)
    assert times[0] == pytest.approx(T0 + 10.201, abs=0.002)
    assert times[299] == times[0]
    assert times[300] == pytest.approx(T0 + 20.402, abs=0.002)
    assert not window_breaches(rec.log)


def test_the_guard_doubles_per_burst_up_to_a_tenth_of_the_window_then_the_rate_halves() -> None:
    rec = widened("300/10s", 0)
    guards, factors = [], []
    for _ in range(5):
        rec.clock.advance(APART)
        rec.throttle(RETRY)
        stats = rec.limiter.stats()
        guards.append(stats.guard)
        factors.append(stats.factor)
    assert guards == pytest.approx([0.2, 0.4, 0.8, 1.0, 1.0])
    assert factors == [1.0, 1.0, 1.0, 1.0, 0.5]
    assert rec.limiter.stats().effective == "150/10s"


def test_workers_hitting_the_same_429_burst_widen_the_guard_once() -> None:
    rec = widened("300/10s", 1)
    rec.clock.advance(0.2)
    rec.throttle(RETRY)  # another worker, same burst
    rec.clock.advance(1.5)
    rec.throttle(RETRY)  # a request sent before the pause, delayed on its way
    stats = rec.limiter.stats()
    assert stats.guard == pytest.approx(0.2)
    assert stats.throttled == 3
    assert stats.paused_for == pytest.approx(RETRY)


def test_a_429_when_we_sent_below_the_limit_learns_that_count_and_keeps_the_guard() -> None:
    # The server has a lower limit (or another client shares the key): it took 249 before refusing.
    rec = Recorder("300/10s")
    rec.grants(250)
    rec.clock.advance(0.5)
    rec.throttle(5.0)  # its window frees slowly: the Retry-After is half of ours
    stats = rec.limiter.stats()
    assert (stats.factor, stats.effective) == (pytest.approx(249 / 300 * 0.97), "241/10s")
    assert stats.learnt == "~241/10s"
    assert stats.guard == pytest.approx(0.1)


def test_a_short_retry_after_on_a_long_window_steps_the_rate_down_a_little() -> None:
    # A quota counted over short slices (OpenAI: "60,000 requests/minute may be enforced as 1,000
    # requests/second"): we were only just over it, and a slot frees within a second.
    rec = Recorder("300/min")
    rec.grants(40)  # however few we sent over the minute
    rec.throttle(1.0)
    stats = rec.limiter.stats()
    assert (stats.factor, stats.effective) == (pytest.approx(0.95), "285/min")


def test_a_429_after_only_a_few_requests_halves_the_rate() -> None:
    # Too little sent to read the server's capacity from: others use the quota.
    rec = Recorder("300/10s")
    rec.grants(100)
    rec.throttle(5.0)
    stats = rec.limiter.stats()
    assert (stats.factor, stats.effective, stats.learnt) == (0.5, "150/10s", "")


def test_a_per_second_window_has_no_room_for_a_wider_guard_so_the_rate_drops() -> None:
    rec = Recorder("5/s")
    rec.grants(5)
    rec.throttle(RETRY)
    stats = rec.limiter.stats()
    # Five went, the fifth was refused: four per second is what the server took.
    assert (stats.factor, stats.effective) == (pytest.approx(0.8 * 0.97), "3/s")
    assert stats.guard == pytest.approx(0.1)


def test_only_the_filled_long_window_gets_the_wider_guard() -> None:
    rec = Recorder("10/s")
    rec.grants(300)  # 30 bursts of ten, the last about 32 s in
    rec.limiter.set_spec("5/s,300/min")
    rec.throttle(RETRY)
    assert rec.limiter.stats().guard == pytest.approx(0.5)
    after = rec.grants(6)
    # The minute window now reopens 60.5 s after the first burst; the per-second rule keeps its
    # 0.1 s guard (five at once, the sixth 1.101 s later).
    assert all(t == pytest.approx(T0 + 60.501, abs=0.002) for t in after[:5])
    assert after[5] == pytest.approx(after[4] + 1.101, abs=0.002)
    assert not window_breaches(rec.log)


@pytest.mark.parametrize(
    ("key_0", "key_1", "factor", "guard"),
    [
        (20, 10, 1.0, 0.2),  # one key filled its own window: jitter, so the guard widens
        (15, 15, 0.5, 0.1),  # 30 in all but each key under its 20: the rate is halved instead
    ],
)
def test_in_independent_mode_each_keys_own_window_decides(
    key_0: int, key_1: int, factor: float, guard: float
) -> None:
    rec = Recorder("20/10s", mode=INDEPENDENT)
    rec.grants(key_0, "key-0")
    rec.grants(key_1, "key-1")
    rec.throttle(RETRY)
    assert (rec.limiter.stats().factor, rec.limiter.stats().guard) == (factor, pytest.approx(guard))


def test_the_guard_narrows_step_by_step_after_a_minute_without_429s() -> None:
    rec = widened("300/10s", 4)
    assert rec.limiter.stats().guard == pytest.approx(1.0)
    guards = []
    for _ in range(10):
        rec.clock.advance(60.0)
        guards.append(rec.limiter.stats().guard)
    assert guards == pytest.approx(
        [0.75, 0.5625, 0.421875, 0.31640625, 0.2373, 0.1780, 0.1335, 0.1001, 0.1, 0.1], abs=1e-4
    )
    # Back at the base guard: a full window at once, the next 10.101 s later.
    times = rec.grants(301)
    assert times[300] == pytest.approx(times[0] + 10.101, abs=0.002)


def test_a_429_restarts_the_quiet_spell_and_widens_from_where_the_guard_was() -> None:
    rec = widened("300/10s", 4)
    rec.clock.advance(60.0)
    rec.clock.advance(60.0)
    assert rec.limiter.stats().guard == pytest.approx(0.5625)
    rec.grants(300)
    rec.throttle(RETRY)
    assert rec.limiter.stats().guard == pytest.approx(1.0)
    rec.clock.advance(59.0)
    assert rec.limiter.stats().guard == pytest.approx(1.0)


def test_a_spec_change_keeps_the_learnt_guard_within_the_new_windows_cap() -> None:
    rec = widened("300/10s", 3)
    assert rec.limiter.stats().guard == pytest.approx(0.8)
    rec.limiter.set_spec("5/s")  # a one-second window can spare 0.1 s at most
    assert rec.limiter.stats().guard == pytest.approx(0.1)
    rec.limiter.set_spec("300/min")
    assert rec.limiter.stats().guard == pytest.approx(0.8)
