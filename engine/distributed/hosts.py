"""Who is working on a distributed batch: workers grouped by host, a silent host shown as lost."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from engine import lifecycle
from engine.board import Board
from engine.distributed.streams import Streams
from engine.events import EventKind

LOST_AFTER_BEATS = 3  # a worker silent for this many heartbeat periods is taken for lost


@dataclass(frozen=True, slots=True)
class WorkerBeat:
    """One worker process as its last heartbeat described it."""

    consumer: str
    pid: int
    threads: int
    running: int
    lost: bool


@dataclass(frozen=True, slots=True)
class HostView:
    host: str
    processes: int  # worker processes heard from recently
    threads: int  # items they may run at once, in all
    running: int  # items they hold now
    lost: int  # processes that stopped heartbeating (their items go to others after the timeout)
    workers: tuple[WorkerBeat, ...] = ()


def hosts(streams: Streams, claim_idle: float) -> list[HostView]:
    """One row per host, judged on Redis's clock (hosts' own clocks may disagree)."""
    seconds, micros = streams.client.time()
    now = seconds + micros / 1e6
    grouped: dict[str, dict[str, Any]] = {}
    for consumer, raw in sorted(streams.client.hgetall(streams.keys.workers).items()):
        try:
            info = json.loads(raw)
            host, at, every = str(info["host"]), float(info["at"]), float(info["every"])
            beat = WorkerBeat(
                str(consumer),
                int(info.get("pid", 0)),
                int(info.get("threads", 0)),
                int(info.get("running", 0)),
                lost=now - at > max(LOST_AFTER_BEATS * every, claim_idle),
            )
        except (ValueError, KeyError, TypeError):
            continue  # not one of ours: shown as nothing rather than breaking the view
        row = grouped.setdefault(
            host, {"processes": 0, "threads": 0, "running": 0, "lost": 0, "workers": ()}
        )
        row["workers"] += (beat,)
        if beat.lost:
            row["lost"] += 1
            continue
        row["processes"] += 1
        row["threads"] += beat.threads
        row["running"] += beat.running
    return [HostView(host, **row) for host, row in sorted(grouped.items())]


class HostWatch:
    """Looks at the hosts once a second: a host gone silent is said once and the items it held show
    as queued again (another worker reclaims them once idle past the timeout); its return is said."""

    def __init__(self, streams: Streams, board: Board, claim_idle: float) -> None:
        self.streams = streams
        self.board = board
        self.claim_idle = claim_idle
        self.views: list[HostView] = []
        self.lost: dict[str, int] = {}  # a silent host -> how many of its items were requeued
        self._checked = 0.0

    def check(self) -> None:
        now = time.monotonic()
        if now - self._checked < 1.0:
            return
        self._checked = now
        self.views = hosts(self.streams, self.claim_idle)
        for view in self.views:
            gone = view.lost > 0 and view.processes == 0
            if gone and view.host not in self.lost:
                self.lost[view.host] = self._requeue(view.host)
                self.board.post(
                    EventKind.HOST,
                    f"{view.host} stopped heartbeating: lost; its items go to other workers "
                    f"once idle {self.claim_idle:.0f}s",
                )
            elif not gone and view.host in self.lost:
                del self.lost[view.host]
                self.board.post(EventKind.HOST, f"{view.host} is back")

    def _requeue(self, host: str) -> int:
        """The lost host's running items wait for another worker now: queued, as the board says."""
        held = [i for i in self.board.items() if i.state.active and i.meta.get("host") == host]
        for item in held:
            self.board.apply(item.id, lifecycle.requeue())
        return len(held)
