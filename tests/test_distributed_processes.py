"""A coordinator and three workers, real processes over one real Redis, against the local API.

300 short items whose requests wait on the server's latency. One worker is killed with SIGKILL
mid-run, then the coordinator; the coordinator is resumed. Nothing may be lost, nothing written
twice, and the server refuses nothing: it counts requests over a window half a second shorter than
the quota's (what a grant needs to reach it on a loaded machine, as in the shared-quota tests).
Every transcript must be its own item's: the local server answers with the frequency it was sent.
"""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.process_harness import api_flags, cli_env, log_of, spawn, tone_folder, wait_until
from tests.servers.openai_api import OpenAIServer, max_in_window
from tests.servers.redis_server import RedisServer, redis_binary

LIMIT, WINDOW, JITTER = 60, 2.0, 0.5
ITEMS = 300
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
    with OpenAIServer(latency=0.3, limit=LIMIT, window=WINDOW - JITTER) as server:
        yield server


def _start(tmp: Path, name: str, argv: list[str], host: str) -> subprocess.Popen[str]:
    # Each process says it is a machine of its own (files are still readable at the same path);
    # items whose worker stopped heartbeating are reclaimed after 2 s, not the default 30 s.
    env = cli_env(tmp, host, BULKSCRIBE_HOST=f"host-{host}", BULKSCRIBE_CLAIM_IDLE="2")
    return spawn(tmp, name, argv, env)


def _flags(api: OpenAIServer, key: str) -> list[str]:
    return api_flags(api, key, LIMIT, WINDOW, "team")


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


def test_killed_worker_and_coordinator_lose_nothing_and_write_nothing_twice(
    tmp_path: Path, api: OpenAIServer, redis_server: RedisServer
) -> None:
    media = tone_folder(tmp_path / "media", [200 + 10 * i for i in range(ITEMS)])
    out = tmp_path / "out"
    coord_argv = [
        str(media), "--headless", "--new", "--output", str(out), "--workers", "2",
        "--redis", redis_server.url, "--distribute", *_flags(api, "sk-coord"),
    ]  # fmt: skip
    coordinator = _start(tmp_path, "coord", coord_argv, "coord")
    client = __import__("redis").Redis.from_url(redis_server.url, decode_responses=True)
    wait_until(lambda: client.get("bulkscribe:dist:latest"), 30, "the coordinator's session")
    worker_argv = ["worker", "--redis", redis_server.url, "--workers", "4"]
    workers = [
        _start(tmp_path, f"w{i}", [*worker_argv, *_flags(api, f"sk-w{i}")], f"w{i}")
        for i in range(3)
    ]
    try:
        wait_until(lambda: api.count(200) >= ITEMS // 5, 60, "a fifth of the batch")
        wait_until(lambda: _held(client, "host-w0"), 30, "the first worker to hold items")
        os.kill(workers[0].pid, signal.SIGKILL)
        orphans = _held(client, "host-w0")
        workers[0].wait(10)
        wait_until(lambda: api.count(200) >= ITEMS // 2, 60, "half of the batch")
        events = f"bulkscribe:dist:{client.get('bulkscribe:dist:latest')}:events"
        os.kill(coordinator.pid, signal.SIGKILL)
        coordinator.wait(10)
        # Trimmed while running: what the coordinator had committed was gone from the stream.
        added_at_crash = client.xinfo_stream(events)["entries-added"]
        left_at_crash = client.xlen(events)
        at_crash = api.count(200)
        # The surviving workers go on while no coordinator listens; their results wait on Redis.
        wait_until(lambda: api.count(200) >= at_crash + 30, 60, "workers to carry on alone")
        resume_argv = ["--resume", "--headless", "--workers", "2", *_flags(api, "sk-coord")]
        coordinator = _start(tmp_path, "coord", resume_argv, "coord")
        assert coordinator.wait(120) == 0, log_of(tmp_path, "coord")
        for i in (1, 2):
            assert workers[i].wait(30) == 0, log_of(tmp_path, f"w{i}")
    finally:
        for proc in (coordinator, *workers):
            if proc.poll() is None:
                proc.kill()

    assert "host host-w0 stopped heartbeating: lost" in log_of(tmp_path, "coord")
    for name in ("coord", "w1", "w2"):
        assert "Traceback" not in log_of(tmp_path, name), log_of(tmp_path, name)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"] == {"done": ITEMS}, manifest["counts"]
    # One Markdown file per item, none twice (a second write would take "name (2).md").
    notes = sorted(out.glob("*.md"))
    assert len(notes) == ITEMS, [p.name for p in notes]
    for note in notes:
        freq = re.fullmatch(r"tone-(\d+)", note.stem)
        assert freq is not None, note.name
        assert f"tone {freq.group(1)} hertz" in note.read_text(), note.name
    by_id = {row["id"]: row for row in manifest["items"]}
    # What the killed worker held was redone by the others; nothing it did not finish is its.
    assert orphans and all(by_id[i]["host"] != "host-w0" for i in orphans), orphans
    hosts = {row["host"] for row in manifest["items"]}
    assert {"host-coord", "host-w1", "host-w2"} <= hosts, hosts  # everyone worked
    with (out / "items.csv").open(encoding="utf-8-sig", newline="") as f:
        assert [row["host"] for row in csv.DictReader(f)] == [r["host"] for r in manifest["items"]]
    # The server refused nothing: no window of it held more than the limit.
    assert api.count(429) == 0, api.count(429)
    assert max_in_window([a.t for a in api.arrivals], WINDOW - JITTER) <= LIMIT
    # Results were kept on the events stream until the coordinator had them, and no longer.
    added, left = client.xinfo_stream(events)["entries-added"], client.xlen(events)
    assert left_at_crash < added_at_crash // 2, (added_at_crash, left_at_crash)
    assert added > ITEMS and left < ITEMS // 10, (added, left)
