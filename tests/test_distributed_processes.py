"""A coordinator and three workers, real processes over one real Redis, against the local API.

One worker is killed with SIGKILL mid-run, then the coordinator; the coordinator is resumed.
Nothing may be lost, nothing written twice, no window over the limit (judged, as in the shared-quota
tests, over a window shortened by half a second), and every transcript must be its own item's: the
local server answers with the frequency of the tone it was sent.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.mediagen import write_tone
from tests.servers.openai_api import OpenAIServer, max_in_window
from tests.servers.redis_server import RedisServer, redis_binary

ROOT = Path(__file__).resolve().parents[1]
LIMIT, WINDOW, JITTER = 12, 2.0, 0.5
ITEMS = 60
pytestmark = [
    pytest.mark.skipif(redis_binary() is None, reason="redis-server is not installed"),
    pytest.mark.timeout(180),
]


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    with RedisServer(tmp_path / "redis") as server:
        yield server


@pytest.fixture
def api() -> Iterator[OpenAIServer]:
    # Latency keeps items in flight long enough for a kill to catch some of them mid-request.
    with OpenAIServer(latency=0.3, limit=LIMIT, window=WINDOW) as server:
        yield server


def _env(tmp: Path, name: str) -> dict[str, str]:
    return {
        # Each process says it is a machine of its own (files are still readable at the same path).
        "BULKSCRIBE_HOST": f"host-{name}",
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp),
        "XDG_DATA_HOME": str(tmp / name / "data"),
        "XDG_CONFIG_HOME": str(tmp / name / "config"),
        "COLUMNS": "200",
        "NO_COLOR": "1",
        # Reclaim items whose worker stopped heartbeating after 2 s, not the default 30 s.
        "BULKSCRIBE_CLAIM_IDLE": "2",
    }


def _spawn(tmp: Path, name: str, argv: list[str], env_name: str) -> subprocess.Popen[str]:
    log = (tmp / f"{name}.err").open("a")
    return subprocess.Popen(
        [sys.executable, "-m", "tui.cli", *argv],
        cwd=ROOT,
        env=_env(tmp, env_name),
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _api_flags(api: OpenAIServer, key: str) -> list[str]:
    return [
        "--api-base", api.base_url, "--api-key", key, "--asr", "openai",
        "--rate-limit", f"{LIMIT}/{WINDOW:g}s", "--quota", "team", "--retries", "5",
    ]  # fmt: skip


def _wait(predicate, timeout: float, what: str) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _held(client, host: str) -> set[int]:  # noqa: ANN001
    """Item ids that the worker on ``host`` has taken and not finished."""
    key = client.get("bulkscribe:dist:latest")
    stream = f"bulkscribe:dist:{key}:items"
    pending = client.xpending_range(stream, "workers", "-", "+", 1000)
    mine = [p["message_id"] for p in pending if p["consumer"].startswith(f"{host}:")]
    ids = set()
    for eid in mine:
        for _, fields in client.xrange(stream, min=eid, max=eid):
            ids.add(json.loads(fields["item"])["id"])
    return ids


def _log(tmp: Path, name: str) -> str:
    return (tmp / f"{name}.err").read_text()


def test_killed_worker_and_coordinator_lose_nothing_and_write_nothing_twice(
    tmp_path: Path, api: OpenAIServer, redis_server: RedisServer
) -> None:
    media = tmp_path / "media"
    media.mkdir()
    freqs = [300 + 20 * i for i in range(ITEMS)]
    for freq in freqs:
        write_tone(media / f"tone-{freq}.wav", seconds=0.4, freq=freq)
    out = tmp_path / "out"
    coord_argv = [
        str(media), "--headless", "--new", "--output", str(out), "--workers", "2",
        "--redis", redis_server.url, "--distribute", *_api_flags(api, "sk-coord"),
    ]  # fmt: skip
    coordinator = _spawn(tmp_path, "coord", coord_argv, "coord")
    client = __import__("redis").Redis.from_url(redis_server.url, decode_responses=True)
    _wait(lambda: client.get("bulkscribe:dist:latest"), 30, "the coordinator's session")
    workers = [
        _spawn(
            tmp_path,
            f"w{i}",
            ["worker", "--redis", redis_server.url, "--workers", "4", *_api_flags(api, f"sk-w{i}")],
            f"w{i}",
        )
        for i in range(3)
    ]
    try:
        _wait(lambda: api.count(200) >= 15, 60, "a quarter of the batch")
        _wait(lambda: _held(client, "host-w0"), 30, "the first worker to hold items")
        os.kill(workers[0].pid, signal.SIGKILL)
        orphans = _held(client, "host-w0")
        workers[0].wait(10)
        _wait(lambda: api.count(200) >= 30, 60, "half of the batch")
        os.kill(coordinator.pid, signal.SIGKILL)
        coordinator.wait(10)
        at_crash = api.count(200)
        # The surviving workers go on while no coordinator listens; their results wait on Redis.
        _wait(lambda: api.count(200) >= at_crash + 6, 60, "workers to carry on alone")
        resume_argv = [
            "--resume", "--headless", "--workers", "2", *_api_flags(api, "sk-coord"),
        ]  # fmt: skip
        coordinator = _spawn(tmp_path, "coord", resume_argv, "coord")
        assert coordinator.wait(120) == 0, _log(tmp_path, "coord")
        for i in (1, 2):
            assert workers[i].wait(30) == 0, _log(tmp_path, f"w{i}")
    finally:
        for proc in (coordinator, *workers):
            if proc.poll() is None:
                proc.kill()

    assert "host host-w0 stopped heartbeating: lost" in _log(tmp_path, "coord")
    for name in ("coord", "w1", "w2"):
        assert "Traceback" not in _log(tmp_path, name), _log(tmp_path, name)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"] == {"done": ITEMS}, manifest["counts"]
    # One Markdown file per item, none twice (a second write would take "name (2).md").
    notes = sorted(out.glob("*.md"))
    assert len(notes) == ITEMS, [p.name for p in notes]
    for note in notes:
        freq = int(re.fullmatch(r"tone-(\d+)", note.stem).group(1))  # type: ignore[union-attr]
        assert f"tone {freq} hertz" in note.read_text(), note.name
    by_id = {row["id"]: row for row in manifest["items"]}
    # What the killed worker held was redone by the others; nothing it did not finish is its.
    assert orphans and all(by_id[i]["host"] != "host-w0" for i in orphans), orphans
    hosts = {row["host"] for row in manifest["items"]}
    assert {"host-coord", "host-w1", "host-w2"} <= hosts, hosts  # everyone worked
    assert max_in_window([a.t for a in api.arrivals], WINDOW - JITTER) <= LIMIT, api.count(429)
