"""Who is working on a distributed batch: workers grouped by host, a silent host shown as lost."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from engine.distributed.streams import Streams

LOST_AFTER_BEATS = 3  # a worker silent for this many heartbeat periods is taken for lost


@dataclass(frozen=True, slots=True)
class HostView:
    host: str
    processes: int  # worker processes heard from recently
    threads: int  # items they may run at once, in all
    running: int  # items they hold now
    lost: int  # processes that stopped heartbeating (their items go to others after the timeout)


def hosts(streams: Streams, claim_idle: float) -> list[HostView]:
    """One row per host, judged on Redis's clock (hosts' own clocks may disagree)."""
    seconds, micros = streams.client.time()
    now = seconds + micros / 1e6
    grouped: dict[str, dict[str, Any]] = {}
    for raw in streams.client.hvals(streams.keys.workers):
        try:
            info = json.loads(raw)
            host, at, every = str(info["host"]), float(info["at"]), float(info["every"])
        except (ValueError, KeyError, TypeError):
            continue  # not one of ours: shown as nothing rather than breaking the view
        row = grouped.setdefault(host, {"processes": 0, "threads": 0, "running": 0, "lost": 0})
        if now - at > max(LOST_AFTER_BEATS * every, claim_idle):
            row["lost"] += 1
            continue
        row["processes"] += 1
        row["threads"] += int(info.get("threads", 0))
        row["running"] += int(info.get("running", 0))
    return [HostView(host, **row) for host, row in sorted(grouped.items())]
