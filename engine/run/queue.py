"""The queue of items in the chosen order, and the one decision of what a free worker does next."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from enum import Enum

from engine.items import Item, State
from engine.run.fanout import Fanout, SubTask
from engine.run.phase import Hold, Phase

ORDERS = ("input", "shortest", "longest")


class Step(Enum):
    """What a worker does when there is no task for it."""

    EXIT = "exit"  # the engine stopped
    RETIRE = "retire"  # the pool shrank below this worker
    DRAINED = "drained"  # draining and nothing runs any more: the engine stops
    WAIT = "wait"  # nothing to do yet


class Queue:
    """Queued item ids, ordered by input position or duration."""

    def __init__(self, order: str = "input") -> None:
        if order not in ORDERS:
            raise ValueError(f"order must be one of {ORDERS}")
        self.order = order
        self._heap: list[tuple[float, int, int]] = []
        self._seq = itertools.count()

    def push(self, item: Item) -> None:
        if self.order == "input" or item.duration is None:
            # Unknown durations go after known ones in either sorted order.
            key = float(item.id) if self.order == "input" else 1e12 + item.id
        elif self.order == "shortest":
            key = item.duration
        else:
            key = -item.duration
        heapq.heappush(self._heap, (key, next(self._seq), item.id))

    def reorder(self, order: str, get: Callable[[int], Item]) -> None:
        if order not in ORDERS:
            raise ValueError(f"order must be one of {ORDERS}")
        self.order = order
        queued = [entry[2] for entry in self._heap]
        self._heap = []
        for item_id in queued:
            self.push(get(item_id))

    def pop(self, get: Callable[[int], Item]) -> int | None:
        """The next item still queued (a cancelled or retried entry is passed over)."""
        while self._heap:
            _, _, item_id = heapq.heappop(self._heap)
            if get(item_id).state is State.QUEUED:
                return item_id
        return None


def next_task(
    *,
    phase: Phase,
    hold: Hold,
    retiring: bool,
    fanout: Fanout,
    running: int,
    queue: Queue,
    get: Callable[[int], Item],
) -> SubTask | int | Step:
    """What a free worker does next: a sub-task first (it unblocks a running item), then an item."""
    if phase is Phase.STOPPED:
        return Step.EXIT
    if retiring:
        return Step.RETIRE
    task = fanout.take()
    if task is not None:
        return task
    if phase is Phase.DRAINING:
        return Step.DRAINED if not running else Step.WAIT
    if hold is Hold.NONE:
        item_id = queue.pop(get)
        if item_id is not None:
            return item_id
    return Step.WAIT
