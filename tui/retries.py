"""What the event log says about each item's request retries: how many, and how long it sleeps.

A request that fails transiently is retried inside the same attempt after a back-off; the item stays
"running" meanwhile, with nothing in flight. The engine posts a `retry` event with the delay, and the
screen counts it down ("retrying in 3s") instead of showing the item as busy.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable

from engine.events import Event, EventKind
from engine.items import Item, State


class RetryNotes:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._until: dict[int, float] = {}
        self.count: dict[int, int] = {}

    def add(self, events: Iterable[Event]) -> None:
        for event in events:
            if event.kind is EventKind.RETRY and event.item_id is not None:
                self.count[event.item_id] = self.count.get(event.item_id, 0) + 1
                if event.delay is not None:
                    self._until[event.item_id] = event.t + event.delay

    def sleeping(self, item: Item) -> float | None:
        """Seconds left in the item's back-off, or None when it is not sleeping."""
        until = self._until.get(item.id)
        if until is None or item.state is not State.RUNNING:
            return None
        left = until - self._clock()
        return left if left > 0 else None

    def label(self, item: Item, *, short: bool = False) -> str | None:
        left = self.sleeping(item)
        if left is None:
            return None
        # The table's Stage column is 11 cells wide: "retry 12s" fits it.
        return f"retry {math.ceil(left)}s" if short else f"retrying in {math.ceil(left)}s"
