"""The Board: the one place where worker threads meet their readers.

Workers write the latest state of each item here and never wait for a reader. Each reader holds a
cursor and pulls, at its own pace, only what changed since its last pull, plus lifecycle events and
fresh statistics.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine import lifecycle
from engine.events import Event, EventKind
from engine.items import Item, State
from engine.lifecycle import Transition
from engine.limits.limiter import Limiter
from engine.redact import redact_text
from engine.snapshots import Changes, EngineView, Stats, WorkerView
from engine.storable import shown

__all__ = ["Board", "Changes", "Cursor", "EngineView", "Event", "Stats", "WorkerView"]

_RATE_WINDOW = 60.0
_EVENT_BACKLOG = 5000


@dataclass
class _Cursor:
    dirty: set[int]
    events: deque[Event] = field(default_factory=lambda: deque(maxlen=_EVENT_BACKLOG))
    dropped: int = 0
    wake: threading.Event | None = None


class Cursor:
    """A reader's position on the Board; ``pull`` returns what changed since the last pull."""

    def __init__(self, board: Board, state: _Cursor) -> None:
        self._board = board
        self._state = state

    def pull(self) -> Changes:
        return self._board._pull(self._state)

    def close(self) -> None:
        self._board._forget(self._state)


class Board:
    """Latest state of every item, counters, rates and worker activity; thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._items: list[Item] = []
        self._counts: Counter[State] = Counter()
        self._cursors: list[_Cursor] = []
        self._finishes: deque[float] = deque()
        self._workers: dict[int, WorkerView] = {}
        self._limiters: list[Limiter] = []
        self._engine = EngineView()
        self._started = self._clock()
        self._last_finish = 0.0
        self._version = 0
        self._buckets: deque[tuple[int, int]] = deque(maxlen=60)  # (10 s slot, finished count)

    # -- writers -----------------------------------------------------------------------------

    def add(self, items: Iterable[Item]) -> list[Item]:
        """Register new items; ids are assigned in order when an item comes with id -1."""
        added: list[Item] = []
        with self._lock:
            now = self._clock()
            for item in items:
                changes: dict[str, Any] = {}
                if item.id != len(self._items):
                    changes["id"] = len(self._items)
                if item.queued_at is None and item.state is State.QUEUED:
                    changes["queued_at"] = now
                if changes:
                    item = item.evolve(**changes)
                self._items.append(item)
                self._counts[item.state] += 1
                added.append(item)
                for cursor in self._cursors:
                    cursor.dirty.add(item.id)
            self._wake()
        return added

    def apply(self, item_id: int, *transitions: Transition, **facts: Any) -> Item:
        """Move the item through ``transitions`` (engine.lifecycle), then record ``facts``, in one step.

        Raises lifecycle.IllegalTransition, changing nothing, if a transition is not allowed.
        """
        with self._lock:
            old = self._items[item_id]
            return self._store(old, lifecycle.changes(old, *transitions, **facts))

    def record(self, item_id: int, **facts: Any) -> Item:
        """Record facts learned about the item (title, duration, metadata, outputs...); never its state."""
        lifecycle.refuse_state(facts)
        return self.update(item_id, **facts)

    def bump(self, item_id: int, chunks: int = 1) -> Item:
        """Count ``chunks`` more finished chunks; safe when several workers finish chunks at once."""
        with self._lock:
            old = self._items[item_id]
            return self._store(old, {"chunks_done": old.chunks_done + chunks})

    def update(self, item_id: int, **changes: Any) -> Item:
        """Overwrite fields as given, state included, with no lifecycle check.

        The Board's own storage, for tests of counting and cursors; the engine uses apply/record/bump.
        """
        with self._lock:
            return self._store(self._items[item_id], changes)

    def _store(self, old: Item, changes: dict[str, Any]) -> Item:
        self._version += 1
        new = old.evolve(version=self._version, **changes)
        self._items[new.id] = new
        if new.state is not old.state:
            self._counts[old.state] -= 1
            self._counts[new.state] += 1
            if new.state.terminal and not old.state.terminal:
                self._note_finish()
        for cursor in self._cursors:
            cursor.dirty.add(new.id)
            if cursor.wake is not None:
                cursor.wake.set()
        return new

    @property
    def clock(self) -> Callable[[], float]:
        """The clock events and timings are stamped with."""
        return self._clock

    def post(
        self, kind: EventKind, text: str, item_id: int | None = None, *, delay: float | None = None
    ) -> None:
        """Post an event to every reader; a kind given as a string must name an EventKind."""
        event = Event(
            self._clock(), EventKind(kind), shown(redact_text(text)), item_id, delay
        )  # shown and stored
        with self._lock:
            for cursor in self._cursors:
                if len(cursor.events) == cursor.events.maxlen:
                    cursor.dropped += 1
                cursor.events.append(event)
            self._wake()

    def set_worker(self, view: WorkerView) -> None:
        with self._lock:
            self._workers[view.id] = view

    def drop_worker(self, worker_id: int) -> None:
        with self._lock:
            self._workers.pop(worker_id, None)

    def set_engine(self, view: EngineView) -> None:
        with self._lock:
            self._engine = view

    def watch(self, limiter: Limiter) -> None:
        with self._lock:
            if limiter not in self._limiters:
                self._limiters.append(limiter)

    def restart_clock(self) -> None:
        """Start elapsed time and throughput afresh (a resumed session)."""
        with self._lock:
            self._started = self._clock()
            self._last_finish = 0.0
            self._finishes.clear()

    # -- readers -----------------------------------------------------------------------------

    def cursor(self, wake: threading.Event | None = None) -> Cursor:
        """A new reader; its first pull returns every item.

        With ``wake``, the event is set whenever something changes, so a reader can sleep until then.
        """
        with self._lock:
            state = _Cursor(dirty=set(range(len(self._items))), wake=wake)
            self._cursors.append(state)
        return Cursor(self, state)

    def get(self, item_id: int) -> Item:
        with self._lock:
            return self._items[item_id]

    def items(self) -> list[Item]:
        with self._lock:
            return list(self._items)

    def count(self, state: State) -> int:
        with self._lock:
            return self._counts[state]

    def __len__(self) -> int:
        return len(self._items)

    def workers(self) -> list[WorkerView]:
        with self._lock:
            return sorted(self._workers.values(), key=lambda w: w.id)

    def stats(self) -> Stats:
        with self._lock:
            return self._stats()

    def select(self, states: Sequence[State]) -> list[Item]:
        wanted = set(states)
        with self._lock:
            return [item for item in self._items if item.state in wanted]

    # -- internals -----------------------------------------------------------------------------

    def _pull(self, state: _Cursor) -> Changes:
        with self._lock:
            dirty, state.dirty = state.dirty, set()
            items = tuple(self._items[i] for i in sorted(dirty))
            events = tuple(state.events)
            state.events.clear()
            dropped, state.dropped = state.dropped, 0
            workers = tuple(sorted(self._workers.values(), key=lambda w: w.id))
            stats = self._stats()
        return Changes(items, events, workers, stats, dropped)

    def _wake(self) -> None:
        for cursor in self._cursors:
            if cursor.wake is not None:
                cursor.wake.set()

    def _forget(self, state: _Cursor) -> None:
        with self._lock:
            if state in self._cursors:
                self._cursors.remove(state)

    def _note_finish(self) -> None:
        now = self._clock()
        self._last_finish = now
        self._finishes.append(now)
        horizon = now - _RATE_WINDOW
        while self._finishes and self._finishes[0] < horizon:
            self._finishes.popleft()
        slot = int(now // 10)
        if self._buckets and self._buckets[-1][0] == slot:
            self._buckets[-1] = (slot, self._buckets[-1][1] + 1)
        else:
            self._buckets.append((slot, 1))

    def _stats(self) -> Stats:
        now = self._clock()
        remaining = sum(n for state, n in self._counts.items() if not state.terminal)
        # Once everything has finished, elapsed time stops at the last finish instead of ticking on.
        until = self._last_finish if not remaining and self._last_finish else now
        elapsed = max(0.0, until - self._started)
        # Finishes older than the window leave from the front, so the rest are the recent ones
        # (no copy of a deque that holds tens of thousands of times at high rates).
        horizon = now - _RATE_WINDOW
        while self._finishes and self._finishes[0] < horizon:
            self._finishes.popleft()
        recent = len(self._finishes)
        span = min(_RATE_WINDOW, elapsed) if elapsed > 0 else 0.0
        per_min = recent * 60.0 / max(span, 1.0) if recent else 0.0
        counts = {state.value: n for state, n in self._counts.items() if n}
        eta = (
            remaining * 60.0 / per_min
            if per_min > 0 and remaining
            else (0.0 if not remaining else None)
        )
        slot = int(now // 10)
        by_slot = dict(self._buckets)
        throughput = tuple(by_slot.get(s, 0) for s in range(slot - 29, slot + 1))
        return Stats(
            total=len(self._items),
            counts=counts,
            items_per_min=per_min,
            eta=eta,
            elapsed=elapsed,
            services=tuple(limiter.stats() for limiter in self._limiters),
            engine=self._engine,
            throughput=throughput,
        )
