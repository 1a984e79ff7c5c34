"""The coordinator of a distributed batch: publishes items, applies what workers send, writes files.

Its own session (SQLite, through the Board and the Recorder) stays the source of truth; Redis only
carries the work. Every output file is written here, from the segments a worker shipped.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

from redis.exceptions import RedisError

from engine import lifecycle
from engine.batch import Batch
from engine.distributed.hosts import HostWatch
from engine.distributed.streams import Streams
from engine.distributed.wire import COORDINATOR, LATEST, Result, item_fields, item_from_fields
from engine.distributed.worker import StreamWorker
from engine.distributed.writer import write_result
from engine.errors import BulkscribeError, describe
from engine.events import EventKind
from engine.items import State

KEEP_SECONDS = 7 * 86400  # a finished session's keys stay this long for a late resume
TRIM_EVERY = 2.0  # seconds between trims of the events stream (each one commits the session first)


class Coordinator:
    """Drives a Batch through Redis; headless and the app call start(), wait_finished(), stop()."""

    def __init__(
        self,
        batch: Batch,
        streams: Streams,
        session_id: str,
        *,
        host: str,
        local_threads: int,
        claim_idle: float = 30.0,
        local_worker: Callable[[], StreamWorker] | None = None,
        commit: Callable[[], None] | None = None,
    ) -> None:
        self.batch = batch
        self.streams = streams
        self.keys = streams.keys
        self.session_id = session_id
        self.host = host
        self.local_threads = local_threads
        self.claim_idle = claim_idle
        self._make_local = local_worker
        self.local: StreamWorker | None = None
        self._published: set[int] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.applied = self.duplicates = 0
        self.hosts = HostWatch(streams, batch.board, claim_idle)
        # Commits the session (SQLite); only events applied before a commit are ever trimmed.
        self._commit = commit
        self._applied_upto: str | None = None  # the last events entry applied and acknowledged
        self._trimmed_at = 0.0
        self.trimmed = 0

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        client = self.streams.client
        self.streams.ensure_groups()
        client.set(self.keys.settings, json.dumps(self.batch.settings.saved()))
        client.set(self.keys.status, "running")
        client.set(LATEST, self.session_id)
        # Results accepted while this coordinator was down (its SQLite may lag Redis): apply them.
        for item_id, entry_id in self.streams.accepted().items():
            if item_id < len(self.batch.board) and not self.batch.board.get(item_id).state.terminal:
                event = self.streams.event(entry_id)
                if event is not None:
                    self._apply(event)
        self._publish_new()
        self._thread = threading.Thread(target=self._loop, name="bulkscribe-coord", daemon=True)
        self._thread.start()
        if self.local_threads > 0 and self._make_local is not None:
            self.local = self._make_local()
            self.local.start()

    def wait_finished(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.finished:
            if deadline is not None and time.monotonic() >= deadline:
                return False
            self._stop.wait(0.05)
        return True

    @property
    def finished(self) -> bool:
        return all(item.state.terminal for item in self.batch.board.items())

    def stop(self) -> None:
        """Stop the local worker (its items go back) and the event reader; keep Redis for a resume."""
        if self.local is not None:
            self.local.stop()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        self._drain_events()  # what the local worker shipped while stopping
        self._trim(force=True)
        if self.finished:
            # Workers exit once they see this; the keys stay a while for a late look.
            self.streams.client.set(self.keys.status, "finished")
            for key in (self.keys.items, self.keys.local, self.keys.events, self.keys.done):
                self.streams.client.expire(key, KEEP_SECONDS)

    # -- control ---------------------------------------------------------------------------------

    # Every worker obeys these, or with ``host`` only the workers on that host.

    def pause(self, host: str | None = None) -> None:
        self.streams.control("pause", host=host)

    def resume(self, host: str | None = None) -> None:
        self.streams.control("resume", host=host)

    def drain(self, host: str | None = None) -> None:
        self.streams.control("drain", host=host)

    def set_workers(self, host: str, count: int) -> None:
        """Items at once for each worker process on ``host`` (a process started later too)."""
        self.streams.control("workers", host=host, count=count)

    def cancel(self, item_id: int) -> None:
        item = self.batch.board.get(item_id)
        if item.state is State.QUEUED:
            # Not taken yet: accepted as cancelled here, so a worker taking it later is dropped.
            payload = json.dumps({"error": "cancelled", "error_class": None})
            self.streams.client.hsetnx(self.keys.done, str(item_id), "cancelled")
            self._apply({"kind": "cancelled", "item": str(item_id), "data": payload})
        self.streams.control("cancel", item=item_id)

    def retry(self, item_ids: list[int] | None = None) -> int:
        """Queue failed items again: forgotten by Redis, published afresh."""
        board = self.batch.board
        targets = item_ids or [i.id for i in board.select([State.FAILED])]
        for item_id in targets:
            self.streams.forget(item_id)
            self._published.discard(item_id)
        count = self.batch.engine.retry(targets)
        self._publish_new()
        return count

    # -- publishing and applying --------------------------------------------------------------

    def _publish_new(self) -> None:
        for item in self.batch.board.items():
            if item.id in self._published or item.state.terminal:
                continue
            self.streams.publish(item.id, item_fields(item, self.host))
            self._published.add(item.id)

    def _loop(self) -> None:
        self._drain_events(pending=True)  # delivered before a crash, never acknowledged
        while not self._stop.is_set():
            try:
                for entry_id, event in self.streams.read_events(
                    COORDINATOR, pending=False, block_ms=250
                ):
                    self._apply(event)
                    self.streams.ack_event(entry_id)
                    self._applied_upto = entry_id
                self._publish_new()  # items added while running (the app's add dialog)
                self.hosts.check()
                self._trim()
            except (BulkscribeError, RedisError) as exc:
                # Redis away: nothing is lost (results wait on the stream); try again shortly.
                self.batch.board.post(EventKind.OFFLINE, f"distributed: {describe(exc)[1]}")
                self._stop.wait(1.0)

    def _drain_events(self, pending: bool = False) -> None:
        while True:
            events = self.streams.read_events(COORDINATOR, pending=pending, block_ms=1)
            if not events:
                return
            for entry_id, event in events:
                self._apply(event)
                self.streams.ack_event(entry_id)
                if not pending:
                    self._applied_upto = entry_id
            if pending:
                return

    def _trim(self, force: bool = False) -> None:
        """Drop the events already in the session: commit it, then trim up to what was applied."""
        now = time.monotonic()
        upto = self._applied_upto
        if (
            self._commit is None
            or upto is None
            or (not force and now - self._trimmed_at < TRIM_EVERY)
        ):
            return
        self._trimmed_at = now
        try:
            self._commit()
        except BulkscribeError:
            return  # the store cannot write (full disk): keep every event until it can
        self.trimmed += self.streams.trim_events(upto)

    def _apply(self, event: dict[str, str]) -> None:
        try:
            self._apply_event(event)
        except (ValueError, KeyError, TypeError) as exc:
            # Not an event of ours (another program, another version): said, skipped, never fatal.
            self.batch.board.post(
                EventKind.FAILED, f"distributed: an unreadable event was skipped ({exc})"
            )

    def _apply_event(self, event: dict[str, str]) -> None:
        board = self.batch.board
        try:
            item_id = int(event.get("item", "-1"))
        except ValueError:
            return
        if not 0 <= item_id < len(board):
            return
        item = board.get(item_id)
        data = json.loads(event.get("data") or "{}")
        if item.state.terminal:
            self.duplicates += event.get("kind") != "state"
            return  # accepted once already: a late copy is dropped
        kind = event.get("kind")
        place = {"host": data.get("host"), "worker": data.get("worker")}
        meta = {**item.meta, **{k: v for k, v in place.items() if v}}
        if kind == "state":
            board.apply(
                item_id,
                *lifecycle.follow(item.state, State(data["state"])),
                stage=data.get("stage"),
                chunks_done=data.get("chunks_done", 0),
                chunks_total=data.get("chunks_total", 0),
                attempts=max(item.attempts, data.get("attempts", 0)),
                title=data.get("title") or item.title,
                duration=data.get("duration")
                if data.get("duration") is not None
                else item.duration,
                started_at=item.started_at if item.state.active else time.time(),
                meta=meta,
            )
            return
        self.applied += 1
        attempts = max(item.attempts, data.get("attempts") or 0)
        if kind == "done":
            write_result(self.batch, item_id, Result.from_json(data["result"]), meta, attempts)
        elif kind == "expanded":
            children = [item_from_fields({"item": text})[1] for text in data.get("children", [])]
            board.apply(
                item_id,
                lifecycle.finish(State.DONE),
                method="playlist",
                title=data.get("title") or item.title,
                meta={**meta, **(data.get("meta") or {})},
                attempts=attempts,
            )
            self.batch.engine.add(children)  # on the board and in the session; published next
            self._publish_new()
        else:
            state = State.CANCELLED if kind == "cancelled" else State.FAILED
            board.apply(
                item_id,
                lifecycle.finish(state),
                error=data.get("error"),
                error_class=data.get("error_class"),
                attempts=attempts,
                meta=meta,
            )
            if state is State.FAILED:
                board.post(
                    EventKind.FAILED, f"{board.get(item_id).label}: {data.get('error')}", item_id
                )
