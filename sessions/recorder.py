"""The recorder: commits every Board change to the store, and pauses the run when the store is full.

The recorder pulls the Board's changes as they happen (woken by each change, batched within a tick)
and commits them; finished chunks and file-name stems are committed synchronously by the pipeline's
checkpoints. When the store cannot write, nothing pulled is dropped: it is kept and written once the
store can take it, and the run is paused meanwhile, as for a full output folder.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from engine.board import Board
from engine.errors import StoreError
from engine.events import EventKind
from engine.items import Item
from engine.providers.base import Chunk
from engine.segments import Segment
from sessions.store import EVENTS_KEPT, SessionEvent, Store

FLUSH_EVERY = 0.1
# How often a store that could not write is tried again (with no new change to wake it). A store
# that fails again soon after it came back (a small write fits, a chunk does not) is tried less
# and less often, so the run does not redo work in a loop while the disk is all but full.
RETRY_EVERY = 1.0
RETRY_MAX = 60.0
FLAP_WINDOW = 30.0
# Item metadata key holding the service jobs submitted for it and not yet finished.
REQUESTS_META = "requests"
# Held by the Recorder from reading changed items to writing them, and by save_request: a
# Recorder write of an item read just before a job id was saved must not land after it.
ITEM_WRITES = threading.Lock()


class StoreCheckpoints:
    """The pipeline's Checkpoints, kept in the session store."""

    def __init__(
        self,
        store: Store,
        session_id: str,
        board: Board,
        on_error: Callable[[StoreError], None] | None = None,
    ) -> None:
        self.store, self.session_id, self.board = store, session_id, board
        self.on_error = on_error  # told when a checkpoint could not be written

    def load(self, item_id: int) -> Mapping[int, tuple[float, float, list[Segment], str | None]]:
        return self.store.load_chunks(self.session_id, item_id)

    def save(
        self, item_id: int, chunk: Chunk, segments: Sequence[Segment], language: str | None
    ) -> None:
        self._guarded(
            self.store.save_chunk,
            self.session_id, item_id, chunk.index, chunk.start, chunk.end, segments, language,
        )  # fmt: skip

    def drop(self, item_id: int) -> None:
        self._guarded(self.store.drop_chunks, self.session_id, item_id)

    def save_stem(self, item_id: int, stem: str) -> None:
        self._guarded(self.store.save_stem, self.session_id, item_id, stem)

    def load_requests(self, item_id: int) -> Mapping[str, str]:
        return dict(self.board.get(item_id).meta.get(REQUESTS_META) or {})

    def save_request(self, item_id: int, part: str, request_id: str | None) -> None:
        # Kept in the item's metadata and committed now, not by the Recorder's next flush: a
        # crash right after a paid submit must still find the job to poll on resume.
        with ITEM_WRITES:
            item = self.board.get(item_id)
            requests = dict(item.meta.get(REQUESTS_META) or {})
            if request_id is None:
                requests.pop(part, None)
            else:
                requests[part] = request_id
            item = self.board.record(item_id, meta={**item.meta, REQUESTS_META: requests})
            self._guarded(self.store.save_items, self.session_id, [item])

    def _guarded(self, write: Callable[..., None], *args: Any) -> None:
        try:
            write(*args)
        except StoreError as exc:
            # The item goes back to the queue (StoreError blocks); the recorder watches for space.
            if self.on_error is not None:
                self.on_error(exc)
            raise


class Recorder:
    """Commits every change on the Board to the store, from its own thread.

    ``on_full(text)`` is called once when the store stops taking writes, ``on_back()`` once it
    takes them again.
    """

    def __init__(
        self,
        store: Store,
        session_id: str,
        board: Board,
        settings: Callable[[], Mapping[str, Any]] | None = None,
        *,
        on_full: Callable[[str], None] | None = None,
        on_back: Callable[[], None] | None = None,
    ) -> None:
        self.store, self.session_id, self.board = store, session_id, board
        # Where to read the live settings from, so a resize or a new limit survives a resume.
        self._settings = settings
        self._settings_seen: tuple[Any, ...] | None = None
        self._on_full, self._on_back = on_full, on_back
        self._wake = threading.Event()
        self._cursor = board.cursor(wake=self._wake)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bulkscribe-recorder", daemon=True)
        self._flushing = ITEM_WRITES
        # Pulled but not yet written: latest state per item, events in order.
        self._items: dict[int, Item] = {}
        self._events: list[SessionEvent] = []
        self.failing: str | None = None  # why the store cannot write, while it cannot
        self.retry_every = RETRY_EVERY
        self._back_at: float | None = None
        self.errors: list[str] = []

    def start(self) -> None:
        self._thread.start()

    def flush(self) -> None:
        """Write what changed; StoreError when the store cannot (what was pulled is kept)."""
        with self._flushing:
            changes = self._cursor.pull()
            for item in changes.items:
                self._items[item.id] = item
            self._events += [
                SessionEvent(e.t, e.kind.value, e.text) for e in changes.events if e.kind.persist
            ]
            del self._events[:-EVENTS_KEPT]
            if self._items:
                self.store.save_items(self.session_id, list(self._items.values()))
                self._items.clear()
            if self._settings is not None:
                view = changes.stats.engine
                seen = (
                    view.last_parallel,
                    view.parallel,
                    view.order,
                    tuple((s.service, s.spec, s.mode) for s in changes.stats.services),
                )
                if seen != self._settings_seen:
                    self.store.update_session(self.session_id, settings=self._settings())
                    self._settings_seen = seen
            while self._events:
                event = self._events[0]
                self.store.add_event(self.session_id, event.kind, event.text, event.t)
                self._events.pop(0)
            if self.failing is not None:
                self.store.touch(self.session_id)  # nothing pending: prove the store writes

    def full(self, error: StoreError) -> None:
        """The store refused a write (here or in a checkpoint): pause the run, say so once."""
        first = self.failing is None
        self.failing = error.user_text
        if first:
            flapping = self._back_at is not None and time.monotonic() - self._back_at < FLAP_WINDOW
            self.retry_every = min(RETRY_MAX, self.retry_every * 2) if flapping else RETRY_EVERY
            self.errors.append(error.user_text)
            if self._on_full is not None:
                self._on_full(error.user_text)
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(10)
        try:
            self.flush()
        finally:
            self._cursor.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.retry_every if self.failing is not None else None)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.flush()
            except StoreError as exc:
                self.full(exc)
            except Exception as exc:  # noqa: BLE001 - an unknown fault must not kill the run silently
                self.errors.append(str(exc))
                self.board.post(EventKind.FAILED, f"could not save the session: {exc}")
            else:
                if self.failing is not None:
                    self.failing = None
                    self._back_at = time.monotonic()
                    if self._on_back is not None:
                        self._on_back()
            self._stop.wait(FLUSH_EVERY)
