"""The context a work function gets: report stages, spend rate-limit permits, fan out sub-tasks."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from engine.errors import Cancelled
from engine.items import State
from engine.limiter import Permit

if TYPE_CHECKING:
    from engine.pool import Engine

T = TypeVar("T")
R = TypeVar("R")


class Job:
    """One worker's handle on one item. Sub-tasks of the item get their own Job on their own worker."""

    def __init__(
        self,
        engine: Engine,
        item_id: int,
        worker_id: int,
        cancel: threading.Event,
        *,
        main: bool = True,
    ) -> None:
        self.engine = engine
        self.item_id = item_id
        self.worker_id = worker_id
        self.cancel_event = cancel
        self.main = main
        self._stage: str | None = None
        self._stage_started = time.monotonic()
        self.last_service: str | None = None

    # -- reporting -------------------------------------------------------------------------

    @property
    def item(self):  # noqa: ANN201 - Item, imported lazily to keep this module light
        return self.engine.board.get(self.item_id)

    def stage(self, name: str, **changes: Any) -> None:
        """Enter a new stage; the time spent in the previous one is recorded on the item."""
        self.check()
        now = time.monotonic()
        if self.main:
            item = self.item
            times = dict(item.stage_times)
            if self._stage is not None:
                times[self._stage] = times.get(self._stage, 0.0) + (now - self._stage_started)
            self.engine.board.update(
                self.item_id, stage=name, state=State.RUNNING, stage_times=times, **changes
            )
        elif changes:
            self.engine.board.update(self.item_id, **changes)
        self._stage, self._stage_started = name, now
        self.engine._show_worker(self.worker_id, self.item_id, name)

    def close_stage(self) -> None:
        """Record the time of the stage in progress (called by the engine when the work ends)."""
        if self._stage is None or not self.main:
            return
        times = dict(self.item.stage_times)
        times[self._stage] = times.get(self._stage, 0.0) + (time.monotonic() - self._stage_started)
        self.engine.board.update(self.item_id, stage_times=times)
        self._stage = None

    def update(self, **changes: Any) -> None:
        """Record facts learned about the item (title, duration, metadata, chunk counts...)."""
        self.engine.board.update(self.item_id, **changes)

    def advance_chunks(self, done: int = 1) -> None:
        self.engine._bump_chunks(self.item_id, done)

    def note(self, kind: str, text: str) -> None:
        self.engine.board.post(kind, text, self.item_id)

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
        return self.engine._acquire(self, service)

    def throttle(self, service: str, retry_after: float | None) -> float:
        """Report a 429 that the work handles itself (it tries something else): pause ``service``.

        Returns the pause in seconds; 0 for a service without a limiter.
        """
        limiter = self.engine.limiters.get(service)
        if limiter is None:
            return 0.0
        pause = limiter.throttle(retry_after)
        self.engine.board.post("429", f"{service}: 429, pausing {pause:.1f}s", self.item_id)
        return pause

    def key_index(self, service: str) -> int:
        """Which of the service's API keys this worker uses."""
        return self.engine._key_index(service, self.worker_id)

    def map(self, fn: Callable[[Job, T], R], args: Sequence[T], label: str = "part") -> list[R]:
        """Run ``fn(job, arg)`` for each arg on any free worker, this one included; results in order.

        Each call is retried on transient errors like a whole item. If one fails for good, the rest
        are skipped and its error is raised here.
        """
        return self.engine._map(self, fn, args, label)
