"""The context a work function gets: report stages, spend rate-limit permits, fan out sub-tasks."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, Protocol, TypeVar

from engine import lifecycle
from engine.board import Board
from engine.errors import Cancelled
from engine.events import EventKind
from engine.items import Item
from engine.limits.permit import Permit
from engine.limits.registry import Registry

T = TypeVar("T")
R = TypeVar("R")


class Seat(Protocol):
    """The worker thread a Job runs on, and what the workers' view shows of it."""

    @property
    def id(self) -> int: ...

    def show(self, item_id: int | None, stage: str | None) -> None: ...

    def waiting(self, waiting: bool) -> None: ...


class Spread(Protocol):
    """Runs sub-tasks of a Job on any free worker."""

    def map(
        self, parent: Job, fn: Callable[[Job, Any], Any], args: Sequence[Any], label: str
    ) -> list[Any]: ...


@dataclass(eq=False)
class Job:
    """One worker's handle on one item. Sub-tasks of the item get their own Job on their own worker.

    Only the main Job (the one that started the item) moves the item's state; every Job records facts.
    """

    board: Board
    item_id: int
    seat: Seat
    cancel_event: threading.Event
    _: KW_ONLY
    limits: Registry
    fanout: Spread
    main: bool = True
    # Errors of sub-tasks that were retried already, shared by the item's Jobs.
    retried: list[BaseException] = field(default_factory=list)
    last_service: str | None = field(default=None, init=False)
    # The stage's name lives on the item (Board); the Job only times it.
    _stage_started: float | None = field(default=None, init=False)

    @property
    def worker_id(self) -> int:
        return self.seat.id

    # -- reporting -------------------------------------------------------------------------

    @property
    def item(self) -> Item:
        return self.board.get(self.item_id)

    def stage(self, name: str, **facts: Any) -> None:
        """Enter a new stage; the time spent in the previous one is recorded on the item."""
        self.check()
        now = time.monotonic()
        if self.main:
            self.board.apply(
                self.item_id, lifecycle.stage(name), stage_times=self._timed(now), **facts
            )
            self._stage_started = now
        elif facts:
            self.board.record(self.item_id, **facts)
        self.seat.show(self.item_id, name)

    def close_stage(self) -> None:
        """Record the time of the stage in progress (called by the engine when the work ends)."""
        if self._stage_started is None or not self.main:
            return
        self.board.record(self.item_id, stage_times=self._timed(time.monotonic()))
        self._stage_started = None

    def _timed(self, now: float) -> dict[str, float]:
        item = self.item
        times = dict(item.stage_times)
        if self._stage_started is not None and item.stage is not None:
            times[item.stage] = times.get(item.stage, 0.0) + (now - self._stage_started)
        return times

    def update(self, **facts: Any) -> None:
        """Record facts learned about the item (title, duration, metadata, chunk counts...)."""
        self.board.record(self.item_id, **facts)

    def waiting(self, waiting: bool) -> None:
        """The item waits for something outside it (a permit, a day quota), or stops waiting."""
        self.seat.waiting(waiting)
        if self.main:
            self.board.apply(self.item_id, lifecycle.wait() if waiting else lifecycle.resume())

    def advance_chunks(self, done: int = 1) -> None:
        self.board.bump(self.item_id, done)

    def note(self, kind: EventKind, text: str) -> None:
        self.board.post(kind, text, self.item_id)

    # -- control -----------------------------------------------------------------------------

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def check(self) -> None:
        """Raise Cancelled if the item was cancelled or the engine is stopping."""
        if self.cancel_event.is_set():
            raise Cancelled("cancelled")

    def sleep(self, seconds: float) -> None:
        """Sleep, waking early (and raising Cancelled) if the item is cancelled."""
        if self.cancel_event.wait(seconds):
            raise Cancelled("cancelled")

    def acquire(self, service: str) -> Permit:
        """Wait for a permit to send one request to ``service`` (no-op for services without a limit)."""
        self.check()
        self.last_service = service
        return self.limits.acquire(
            service, self.worker_id, cancel=self.cancel_event, on_wait=self.waiting
        )

    def throttle(self, service: str, retry_after: float | None) -> float:
        """Report a 429 that the work handles itself (it tries something else): pause ``service``.

        Returns the pause in seconds; 0 for a service without a limiter.
        """
        pause = self.limits.throttle(service, retry_after)
        if pause is None:
            return 0.0
        self.board.post(
            EventKind.RATE_LIMITED, f"{service}: 429, pausing {pause:.1f}s", self.item_id
        )
        return pause

    def key_index(self, service: str) -> int:
        """Which of the service's API keys this worker uses."""
        return self.limits.key_index(service, self.worker_id)

    def map(self, fn: Callable[[Job, T], R], args: Sequence[T], label: str = "part") -> list[R]:
        """Run ``fn(job, arg)`` for each arg on any free worker, this one included; results in order.

        Each call is retried on transient errors like a whole item. If one fails for good, the rest
        are skipped and its error is raised here.
        """
        return self.fanout.map(self, fn, args, label)

    # -- sub-tasks ---------------------------------------------------------------------------

    def for_subtask(self, seat: Seat) -> Job:
        """This item's Job for a sub-task on another worker."""
        if seat.id == self.worker_id:
            return self
        return Job(
            self.board, self.item_id, seat, self.cancel_event,
            limits=self.limits, fanout=self.fanout, main=False, retried=self.retried,
        )  # fmt: skip

    def settle(self, error: BaseException) -> None:
        """A sub-task's error, retried already: raised through the parent, never retried again."""
        self.retried.append(error)

    def settled(self, error: BaseException) -> bool:
        return any(error is seen for seen in self.retried)
