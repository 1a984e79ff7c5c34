"""What limiters on one shared quota (Redis) learn, as one limiter does alone: an unreachable service
gets one probe at a time.

Each limiter here stands for one process: its own client of the quota, its own clock.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.batch import Batch
from engine.clock import Clock
from engine.errors import Cancelled
from engine.inputs import read_inputs
from engine.items import State
from engine.limits.limiter import Limiter
from engine.limits.services import Service
from engine.limits.shared import SharedQuota
from engine.settings import Settings
from tests.mediagen import write_tone
from tests.servers.openai_api import OpenAIServer
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
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
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
    cursor = batch.board.cursor()
    batch.add_sources(read_inputs([str(m) for m in media]).sources)
    batch.engine.start()
    seen: list = []
    deadline = time.monotonic() + 30
    while not any(e.kind == "offline" for e in seen) and time.monotonic() < deadline:
        time.sleep(0.05)
        seen += cursor.pull().events
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
    with OpenAIServer(port=port) as server:
        assert batch.engine.wait_finished(60)
        answered = server.count(200)
    batch.engine.stop()
    batch.close()
    seen += cursor.pull().events
    assert {item.state for item in batch.board.items()} == {State.DONE}
    assert answered == len(media)
    assert [e.kind for e in seen].count("offline") == 1
    assert [e.kind for e in seen].count("online") == 1
    assert not [e for e in seen if e.kind == "failed"]
