"""Four real headless bulkscribe processes, one Redis, one local API server: one quota for all.

The server counts every request when its headers arrive. Without the shared quota four processes
at 10/2s each would send four times the limit; with it the server sees the limit at most. Requests
are judged against a window shortened by half a second: what a grant needs to reach the server on a
loaded machine (the guard covers a tenth of that), so the check holds however busy CI is, and four
separate quotas would still break it in their first second.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.mediagen import write_tone
from tests.process_harness import api_flags, cli_env, log_of, spawn
from tests.servers.openai_api import Fault, OpenAIServer, max_in_window
from tests.servers.redis_server import RedisServer, redis_binary

LIMIT, WINDOW = 8, 2.0
JITTER = 0.5
pytestmark = [
    pytest.mark.skipif(redis_binary() is None, reason="redis-server is not installed"),
    pytest.mark.timeout(120),
]


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    with RedisServer(tmp_path / "redis") as server:
        yield server


@pytest.fixture
def api() -> Iterator[OpenAIServer]:
    with OpenAIServer(latency=0.05, limit=LIMIT, window=WINDOW) as server:
        yield server


def _media(folder: Path, first_freq: int, count: int) -> list[int]:
    folder.mkdir(parents=True)
    freqs = [first_freq + 10 * i for i in range(count)]
    for freq in freqs:
        write_tone(folder / f"tone-{freq}.wav", seconds=0.5, freq=freq)
    return freqs


def _start(
    tmp: Path, name: str, media: Path, api: OpenAIServer, redis_url: str, skew: str = ""
) -> subprocess.Popen[str]:
    # libfaketime moves the process's wall clock by ``skew`` seconds: what differs between hosts.
    # (Monotonic clocks are never compared across hosts; faking them also hangs timed waits.)
    prefix = ["faketime", "-f", skew] if skew else []
    env = cli_env(tmp, name, **({"FAKETIME_DONT_FAKE_MONOTONIC": "1"} if skew else {}))
    argv = [
        str(media), "--headless", "--new", "--workers", "4", "--redis", redis_url,
        "--output", str(tmp / name / "out"), *api_flags(api, f"sk-{name}", LIMIT, WINDOW, "team"),
    ]  # fmt: skip
    return spawn(tmp, name, argv, env, prefix)


def _finish(tmp: Path, names: list[str], procs: list[subprocess.Popen[str]]) -> dict[str, dict]:
    manifests = {}
    for name, proc in zip(names, procs, strict=True):
        code = proc.wait(timeout=100)
        log = log_of(tmp, name)
        assert code == 0, log
        assert "Traceback" not in log, log
        manifests[name] = json.loads((tmp / name / "out" / "manifest.json").read_text())
    return manifests


def _arrivals(api: OpenAIServer) -> list[float]:
    return [a.t for a in api.arrivals]


def test_four_processes_share_one_quota_and_every_item_is_done_once(
    tmp_path: Path, api: OpenAIServer, redis_server: RedisServer
) -> None:
    names = [f"p{i}" for i in range(4)]
    expected = {
        name: _media(tmp_path / f"media-{name}", 300 + 100 * i, 5) for i, name in enumerate(names)
    }
    procs = [_start(tmp_path, n, tmp_path / f"media-{n}", api, redis_server.url) for n in names]
    manifests = _finish(tmp_path, names, procs)

    for name in names:
        assert manifests[name]["counts"] == {"done": 5}, manifests[name]
    done = sorted(a.freq for a in api.arrivals if a.status == 200)
    assert done == sorted(f for freqs in expected.values() for f in freqs)  # each once
    # Every request the server saw, refused or not, counted on the server's clock.
    assert max_in_window(_arrivals(api), WINDOW - JITTER) <= LIMIT, api.count(429)
    # All four took part: the quota was shared, not taken by one process after another.
    assert {a.key for a in api.arrivals} == {f"sk-{n}" for n in names}


def test_a_429_seen_by_one_process_pauses_them_all(
    tmp_path: Path, api: OpenAIServer, redis_server: RedisServer
) -> None:
    names = [f"p{i}" for i in range(3)]
    for i, name in enumerate(names):
        _media(tmp_path / f"media-{name}", 300 + 100 * i, 5)
    # The fourth request, whoever sends it, is refused with Retry-After: 3.
    api.fault_fn = lambda index, key: Fault("429", retry_after=3) if index == 3 else None
    procs = [_start(tmp_path, n, tmp_path / f"media-{n}", api, redis_server.url) for n in names]
    manifests = _finish(tmp_path, names, procs)

    assert all(m["counts"] == {"done": 5} for m in manifests.values())
    refused = [a for a in api.arrivals if a.status == 429]
    assert len(refused) == 1
    after = [a for a in api.arrivals if a.t > refused[0].t]
    # Requests already granted may still arrive just after it; then nobody sends for the pause.
    late = [a for a in after if a.t > refused[0].t + JITTER]
    assert late, "the batch never carried on"
    assert min(a.t for a in late) - refused[0].t >= 3.0 - JITTER
    assert len({a.key for a in late}) >= 2


def test_redis_stopped_mid_run_pauses_everyone_and_nothing_fails(
    tmp_path: Path, api: OpenAIServer
) -> None:
    redis_server = RedisServer(tmp_path / "redis").start()
    try:
        names = [f"p{i}" for i in range(2)]
        for i, name in enumerate(names):
            _media(tmp_path / f"media-{name}", 300 + 100 * i, 8)
        procs = [_start(tmp_path, n, tmp_path / f"media-{n}", api, redis_server.url) for n in names]
        deadline = time.monotonic() + 30
        while api.count(200) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        redis_server.stop()
        stopped_at = time.monotonic()
        time.sleep(3.0)
        in_outage = [t for t in _arrivals(api) if t > stopped_at + JITTER]
        # Restarted empty on the same port: the log is gone, so nothing is admitted for a window.
        redis_server.start()
        manifests = _finish(tmp_path, names, procs)
    finally:
        redis_server.stop()

    assert in_outage == []
    assert all(m["counts"] == {"done": 8} for m in manifests.values())
    assert max_in_window(_arrivals(api), WINDOW - JITTER) <= LIMIT


@pytest.mark.skipif(shutil.which("faketime") is None, reason="faketime is not installed")
def test_processes_whose_clocks_disagree_by_a_second_still_share_exactly(
    tmp_path: Path, api: OpenAIServer, redis_server: RedisServer
) -> None:
    skews = {"ahead": "+0.5", "behind": "-0.5", "right": ""}
    for i, name in enumerate(skews):
        _media(tmp_path / f"media-{name}", 300 + 100 * i, 5)
    procs = [
        _start(tmp_path, name, tmp_path / f"media-{name}", api, redis_server.url, skew)
        for name, skew in skews.items()
    ]
    manifests = _finish(tmp_path, list(skews), procs)

    assert all(m["counts"] == {"done": 5} for m in manifests.values())
    assert max_in_window(_arrivals(api), WINDOW - JITTER) <= LIMIT, api.count(429)
    assert {a.key for a in api.arrivals} == {f"sk-{n}" for n in skews}
