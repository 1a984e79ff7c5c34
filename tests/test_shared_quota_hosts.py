"""Two hosts for real: bulkscribe in two network namespaces, Redis and the API on a third.

Each namespace is a host of its own with its own network stack, reached over a veth pair: a
request from host A or B to the quota or the API crosses a real (virtual) link, as it would between
machines. The namespaces are made by the test and removed after it; without root or iproute2 it is
skipped, saying why.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.mediagen import write_tone
from tests.netns import namespace_hosts, netns_unavailable
from tests.process_harness import cli_env
from tests.servers.openai_api import OpenAIServer, max_in_window
from tests.servers.redis_server import RedisServer

ROOT = Path(__file__).resolve().parents[1]
LIMIT, WINDOW, JITTER = 8, 2.0, 0.5


pytestmark = [
    pytest.mark.skipif(netns_unavailable() is not None, reason=str(netns_unavailable())),
    pytest.mark.timeout(180),
]


@pytest.fixture
def hosts() -> Iterator[dict[str, str]]:
    """Hosts ``a`` and ``b`` (namespaces) -> the address of this (third) host as each one sees it."""
    with namespace_hosts(("a", "b")) as seen:
        yield seen


def test_bulkscribe_on_two_hosts_shares_one_quota(tmp_path: Path, hosts: dict[str, str]) -> None:
    addresses = list(hosts.values())
    redis_server = RedisServer(tmp_path / "redis", bind=" ".join(["127.0.0.1", *addresses]))
    with (
        redis_server,
        OpenAIServer(latency=0.05, limit=LIMIT, window=WINDOW, host="0.0.0.0") as api,
    ):
        api_port = urlsplit(api.base_url).port
        procs = []
        for i, (ns, gateway) in enumerate(hosts.items()):
            media = tmp_path / f"media-{ns}"
            media.mkdir()
            for k in range(6):
                write_tone(media / f"tone-{k}.wav", seconds=0.5, freq=300 + 100 * i + 10 * k)
            env = cli_env(tmp_path, ns, PATH="/usr/bin:/bin:/usr/sbin:/sbin")
            argv = [
                "ip", "netns", "exec", ns,
                sys.executable, "-m", "tui.cli", str(media), "--headless", "--new",
                "--asr", "openai", "--api-base", f"http://{gateway}:{api_port}/v1",
                "--api-key", f"sk-{ns}", "--rate-limit", f"{LIMIT}/{WINDOW:g}s",
                "--workers", "4", "--retries", "5",
                "--redis", f"redis://{gateway}:{redis_server.port}/0", "--quota", "hosts",
                "--output", str(tmp_path / ns / "out"),
            ]  # fmt: skip
            log = (tmp_path / f"{ns}.log").open("w")
            procs.append((ns, subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=log)))
        for ns, proc in procs:
            assert proc.wait(timeout=150) == 0, (tmp_path / f"{ns}.log").read_text()
        arrivals = api.arrivals

    for ns in hosts:
        manifest = json.loads((tmp_path / ns / "out" / "manifest.json").read_text())
        assert manifest["counts"] == {"done": 6}, manifest
    assert {a.key for a in arrivals} == {f"sk-{ns}" for ns in hosts}
    assert sum(1 for a in arrivals if a.status == 200) == 12
    assert max_in_window([a.t for a in arrivals], WINDOW - JITTER) <= LIMIT
