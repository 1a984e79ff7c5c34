"""A distributed batch across real network stacks: two workers, each in a network namespace of its
own, reach the coordinator's Redis and the API over veth links, as workers on other machines do.

The coordinator transcribes nothing itself (``--workers 0``): every item crosses a link. Skipped,
saying why, where namespaces cannot be made (no root, no iproute2).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.netns import namespace_hosts, netns_unavailable
from tests.process_harness import api_flags, cli_env, log_of, spawn, tone_folder
from tests.servers.openai_api import OpenAIServer, max_in_window
from tests.servers.redis_server import RedisServer

LIMIT, WINDOW, JITTER = 20, 2.0, 0.5
ITEMS = 24
pytestmark = [
    pytest.mark.skipif(netns_unavailable() is not None, reason=str(netns_unavailable())),
    pytest.mark.timeout(120),
]


@pytest.fixture
def hosts() -> Iterator[dict[str, str]]:
    """Two worker hosts (namespaces) -> the coordinator's address as each one sees it."""
    with namespace_hosts(("wa", "wb"), first_subnet=11) as seen:
        yield seen


def test_workers_in_their_own_network_namespaces_do_the_whole_batch(
    tmp_path: Path, hosts: dict[str, str]
) -> None:
    media = tone_folder(tmp_path / "media", [300 + 20 * i for i in range(ITEMS)])
    out = tmp_path / "out"
    redis_server = RedisServer(tmp_path / "redis", bind=" ".join(["127.0.0.1", *hosts.values()]))
    with (
        redis_server,
        OpenAIServer(latency=0.2, limit=LIMIT, window=WINDOW - JITTER, host="0.0.0.0") as api,
    ):
        port = urlsplit(api.base_url).port
        coord_argv = [
            str(media), "--headless", "--new", "--output", str(out), "--workers", "0",
            "--redis", redis_server.url, "--distribute",
            *api_flags(api, "sk-coord", LIMIT, WINDOW, "hosts"),
        ]  # fmt: skip
        coordinator = spawn(tmp_path, "coord", coord_argv, cli_env(tmp_path, "coord"))
        workers = []
        for ns, gateway in hosts.items():
            flags = api_flags(api, f"sk-{ns}", LIMIT, WINDOW, "hosts")
            flags[flags.index("--api-base") + 1] = f"http://{gateway}:{port}/v1"
            argv = ["worker", "--redis", f"redis://{gateway}:{redis_server.port}/0", *flags]
            env = cli_env(tmp_path, ns, BULKSCRIBE_HOST=ns, PATH="/usr/sbin:/usr/bin:/sbin:/bin")
            workers.append(spawn(tmp_path, ns, argv, env, prefix=("ip", "netns", "exec", ns)))
        try:
            assert coordinator.wait(90) == 0, log_of(tmp_path, "coord")
            for ns, proc in zip(hosts, workers, strict=True):
                assert proc.wait(30) == 0, log_of(tmp_path, ns)
        finally:
            for proc in (coordinator, *workers):
                if proc.poll() is None:
                    proc.kill()
        arrivals = api.arrivals

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"] == {"done": ITEMS}, manifest["counts"]
    # Both hosts worked, and only they: every request came over a link, none from the coordinator.
    assert {row["host"] for row in manifest["items"]} == set(hosts)
    assert {a.key for a in arrivals} == {f"sk-{ns}" for ns in hosts}
    assert sum(1 for a in arrivals if a.status == 200) == ITEMS
    assert max_in_window([a.t for a in arrivals], WINDOW - JITTER) <= LIMIT
    for note in out.glob("*.md"):
        freq = re.fullmatch(r"tone-(\d+)", note.stem)
        assert freq is not None and f"tone {freq.group(1)} hertz" in note.read_text(), note.name
    assert len(list(out.glob("*.md"))) == ITEMS
