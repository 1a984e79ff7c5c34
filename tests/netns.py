"""Network namespaces as hosts of their own for tests: made, linked by veth pairs, removed after."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence

from tests.servers.redis_server import redis_binary


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20)


def netns_unavailable() -> str | None:
    """Why namespaces cannot be made here, or None when they can."""
    if shutil.which("ip") is None:
        return "iproute2 is not installed"
    if redis_binary() is None:
        return "redis-server is not installed"
    if os.geteuid() != 0:
        return "making network namespaces needs root"
    probe = f"bsprobe{os.getpid()}"
    made = _ip("netns", "add", probe)
    _ip("netns", "del", probe)
    return None if made.returncode == 0 else f"ip netns add failed: {made.stderr.strip()}"


@contextlib.contextmanager
def namespace_hosts(names: Sequence[str], first_subnet: int = 1) -> Iterator[dict[str, str]]:
    """Namespace per name -> the address of this (outer) host as that namespace sees it."""
    tag = os.getpid() % 10000
    made: list[str] = []
    seen = {}
    try:
        for n, name in enumerate(names, start=first_subnet):
            ns, outside, inside = f"bs{name}{tag}", f"bsv{name}{tag}", f"bsp{name}{tag}"
            subnet = f"10.77.{n}"
            steps = [
                ("netns", "add", ns),
                ("link", "add", outside, "type", "veth", "peer", "name", inside),
                ("link", "set", inside, "netns", ns),
                ("addr", "add", f"{subnet}.1/24", "dev", outside),
                ("link", "set", outside, "up"),
                ("-n", ns, "addr", "add", f"{subnet}.2/24", "dev", inside),
                ("-n", ns, "link", "set", inside, "up"),
                ("-n", ns, "link", "set", "lo", "up"),
            ]
            made.append(ns)
            for step in steps:
                result = _ip(*step)
                assert result.returncode == 0, (step, result.stderr)
            seen[ns] = f"{subnet}.1"
        yield seen
    finally:
        for ns in made:
            _ip("netns", "del", ns)  # removes the veth pair with it
