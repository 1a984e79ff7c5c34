"""A worker of a distributed batch: pulls items from the session's stream, runs them, ships results.

It runs the ordinary engine and pipeline (same limiter, same shared quota) in a scratch folder;
only segments and metadata travel back. Items it holds are heartbeated, so nobody reclaims them
while it lives; if it dies they go idle and another worker's XAUTOCLAIM takes them.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.batch import Batch
from engine.distributed.checkpoints import RedisCheckpoints
from engine.distributed.control import follow_control
from engine.distributed.outcome import outcome
from engine.distributed.shipping import ShippingPipeline
from engine.distributed.streams import Streams, guarded
from engine.distributed.wire import can_read, item_from_fields, path_mapped
from engine.items import Item, State
from engine.providers.base import Transcriber
from engine.settings import Settings


@dataclass
class Held:
    """One stream entry this worker owns, and what became of it."""

    coord_id: int
    stream: str
    entry_id: str
    fields: dict[str, str]
    lost: bool = False  # reclaimed by another worker: its outcome here is dropped
    sent: tuple[Any, ...] = ()


class StreamWorker:
    """``start()`` joins the consumer group; ``stop()`` gives unfinished items back at once."""

    def __init__(
        self,
        streams: Streams,
        settings: Settings,
        *,
        threads: int,
        consumer: str,
        host: str,
        path_map: Sequence[tuple[str, str]] = (),
        read_local: bool = False,
        claim_idle: float = 30.0,
        transcriber: Transcriber | None = None,
    ) -> None:
        self.streams = streams
        self.keys = streams.keys
        self.threads = max(1, threads)
        self.consumer = consumer
        self.host = host
        self.path_map = tuple(path_map)
        self.read_local = read_local
        self.claim_idle = claim_idle
        # Heartbeats well inside the reclaim timeout: a live owner is never taken for dead.
        self.beat_every = max(0.2, claim_idle / 4)
        self._scratch = Path(tempfile.mkdtemp(prefix="bulkscribe-worker-"))
        self.batch = Batch(
            settings.evolve(workers=self.threads, parallel=self.threads > 1),
            self._scratch / "out",
            transcriber=transcriber,
            temp_root=self._scratch,
            pipeline_class=ShippingPipeline,
            # Finished chunks live in Redis: a worker redoing this item starts after the last one.
            checkpoints=RedisCheckpoints(streams, self._coord_id),
        )
        assert isinstance(self.batch.pipeline, ShippingPipeline)  # pipeline_class above
        self.pipeline = self.batch.pipeline
        self.engine = self.batch.engine
        self.held: dict[int, Held] = {}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._wake = threading.Event()  # room for another item
        self._changed = threading.Event()  # the board changed: something to report
        self.draining = False
        self.accepted = 0
        self.dropped = 0
        self._threads: list[threading.Thread] = []

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        self.streams.ensure_groups()
        self.engine.start()
        self._cursor = self.batch.board.cursor(wake=self._changed)
        for name, target in (
            ("feed", self._feed_loop),
            ("report", self._report_loop),
            ("beat", self._beat_loop),
            ("control", lambda: follow_control(self, self._stop)),
        ):
            thread = threading.Thread(
                target=guarded,
                args=(self._stop, target),
                name=f"bulkscribe-dist-{name}",
                daemon=True,
            )
            self._threads.append(thread)
            thread.start()

    def finished(self) -> bool:
        """The coordinator said the session is over and nothing is left in hand."""
        status = self.streams.client.get(self.keys.status)
        with self._lock:
            return status in (b"finished", "finished") and not self.held

    def stop(self) -> None:
        """Stop now: running items are interrupted and handed back to the stream for others."""
        self._stop.set()
        self._wake.set()
        self._changed.set()
        self.engine.stop()
        for thread in self._threads:
            thread.join(10)
        self._report_once()  # outcomes that landed while stopping are still shipped
        with self._lock:
            for held in list(self.held.values()):
                if not held.lost:
                    self.streams.give_back(held.stream, held.entry_id, held.fields, held.stream)
            self.held.clear()
        self.streams.leave(self.consumer)
        self.batch.close()
        shutil.rmtree(self._scratch, ignore_errors=True)

    # -- taking items ---------------------------------------------------------------------------

    def _streams(self) -> list[str]:
        return [self.keys.items, self.keys.local] if self.read_local else [self.keys.items]

    def _room(self) -> int:
        if self.draining or self.engine.paused:
            return 0
        with self._lock:
            return self.threads - len(self.held)

    def _feed_loop(self) -> None:
        next_reclaim = 0.0
        while not self._stop.is_set():
            room = self._room()
            if room <= 0:
                self._wake.wait(0.2)
                self._wake.clear()
                continue
            entries = []
            now = time.monotonic()
            if now >= next_reclaim:
                next_reclaim = now + max(0.2, self.claim_idle / 4)
                for stream in self._streams():
                    entries += self.streams.reclaim(
                        self.consumer, stream, int(self.claim_idle * 1000), room
                    )
            if not entries:
                entries = self.streams.read_items(self.consumer, self._streams(), room, 500)
            for stream, entry_id, fields in entries:
                self._take(stream, entry_id, fields)

    def _take(self, stream: str, entry_id: str, fields: dict[str, str]) -> None:
        try:
            coord_id, item, host, size = item_from_fields(fields)
        except (ValueError, KeyError, TypeError):
            self.streams.ack(stream, entry_id)  # not an item of ours: never run, never retried
            return
        if self.streams.settled(coord_id):
            # Cancelled before anyone took it, or finished by a worker presumed dead: spend nothing.
            self.streams.ack(stream, entry_id)
            return
        with self._lock:
            if any(h.entry_id == entry_id for h in self.held.values()):
                return  # our own entry, seen idle between two heartbeats: already running here
        if item.kind == "file":
            mapped = path_mapped(item.location, self.path_map)
            if not (self.read_local or can_read(host == self.host, mapped, size)):
                # Only the coordinator's host has this file: leave it to the coordinator.
                self.streams.give_back(stream, entry_id, fields, self.keys.local)
                return
            item = item.evolve(location=mapped)
        with self._lock:
            added = self.engine.add([item])[0]
            self.held[added.id] = Held(coord_id, stream, entry_id, fields)

    def wake(self) -> None:
        self._wake.set()

    def resize(self, threads: int) -> None:
        """Run this many items at once from now on (the coordinator's count for this host)."""
        self.threads = self.engine.set_workers(threads)
        self._wake.set()
        self._beat_once()  # the new count shows at once

    def local_ids(self, coord_id: object) -> list[int]:
        with self._lock:
            return [local for local, held in self.held.items() if held.coord_id == coord_id]

    def _coord_id(self, local_id: int) -> int:
        with self._lock:
            return self.held[local_id].coord_id

    # -- reporting ------------------------------------------------------------------------------

    def _report_loop(self) -> None:
        while not self._stop.is_set():
            self._changed.wait(0.25)
            self._changed.clear()
            self._report_once()

    def _report_once(self) -> None:
        for item in self._cursor.pull().items:
            with self._lock:
                held = self.held.get(item.id)
                if held is None:
                    continue
                if item.state.terminal:
                    self._finish(item, held)
                    self.held.pop(item.id, None)
                    self._wake.set()
                elif item.state is not State.QUEUED:
                    self._send_state(item, held)

    def _send_state(self, item: Item, held: Held) -> None:
        snapshot = (item.state, item.stage, item.chunks_done, item.chunks_total, item.attempts)
        if snapshot == held.sent or held.lost:
            return
        held.sent = snapshot
        data = {
            "state": item.state.value,
            "stage": item.stage,
            "chunks_done": item.chunks_done,
            "chunks_total": item.chunks_total,
            "attempts": item.attempts,
            "title": item.title,
            "duration": item.duration,
            "host": self.host,
            "worker": self.consumer,
        }
        self.streams.send(self.consumer, "state", held.coord_id, data)

    def _finish(self, item: Item, held: Held) -> None:
        if held.lost:
            self.dropped += 1
            return  # another worker owns it now; its outcome is the one that counts
        kind, payload = outcome(item, self.pipeline, self.host, self.consumer)
        won = self.streams.finish(
            self.consumer, held.stream, held.entry_id, held.coord_id, kind, json.dumps(payload)
        )
        if won:
            self.accepted += 1
            self.streams.client.delete(
                self.keys.chunks(held.coord_id), self.keys.requests(held.coord_id)
            )
        else:
            self.dropped += 1

    # -- heartbeats and control ---------------------------------------------------------------

    def _beat_loop(self) -> None:
        self._beat_once()  # seen at once, not a period after joining
        while not self._stop.wait(self.beat_every):
            self._beat_once()

    def _beat_once(self) -> None:
        with self._lock:
            by_stream: dict[str, list[tuple[int, Held]]] = {}
            for local_id, held in self.held.items():
                if not held.lost:
                    by_stream.setdefault(held.stream, []).append((local_id, held))
        for stream, pairs in by_stream.items():
            owned = self.streams.heartbeat(self.consumer, stream, [h.entry_id for _, h in pairs])
            for (local_id, held), mine in zip(pairs, owned, strict=True):
                if not mine:
                    held.lost = True  # reclaimed while we looked dead: stop spending on it
                    self.engine.cancel(local_id)
        seconds, micros = self.streams.client.time()  # Redis's clock: hosts' clocks differ
        info = {
            "host": self.host,
            "pid": os.getpid(),
            "threads": self.threads,
            "running": sum(len(pairs) for pairs in by_stream.values()),
            "at": seconds + micros / 1e6,
            "every": self.beat_every,
        }
        self.streams.beat(self.consumer, info)
