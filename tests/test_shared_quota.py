"""The shared quota's Lua sliding log against a real redis-server: exact under contention, restarts, pauses."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.errors import QuotaUnavailable
from engine.limits.shared import SharedQuota, quota_name
from tests.servers.redis_server import RedisServer, free_port, redis_binary

pytestmark = pytest.mark.skipif(redis_binary() is None, reason="redis-server is not installed")


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    with RedisServer(tmp_path / "redis") as server:
        yield server


def _max_in_window(stamps: list[float], window: float) -> int:
    stamps = sorted(stamps)
    best, lo = 0, 0
    for hi, t in enumerate(stamps):
        while stamps[lo] <= t - window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def _hammer(quota: SharedQuota, rules: list[tuple[int, float]], seconds: float) -> list[float]:
    """Ask for permits as fast as possible from 4 threads; return the Redis times of admissions."""
    stamps: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def run() -> None:
        while time.monotonic() < stop:
            decision = quota.admit("shared", rules)
            if decision.admitted:
                with lock:
                    stamps.append(decision.at)
            else:
                time.sleep(min(decision.wait, 0.05))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return stamps


_CHILD = """
import json, sys, threading, time
from engine.limits.shared import SharedQuota
from tests.test_shared_quota import _hammer
quota = SharedQuota.connect(sys.argv[1], "contended")
print(json.dumps(_hammer(quota, [(20, 1.0)], float(sys.argv[2]))))
"""


def test_four_processes_of_four_threads_never_exceed_the_limit_in_any_window(
    redis_server: RedisServer,
) -> None:
    root = Path(__file__).resolve().parents[1]
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, redis_server.url, "3.0"],
            cwd=root,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    stamps: list[float] = []
    shares = []
    for child in children:
        out, _ = child.communicate(timeout=60)
        assert child.returncode == 0
        mine = json.loads(out)
        shares.append(len(mine))
        stamps += mine
    # Counted on Redis's clock, the one the log uses: 16 threads in 4 processes, never 21 in 1 s.
    assert _max_in_window(stamps, 1.0) <= 20
    assert len(stamps) >= 20
    assert all(share > 0 for share in shares)


def test_every_rule_of_a_multi_rule_spec_holds_in_one_call(redis_server: RedisServer) -> None:
    quota = SharedQuota.connect(redis_server.url, "multi")
    rules = [(5, 1.0), (8, 30.0)]
    admitted = [quota.admit("shared", rules) for _ in range(7)]
    assert [d.admitted for d in admitted] == [True] * 5 + [False] * 2
    refused = admitted[-1]
    assert refused.reason == "full" and 0 < refused.wait <= 1.0
    time.sleep(refused.wait + 0.05)
    later = [quota.admit("shared", rules) for _ in range(5)]
    # The per-second rule lets five more in, the 30 s rule only three of them.
    assert [d.admitted for d in later] == [True] * 3 + [False] * 2
    assert later[-1].wait > 20


def test_pools_are_separate_but_share_pauses(redis_server: RedisServer) -> None:
    a = SharedQuota.connect(redis_server.url, "pools")
    b = SharedQuota.connect(redis_server.url, "pools")
    rules = [(2, 30.0)]
    assert [a.admit("key0", rules).admitted for _ in range(3)] == [True, True, False]
    assert b.admit("key1", rules).admitted
    # A 429 seen by one process pauses every pool of the quota, in every process, and slows them.
    assert a.throttle(2.0, 0.5) == 0.5
    paused = b.admit("key1", rules)
    assert not paused.admitted and paused.reason == "paused"
    assert 1.0 < paused.wait <= 2.0 and paused.factor == 0.5
    # A shorter pause never cuts a longer one; a higher factor never raises the shared one.
    assert a.throttle(0.1, 0.9) == 0.5
    assert b.admit("key1", rules).wait > 1.0
    b.recover(0.75)
    assert a.admit("key9", rules).factor == 0.75


def test_other_quotas_are_untouched(redis_server: RedisServer) -> None:
    a = SharedQuota.connect(redis_server.url, "one")
    b = SharedQuota.connect(redis_server.url, "two")
    assert a.admit("shared", [(1, 30.0)]).admitted
    a.throttle(5.0, 0.5)
    decision = b.admit("shared", [(1, 30.0)])
    assert decision.admitted and decision.factor == 1.0


def test_a_redis_restarted_empty_admits_nothing_for_one_longest_window(tmp_path: Path) -> None:
    port = free_port()
    rules = [(3, 2.0)]
    with RedisServer(tmp_path / "r1", port=port) as server:
        old = SharedQuota.connect(server.url, "restart")
        assert all(old.admit("shared", rules).admitted for _ in range(3))
    with RedisServer(tmp_path / "r2", port=port) as server:
        # The process that knew the old log notices it is gone and holds for one window...
        held = old.admit("shared", rules)
        assert not held.admitted and held.reason == "restarted"
        assert 1.5 < held.wait <= 2.0
        # ...and so does a process that never saw the old log, since the hold is in Redis.
        newcomer = SharedQuota.connect(server.url, "restart")
        assert newcomer.admit("shared", rules).reason == "restarted"
        time.sleep(held.wait + 0.05)
        assert newcomer.admit("shared", rules).admitted


def test_a_first_start_does_not_wait(redis_server: RedisServer) -> None:
    quota = SharedQuota.connect(redis_server.url, "fresh")
    assert quota.admit("shared", [(3, 60.0)]).admitted


def test_presence_counts_the_other_processes(redis_server: RedisServer) -> None:
    members = [SharedQuota.connect(redis_server.url, "team") for _ in range(3)]
    counts = [quota.heartbeat() for quota in members]
    assert counts == [0, 1, 2]
    members[2].leave()
    assert members[0].heartbeat() == 1


def test_total_use_counts_every_process(redis_server: RedisServer) -> None:
    a = SharedQuota.connect(redis_server.url, "total")
    b = SharedQuota.connect(redis_server.url, "total")
    for _ in range(3):
        a.admit("key0", [(10, 60.0)])
    b.admit("key1", [(10, 60.0)])
    assert a.last_minute() == b.last_minute() == 4


def test_an_unreachable_redis_is_a_typed_transient_error() -> None:
    quota = SharedQuota.connect(f"redis://127.0.0.1:{free_port()}/0", "gone", timeout=0.5)
    with pytest.raises(QuotaUnavailable) as caught:
        quota.admit("shared", [(1, 1.0)])
    assert caught.value.transient and caught.value.blocks
    assert "cannot reach" in caught.value.message


@pytest.mark.parametrize(
    ("base", "key"),
    [
        ("https://api.openai.com/v1", "sk-secret-123"),
        ("http://127.0.0.1:8000/v1/", "k:with/odd?chars"),
    ],
)
def test_the_default_quota_name_hides_the_key(base: str, key: str) -> None:
    name = quota_name(base, key)
    assert key not in name and "secret" not in name
    assert name == quota_name(base.rstrip("/") + "/", key)
    assert name != quota_name(base, key + "x") and name != quota_name(base + "x", key)


@pytest.mark.parametrize("url", ["http://127.0.0.1:6379", "127.0.0.1:6379", "redis//x"])
def test_a_redis_address_that_cannot_be_read_is_a_usage_error(url: str) -> None:
    from engine.errors import UsageError

    with pytest.raises(UsageError) as caught:
        SharedQuota.connect(url, "x")
    assert "redis://" in caught.value.user_text


def test_limiters_in_two_processes_slow_together_after_a_429(redis_server: RedisServer) -> None:
    from engine.limits.limiter import Limiter

    a = Limiter("asr", "100/min", quota=SharedQuota.connect(redis_server.url, "slow"))
    b = Limiter("asr", "100/min", quota=SharedQuota.connect(redis_server.url, "slow"))
    a.acquire()
    b.acquire()
    a.throttle(0.3)
    # b never saw the 429 itself; the quota tells it to pause, then to send at the lower rate.
    permit = b.acquire()
    assert permit.waited >= 0.2
    assert b.factor == a.factor < 1.0
    assert b.stats().effective_per_min < 100


def test_a_limiter_waits_while_redis_is_away_and_carries_on(tmp_path: Path) -> None:
    from engine.limits.limiter import Limiter

    server = RedisServer(tmp_path / "r").start()
    limiter = Limiter("asr", "5/2s", quota=SharedQuota.connect(server.url, "away", timeout=0.3))
    limiter.acquire()
    server.stop()
    got: list[float] = []
    worker = threading.Thread(target=lambda: got.append(limiter.acquire().waited))
    worker.start()
    deadline = time.monotonic() + 10
    while "offline" not in limiter.stats().quota_note and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "shared quota offline" in limiter.stats().quota_note
    assert limiter.stats().rate_state == "quota offline"  # first on the engine line
    assert got == []  # nothing admitted while Redis is away
    with RedisServer(tmp_path / "r2", port=server.port):
        worker.join(timeout=15)
        # Back, but empty: the permit waits out one window of the forgotten log, then is granted.
        assert got and got[0] > 0
        assert "offline" not in limiter.stats().quota_note


def test_a_permit_counts_from_when_its_request_left(redis_server: RedisServer) -> None:
    quota = SharedQuota.connect(redis_server.url, "sent")
    first = quota.admit("shared", [(1, 1.0)])
    assert first.admitted and first.member
    time.sleep(0.5)  # held up between the grant and the wire
    quota.sent("shared", first.member)
    refused = quota.admit("shared", [(1, 1.0)])
    # Counted from the send, the window is still nearly whole; from the grant it would be half gone.
    assert not refused.admitted and refused.wait > 0.85
