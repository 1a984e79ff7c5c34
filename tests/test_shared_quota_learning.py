"""What limiters on one shared quota (Redis) learn, as one limiter does alone: an unreachable service
gets one probe at a time, and the guard a 429 widened narrows again step by step.

Each limiter here stands for one process: its own client of the quota, its own clock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.batch import Batch
from engine.clock import Clock, ManualClock
from engine.errors import Cancelled
from engine.items import State
from engine.limits.limiter import Limiter
from engine.limits.services import Service
from engine.limits.shared import Decision, SharedQuota
from engine.settings import Settings
from tests.mediagen import write_tone
from tests.outage_support import come_back, free_port, start_until_offline
from tests.servers.redis_server import RedisServer, redis_binary

pytestmark = [
    pytest.mark.skipif(redis_binary() is None, reason="redis-server is not installed"),
    pytest.mark.timeout(120),
]

T0 = 1000.0


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    with RedisServer(tmp_path / "redis") as server:
        yield server


def shared(server: RedisServer, name: str, spec: str, clock: Clock | None = None) -> Limiter:
    """A limiter of one process on the quota ``name``, unpaced so a window fills at once."""
    quota = SharedQuota.connect(server.url, name)
    return Limiter("asr", spec, clock=clock, pace=False, quota=quota)


def attempt(limiter: Limiter) -> bool:
    """One try at a permit, as a worker's: True when granted, False when it would have to wait."""
    cancel = threading.Event()
    try:
        limiter.acquire(cancel=cancel, on_wait=lambda waiting: waiting and cancel.set())
    except Cancelled:
        return False
    return True


# -- the guard -------------------------------------------------------------------------------------


def widened(limiter: Limiter, clock: ManualClock) -> None:
    """Our own permits fill the 20/10s window, then a 429: arrival jitter, so the guard widens."""
    for _ in range(20):
        limiter.acquire()
    clock.advance(0.5)
    limiter.throttle(1.0)
    assert limiter.guard == pytest.approx(0.2)


def two_processes(
    server: RedisServer, name: str, spec: str
) -> tuple[tuple[Limiter, ManualClock], tuple[Limiter, ManualClock]]:
    """Two processes' limiters on the quota ``name``, each with its own clock."""
    clock_a, clock_b = ManualClock(T0), ManualClock(T0)
    return (shared(server, name, spec, clock_a), clock_a), (
        shared(server, name, spec, clock_b),
        clock_b,
    )


def quiet(seconds: float, *processes: tuple[Limiter, ManualClock]) -> None:
    """``seconds`` with no 429 pass for every process, then a worker of each asks again."""
    for _, clock in processes:
        clock.advance(seconds)
    for limiter, _ in processes:
        attempt(limiter)


def test_the_shared_guard_narrows_step_by_step_as_the_in_memory_one_does(
    redis_server: RedisServer,
) -> None:
    clocks = {"memory": ManualClock(T0), "shared": ManualClock(T0)}
    limiters = {
        "memory": Limiter("asr", "20/10s", clock=clocks["memory"], pace=False),
        "shared": shared(redis_server, "narrow", "20/10s", clocks["shared"]),
    }
    guards: dict[str, list[float]] = {"memory": [], "shared": []}
    for name, limiter in limiters.items():
        widened(limiter, clocks[name])
        for _ in range(4):
            clocks[name].advance(60.0)  # a quiet minute, then a worker asks again
            attempt(limiter)
            guards[name].append(limiter.guard)
    assert guards["memory"] == pytest.approx([0.15, 0.1125, 0.1, 0.1])
    # Before, every answer of the quota brought the widened guard back: 0.2 for ever.
    assert guards["shared"] == pytest.approx(guards["memory"])
    # What the quota holds narrowed too: a process that joins now starts from the base guard.
    newcomer = shared(redis_server, "narrow", "20/10s", ManualClock(T0))
    attempt(newcomer)
    assert newcomer.guard == pytest.approx(0.1)


def test_a_429_after_the_guard_narrowed_widens_it_again_from_there_for_everyone(
    redis_server: RedisServer,
) -> None:
    (a, clock_a), (b, clock_b) = two_processes(redis_server, "again", "20/10s")
    widened(a, clock_a)
    attempt(b)
    assert b.guard == pytest.approx(0.2)  # b never saw the 429: the quota told it
    quiet(60.0, (a, clock_a), (b, clock_b))
    assert (a.guard, b.guard) == (pytest.approx(0.15), pytest.approx(0.15))
    # Another 429 while the window is full: the guard doubles from where it was, in every process.
    clock_a.advance(1.0)
    a.throttle(1.0)
    attempt(b)
    assert (a.guard, b.guard) == (pytest.approx(0.3), pytest.approx(0.3))
    # And the quiet spell starts again for both: a minute later one step narrower, no more.
    quiet(60.0, (a, clock_a), (b, clock_b))
    assert (a.guard, b.guard) == (pytest.approx(0.225), pytest.approx(0.225))


def test_a_second_429_after_the_rate_came_back_up_cuts_it_again_for_everyone(
    redis_server: RedisServer,
) -> None:
    (a, clock_a), (b, clock_b) = two_processes(redis_server, "rate", "100/min")
    a.acquire()
    b.acquire()
    a.throttle(1.0)  # two sent of a hundred: the server's limit is lower, halve
    attempt(b)
    assert a.factor == b.factor == 0.5
    quiet(16.0, (a, clock_a), (b, clock_b))  # one quiet recovery period
    assert a.factor == b.factor == pytest.approx(0.625)
    clock_a.advance(1.0)
    a.throttle(1.0)
    attempt(b)
    assert a.factor == b.factor == pytest.approx(0.3125)


class HeldQuota(SharedQuota):
    """A real shared quota whose next answer, once asked to, is held on its way back."""

    def __init__(self, client: Any, name: str) -> None:
        super().__init__(client, name)
        self.hold, self.reached, self.release = (
            threading.Event(),
            threading.Event(),
            threading.Event(),
        )

    def admit(self, pool: str, rules: list[tuple[int, float]]) -> Decision:
        decision = super().admit(pool, rules)
        if self.hold.is_set():
            self.hold.clear()
            self.reached.set()
            self.release.wait(30)
        return decision


def test_an_answer_still_on_its_way_when_a_429_comes_does_not_undo_the_slow_down(
    redis_server: RedisServer,
) -> None:
    quota = HeldQuota.connect(redis_server.url, "in-flight")
    limiter = Limiter("asr", "100/min", quota=quota)
    other = shared(redis_server, "in-flight", "100/min")
    limiter.acquire()
    quota.hold.set()
    worker = threading.Thread(target=limiter.acquire)
    worker.start()
    assert quota.reached.wait(30)  # another worker's answer left Redis before the 429
    limiter.throttle(1.0)
    assert limiter.factor == 0.5
    quota.release.set()
    worker.join(30)
    # Before, the factor that answer carried (1.0, from before the 429) became ours again.
    assert limiter.factor == 0.5
    attempt(limiter)
    attempt(other)
    assert limiter.factor == other.factor == 0.5


# -- an unreachable service --------------------------------------------------------------------


def test_a_dead_service_gets_one_probe_at_a_time_not_the_rate_limit(
    redis_server: RedisServer,
) -> None:
    # 600/min, unpaced: the limit alone would let hundreds of requests at the dead service.
    limiter = shared(redis_server, "dead", "600/min")
    stop = threading.Event()
    lock = threading.Lock()
    sent: list[int] = []

    def worker() -> None:
        while True:
            try:
                limiter.acquire(cancel=stop)
            except Cancelled:
                return
            with lock:
                sent.append(1)
            limiter.offline()  # connection refused, every time

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    time.sleep(4.0)  # probes 1 s and 3 s after the first failure, the next one at 7 s
    stop.set()
    for thread in threads:
        thread.join(timeout=10)
    stats = limiter.stats()
    # Up to one request a worker before the first failure, then one probe at a time (two so far;
    # four allowed for slack). Before, every worker went again after the first second, as fast as
    # the quota answered.
    assert 2 <= len(sent) <= 8 + 4, len(sent)
    assert stats.rate_state.startswith("offline, probe in") and stats.offline_for is not None


def test_an_outage_in_one_process_holds_the_others_off_until_it_answers(
    redis_server: RedisServer,
) -> None:
    a = shared(redis_server, "hold", "600/min")
    b = shared(redis_server, "hold", "600/min")
    assert attempt(a) and attempt(b)
    a.offline()
    # As if a's next probe were ten minutes away (its probes failed for a long while).
    SharedQuota.connect(redis_server.url, "hold").offline(600.0)
    waiting = threading.Event()
    notes: list[str] = []
    granted: list[float] = []

    def on_wait(now_waiting: bool) -> None:
        if now_waiting:
            notes.append(b.stats().quota_note)
            waiting.set()

    worker = threading.Thread(target=lambda: granted.append(b.acquire(on_wait=on_wait).waited))
    worker.start()
    assert waiting.wait(30), "b was not held off"
    assert "unreachable" in notes[0]
    assert granted == []
    a.observe(None)  # a's probe got an answer: the service is back, for everyone
    worker.join(timeout=30)
    assert granted, "b was never let go"
    assert b.stats().quota_note == ""


@pytest.fixture
def media(tmp_path: Path) -> list[Path]:
    return [write_tone(tmp_path / f"tone-{f}.wav", 1.0, f) for f in (300.0, 500.0, 700.0)]


def test_a_batch_on_a_shared_quota_probes_a_dead_api_and_carries_on_once_it_answers(
    media: list[Path], tmp_path: Path, redis_server: RedisServer
) -> None:
    port = free_port()
    config = Settings(
        asr="openai",
        api_base=f"http://127.0.0.1:{port}/v1",
        api_keys=("sk-test",),
        workers=3,
        parallel=True,
        retries=1,
        redis=redis_server.url,
    )
    batch = Batch(config, tmp_path / "out")
    batch.engine.backoff = 0.02
    cursor, seen, _ = start_until_offline(batch, media)
    assert [e.kind for e in seen].count("offline") == 1
    limiter = batch.limits[Service.ASR]
    before = limiter.stats().granted
    time.sleep(4.0)
    during = limiter.stats().granted - before
    # Probes 1 s and 3 s into the outage, and workers that had their permit before the first failure
    # was seen (six allowed in all); before, the workers went at the 300/min limit's five a second.
    assert during <= 6, during
    assert limiter.stats().rate_state.startswith("offline, probe in")
    assert not [i for i in batch.board.items() if i.state is State.FAILED]
    come_back(batch, cursor, seen, port, media)
