"""Limiter arithmetic on a manual clock: admission times, pools, live changes, 429 back-off."""

from __future__ import annotations

import threading
from bisect import bisect_left
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.clock import ManualClock
from engine.errors import Cancelled, UsageError
from engine.limits.limiter import Limiter
from engine.limits.pools import INDEPENDENT, SHARED
from engine.limits.ratespec import RateSpec, parse_rate

T0 = 1000.0
# Each window is enforced 1% longer than written (at least 0.1 s, at most 0.25 s longer), and a
# refused caller wakes 1 ms after the blocking permit leaves the window: a 1 s window reopens after
# 1.101 s, a minute after 60.251 s (until a 429 widens the guard: see test_limiter_guard.py).
SECOND = 1.101
MINUTE = 60.251


@dataclass(frozen=True)
class Grant:
    t: float
    pool: str
    mode: str
    spec: RateSpec


class Recorder:
    """Drives one limiter from one thread on a manual clock and logs every permit."""

    def __init__(self, spec: str, mode: str = SHARED, pace: bool = False, **kwargs: float) -> None:
        # Unpaced by default: these tests pin the sliding-window arithmetic itself; pacing, which
        # only adds a per-slice rule on top, is tested in test_limiter_pacing.py.
        self.clock = ManualClock(T0)
        self.limiter = Limiter("asr", spec, mode=mode, clock=self.clock, pace=pace, **kwargs)
        self.log: list[Grant] = []
        self.pauses: list[tuple[int, float]] = []  # (permits granted before it, pause end)

    def grant(self, key: str = SHARED) -> float:
        permit = self.limiter.acquire(key)
        now = self.clock.now()
        self.log.append(Grant(now, permit.key, self.limiter.mode, self.limiter.spec))
        return now

    def grants(self, count: int, key: str = SHARED) -> list[float]:
        return [self.grant(key) for _ in range(count)]

    def throttle(self, retry_after: float | None) -> float:
        pause = self.limiter.throttle(retry_after)
        self.pauses.append((len(self.log), self.clock.now() + pause))
        return pause


def window_breaches(log: list[Grant]) -> list[str]:
    """Every grant whose closed window [t - interval, t] holds more than the limit then in force.

    A grant in shared mode counts every permit; a grant in independent mode counts its own pool's
    permits plus those granted in shared mode (which may have gone out under any key).
    """
    times = [g.t for g in log]
    breaches = []
    for i, grant in enumerate(log):
        for rule in grant.spec.rules:
            first = bisect_left(times, grant.t - rule.interval)
            inside = [g for g in log[first : i + 1]]
            if grant.mode == INDEPENDENT:
                inside = [g for g in inside if g.pool == grant.pool or g.mode == SHARED]
            if len(inside) > rule.limit:
                breaches.append(f"{len(inside)} > {rule} at t={grant.t - T0:.3f} ({grant.pool})")
    return breaches


def same(times: list[float], value: float) -> bool:
    return all(t == pytest.approx(value, abs=0.002) for t in times)


# -- exact admission arithmetic -------------------------------------------------------------------


def test_five_per_second_admits_bursts_of_five_one_window_apart() -> None:
    rec = Recorder("5/s")
    times = rec.grants(15)
    assert times[:5] == [T0] * 5
    assert same(times[5:10], T0 + SECOND)
    assert same(times[10:15], T0 + 2 * SECOND)
    assert not window_breaches(rec.log)


def test_a_caller_after_a_quiet_spell_is_admitted_without_waiting() -> None:
    rec = Recorder("5/s")
    rec.grants(5)
    rec.clock.advance(1.5)
    slept = len(rec.clock.slept)
    assert rec.grants(5) == [T0 + 1.5] * 5
    assert len(rec.clock.slept) == slept


def test_three_hundred_per_minute_admits_300_then_waits_a_full_minute() -> None:
    rec = Recorder("300/min")
    times = rec.grants(302)
    assert times[:300] == [T0] * 300
    assert same(times[300:], T0 + MINUTE)


def test_five_per_second_and_300_per_minute_hold_together() -> None:
    rec = Recorder("10/s")
    rec.grants(300)  # 30 bursts of ten, the last about 29.3 s in
    rec.limiter.set_spec("5/s,300/min")
    after = rec.grants(6)
    # The per-second rule alone would admit at once; the minute rule waits for the first burst to
    # leave its window, and then only five may go in the same second.
    assert same(after[:5], T0 + MINUTE)
    assert after[5] > after[4] + 1.0
    assert not window_breaches(rec.log)


def test_both_rules_of_a_combined_spec_bind() -> None:
    rec = Recorder("5/s,12/5s")
    times = rec.grants(13)
    assert same(times[:5], T0)
    assert same(times[5:10], T0 + SECOND)
    assert same(times[10:12], T0 + 2 * SECOND)
    assert times[12] == pytest.approx(T0 + 5.101, abs=0.002)
    assert not window_breaches(rec.log)


# -- pools ----------------------------------------------------------------------------------------


def test_shared_mode_pools_every_key() -> None:
    rec = Recorder("5/s")
    first = [rec.grant(key) for key in ("key-0", "key-1", "key-2", "key-0", "key-1")]
    assert first == [T0] * 5
    assert rec.grant("key-2") == pytest.approx(T0 + SECOND, abs=0.002)
    assert {g.pool for g in rec.log} == {SHARED}


def test_independent_mode_gives_each_key_the_full_limit() -> None:
    rec = Recorder("5/s", mode=INDEPENDENT)
    for key in ("key-0", "key-1", "key-2"):
        assert rec.grants(5, key) == [T0] * 5
    assert rec.grant("key-1") == pytest.approx(T0 + SECOND, abs=0.002)
    assert {g.pool for g in rec.log} == {"key-0", "key-1", "key-2"}
    assert not window_breaches(rec.log)


def test_unknown_mode_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        Limiter("asr", "5/s", mode="greedy")
    with pytest.raises(UsageError):
        Limiter("asr", "5/s").set_mode("greedy")


# -- live changes ---------------------------------------------------------------------------------


def test_lowering_the_spec_counts_permits_already_granted() -> None:
    rec = Recorder("10/s")
    rec.grants(4)
    rec.limiter.set_spec("5/s")
    assert rec.grant() == T0
    assert rec.grant() == pytest.approx(T0 + SECOND, abs=0.002)
    assert not window_breaches(rec.log)


def test_raising_the_spec_admits_more_at_once() -> None:
    rec = Recorder("5/s")
    rec.grants(5)
    rec.limiter.set_spec("10/s")
    assert rec.grants(5) == [T0] * 5
    assert rec.grant() == pytest.approx(T0 + SECOND, abs=0.002)


def test_a_short_spec_in_between_does_not_forget_the_long_window() -> None:
    rec = Recorder("300/min")
    rec.grants(300)
    rec.limiter.set_spec("5/s")
    rec.grants(50)
    rec.limiter.set_spec("300/min")
    assert rec.grant() >= T0 + 60.0
    assert not window_breaches(rec.log)


def test_switching_shared_to_independent_counts_shared_permits_against_each_key() -> None:
    rec = Recorder("5/s")
    rec.grants(5, "key-0")
    rec.limiter.set_mode(INDEPENDENT)
    assert rec.grant("key-1") == pytest.approx(T0 + SECOND, abs=0.002)
    assert not window_breaches(rec.log)


def test_switching_independent_to_shared_waits_for_all_keys_permits() -> None:
    rec = Recorder("5/s", mode=INDEPENDENT)
    for key in ("key-0", "key-1", "key-2"):
        rec.grants(5, key)
    rec.limiter.set_mode(SHARED)
    assert rec.grant("key-0") == pytest.approx(T0 + SECOND, abs=0.002)
    assert rec.limiter.mode == SHARED
    assert not window_breaches(rec.log)


def test_the_window_checker_catches_a_breach() -> None:
    spec = parse_rate("2/s")
    log = [Grant(T0 + d, SHARED, SHARED, spec) for d in (0.0, 0.5, 1.0)]
    assert window_breaches(log) == ["3 > 2/s at t=1.000 (shared)"]
    independent = [Grant(T0, f"key-{i}", INDEPENDENT, spec) for i in range(3)]
    assert window_breaches(independent) == []


SPECS = ["3/s", "5/2s", "2/s,5/4s", "10/5s", "4/s,6/3s", "1/s"]
KEYS = ["key-0", "key-1", "key-2"]
OPS = st.one_of(
    st.tuples(st.just("acquire"), st.sampled_from(KEYS)),
    st.tuples(st.just("acquire"), st.sampled_from(KEYS)),
    st.tuples(st.just("acquire"), st.sampled_from(KEYS)),
    st.tuples(st.just("advance"), st.sampled_from([0.0, 0.05, 0.3, 1.0, 2.5])),
    # A full window then a 429 widens the guard; a quiet minute narrows it again.
    st.tuples(st.just("fill"), st.sampled_from(KEYS)),
    st.tuples(st.just("advance"), st.just(61.0)),
    st.tuples(st.just("spec"), st.sampled_from(SPECS)),
    st.tuples(st.just("mode"), st.sampled_from([SHARED, INDEPENDENT])),
    st.tuples(st.just("throttle"), st.sampled_from([None, 0.4, 1.5])),
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    start=st.sampled_from(SPECS),
    mode=st.sampled_from([SHARED, INDEPENDENT]),
    ops=st.lists(OPS, max_size=60),
    pace=st.booleans(),
)
def test_no_window_ever_holds_more_than_the_limit(
    start: str, mode: str, ops: list, pace: bool
) -> None:
    rec = Recorder(start, mode=mode, pace=pace, recovery_period=2.0)
    for op, arg in ops:
        if op == "acquire":
            rec.grant(arg)
        elif op == "fill":
            rec.grants(rec.limiter.spec.rules[-1].limit, arg)
        elif op == "advance":
            rec.clock.advance(arg)
        elif op == "spec":
            rec.limiter.set_spec(arg)
        elif op == "mode":
            rec.limiter.set_mode(arg)
        else:
            rec.throttle(arg)
    assert window_breaches(rec.log) == []
    # Nobody is admitted while a 429 pause is in force.
    for before, end in rec.pauses:
        assert all(g.t >= end for g in rec.log[before:])


# -- 429 back-off ---------------------------------------------------------------------------------


def test_throttle_pauses_every_key_for_retry_after() -> None:
    rec = Recorder("5/s", mode=INDEPENDENT)
    rec.grant("key-0")
    assert rec.throttle(2.0) == 2.0
    assert rec.limiter.stats().paused_for == pytest.approx(2.0)
    assert rec.grant("key-1") >= T0 + 2.0
    assert rec.grant("key-2") >= T0 + 2.0


def test_throttle_without_retry_after_pauses_a_share_of_the_tightest_window() -> None:
    assert Recorder("5/s").throttle(None) == 1.0
    assert Recorder("300/min").throttle(None) == 15.0
    assert Recorder("100/h").throttle(None) == 30.0


def test_throttle_halves_the_effective_rate_once_per_burst() -> None:
    rec = Recorder("5/s,300/min")
    rec.throttle(1.0)
    rec.throttle(1.0)  # a second worker hitting the same 429
    stats = rec.limiter.stats()
    assert stats.factor == 0.5
    assert stats.effective == "2/s,150/min"
    assert stats.throttled == 2
    rec.clock.advance(1.0)
    times = rec.grants(3)
    assert times[:2] == [T0 + 1.0] * 2
    assert times[2] == pytest.approx(T0 + 1.0 + SECOND, abs=0.002)


def test_rate_recovers_step_by_step_after_quiet_periods() -> None:
    rec = Recorder("5/s", recovery_period=10.0)
    rec.throttle(1.0)
    factors, effective = [], []
    for _ in range(5):
        stats = rec.limiter.stats()
        factors.append(stats.factor)
        effective.append(stats.effective)
        rec.clock.advance(10.0)
    assert factors == pytest.approx([0.5, 0.625, 0.78125, 0.9765625, 1.0])
    assert effective == ["2/s", "3/s", "3/s", "4/s", "5/s"]
    # Back at full rate: five at once again.
    assert rec.grants(5) == [rec.clock.now()] * 5


def test_a_429_right_after_a_recovery_step_cuts_the_rate_again() -> None:
    rec = Recorder("8/s", recovery_period=5.0)
    rec.throttle(1.0)
    rec.clock.advance(5.0)
    assert rec.limiter.stats().factor == 0.625
    rec.clock.advance(0.1)
    rec.throttle(1.0)
    assert rec.limiter.stats().factor == 0.3125


# -- waiting callers --------------------------------------------------------------------------------


def test_cancel_set_before_acquire_raises_cancelled() -> None:
    rec = Recorder("5/s")
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        rec.limiter.acquire(cancel=cancel)
    assert rec.limiter.granted == 0


def test_cancel_while_waiting_raises_cancelled_and_clears_the_wait() -> None:
    rec = Recorder("5/s")
    rec.grants(5)
    cancel = threading.Event()
    calls: list[bool] = []

    def on_wait(waiting: bool) -> None:
        calls.append(waiting)
        if waiting:
            cancel.set()

    with pytest.raises(Cancelled):
        rec.limiter.acquire(cancel=cancel, on_wait=on_wait)
    assert calls == [True, False]
    assert rec.limiter.stats().waiting == 0
    assert rec.limiter.granted == 5


def test_on_wait_fires_once_each_way_only_when_the_caller_waits() -> None:
    rec = Recorder("5/s")
    calls: list[bool] = []
    for _ in range(5):
        rec.limiter.acquire(on_wait=calls.append)
    assert calls == []
    waits: list[tuple[bool, int]] = []
    permit = rec.limiter.acquire(on_wait=lambda w: waits.append((w, rec.limiter.stats().waiting)))
    # Announced before sleeping (with the caller counted as waiting), cleared once admitted.
    assert [w for w, _ in waits] == [True, False]
    assert waits[0][1] == 1
    assert permit.waited == pytest.approx(SECOND, abs=0.002)
    assert rec.limiter.stats().waiting == 0


def test_stats_report_spec_mode_and_recent_permits() -> None:
    rec = Recorder("5/s,300/min", mode=INDEPENDENT)
    rec.grants(3, "key-0")
    rec.clock.advance(61.0)
    rec.grants(2, "key-1")
    stats = rec.limiter.stats()
    assert (stats.service, stats.spec, stats.mode) == ("asr", "5/s,300/min", INDEPENDENT)
    assert stats.limit_per_min == 300.0
    assert stats.granted == 5
    assert stats.last_minute == 2
    assert stats.paused_for == 0.0
