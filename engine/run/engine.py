"""The Engine: pushes items through ``work(job)`` on its own threads; its verbs are safe from any thread.

Parallel is off by default (one worker). Switched on it uses the last parallel count (two at first).
A work function may fan out sub-tasks (chunks of long media) through ``job.map``; they run on any
free worker, so one long podcast uses the whole pool.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence

from engine import lifecycle
from engine.board import Board
from engine.events import EventKind
from engine.items import Item, State
from engine.limits.limiter import Limiter
from engine.limits.registry import Registry
from engine.run.job import Job
from engine.run.loop import Loop
from engine.run.phase import Hold, Phase, moved
from engine.run.queue import ORDERS, Queue
from engine.run.retry import Retry
from engine.run.workers import DEFAULT_PARALLEL, MAX_WORKERS, MIN_WORKERS
from engine.snapshots import EngineView

__all__ = ["DEFAULT_PARALLEL", "MAX_WORKERS", "MIN_WORKERS", "ORDERS", "Engine", "WorkFn"]

WorkFn = Callable[[Job], None]


class Engine:
    """Pushes items through ``work`` on its own threads; every verb is safe from any thread."""

    def __init__(
        self,
        work: WorkFn,
        *,
        board: Board | None = None,
        workers: int | None = None,
        parallel: bool | None = None,
        limiters: Iterable[Limiter] = (),
        key_counts: dict[str, int] | None = None,
        order: str = "input",
        retries: int = 3,
        backoff: float = 1.0,
        backoff_cap: float = 30.0,
    ) -> None:
        self.work = work
        # Told the new worker count, e.g. by local engines sizing their process pool.
        self.on_resize: Callable[[int], None] | None = None
        self.board = board if board is not None else Board()
        if parallel is None:
            parallel = workers is not None and workers > 1
        self._last_parallel = _clamp(workers) if workers and workers > 1 else DEFAULT_PARALLEL
        self._parallel = parallel
        self.services = Registry.of(limiters, key_counts)
        self.limiters = self.services  # by service name
        for limiter in self.limiters.values():
            self.board.watch(limiter)
            if limiter.on_event is None:
                limiter.on_event = self._limiter_event
        self.key_counts = self.services.key_counts
        self.retry_policy = Retry(self.board, self.services, retries, backoff, backoff_cap)
        self._loop = Loop(
            self.board, work, self.services, self.retry_policy, Queue(order), self.block,
            self._publish,
        )  # fmt: skip
        self._cv, self._queue, self._workers = self._loop.cv, self._loop.queue, self._loop.workers
        self._workers.target = self._last_parallel if parallel else MIN_WORKERS
        self._blocked: str | None = None
        self._publish()

    # -- settings --------------------------------------------------------------------------

    @property
    def workers(self) -> int:
        return self._workers.target

    @property
    def parallel(self) -> bool:
        return self._parallel

    @property
    def view(self) -> EngineView:
        """The settings as they are now, as readers show them and a session keeps them
        (``last_parallel``: the worker count that switching parallel on brings back)."""
        return EngineView(
            workers=self._workers.target,
            parallel=self._parallel,
            last_parallel=self._last_parallel,
            paused=self.paused,
            running=self._loop.phase.live,
            finished=self._loop.announced,
            order=self._queue.order,
        )

    @property
    def backoff(self) -> float:
        return self.retry_policy.backoff

    @backoff.setter
    def backoff(self, seconds: float) -> None:
        self.retry_policy.backoff = seconds

    def set_workers(self, n: int) -> int:
        """Resize the pool (1..64). Growth starts workers at once; shrinking lets running work finish."""
        n = _clamp(n)
        with self._cv:
            old, self._workers.target = self._workers.target, n
            self._parallel = n > 1
            if n > 1:
                self._last_parallel = n
            if self._loop.phase is not Phase.IDLE:
                self._workers.spawn()
            self._cv.notify_all()
        if n != old:
            self.board.post(EventKind.WORKERS, f"workers {old} → {n}")
        if self.on_resize is not None:
            self.on_resize(n)
        self._publish()
        return n

    def set_parallel(self, on: bool) -> int:
        """Parallel off means one worker; on means the last parallel count (2 at first)."""
        return self.set_workers(self._last_parallel if on else MIN_WORKERS)

    def set_order(self, order: str) -> None:
        with self._cv:
            self._queue.reorder(order, self.board.get)
        self._publish()

    def set_rate_mode(self, mode: str, service: str | None = None) -> None:
        for limiter in self.services.select(service):
            if limiter.mode != mode:
                limiter.set_mode(mode)
                self.board.post(EventKind.RATE, f"{limiter.service}: rate mode {mode}")

    def set_rate_spec(self, spec: str, service: str | None = None) -> None:
        for limiter in self.services.select(service):
            limiter.set_spec(spec)
            self.board.post(EventKind.RATE, f"{limiter.service}: rate limit {limiter.spec}")

    # -- the queue -------------------------------------------------------------------------

    def add(self, items: Iterable[Item]) -> list[Item]:
        """Queue items (they are registered on the board); terminal ones are only registered."""
        added = self.board.add(items)
        with self._cv:
            for item in added:
                if item.state is State.QUEUED:
                    self._queue.push(item)
            self._loop.announced = False
            self._cv.notify_all()
        self._publish()
        return added

    def retry(self, item_ids: Sequence[int] | None = None) -> int:
        """Queue failed items again (all of them, or the given ones, which may also be cancelled)."""
        if item_ids is None:
            targets = [item.id for item in self.board.select([State.FAILED])]
        else:
            again = lifecycle.ALLOWED[lifecycle.Verb.QUEUE]
            targets = [i for i in item_ids if self.board.get(i).state in again]
        with self._cv:
            for item_id in targets:
                self._queue.push(self.board.apply(item_id, lifecycle.queue()))
            if targets:
                self._loop.announced = False
            self._cv.notify_all()
        if targets:
            self.board.post(EventKind.RETRY, f"retrying {len(targets)} item(s)")
        self._publish()
        return len(targets)

    def cancel(self, item_id: int) -> bool:
        """Cancel one item: dropped from the queue, or stopped at its next check if running."""
        with self._cv:
            if self.board.get(item_id).state is State.QUEUED:
                self.board.apply(item_id, lifecycle.finish(State.CANCELLED))
                self._cv.notify_all()
                self._loop.check_finished()
                return True
            event = self._loop.running.get(item_id)
            if event is not None:
                event.set()
                return True
        return False

    # -- the run -----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the workers; after stop() or drain() this carries on with the queue."""
        with self._cv:
            if self._loop.phase.live:
                return
            self._loop.phase = moved(self._loop.phase, "start")
            self._workers.spawn()
        self._publish()

    def pause(self) -> None:
        with self._cv:
            if self._loop.hold is Hold.NONE:
                self._loop.hold = Hold.PAUSED
        self.board.post(EventKind.PAUSE, "paused: running items finish, nothing new starts")
        self._publish()

    def resume(self) -> None:
        with self._cv:
            self._loop.hold, self._blocked = Hold.NONE, None
            self._cv.notify_all()
        self.board.post(EventKind.PAUSE, "resumed")
        self._publish()

    @property
    def paused(self) -> bool:
        """Paused by the person or blocked by a problem: running items finish, nothing new starts."""
        return self._loop.hold is not Hold.NONE

    @property
    def blocked(self) -> str | None:
        """Why the engine paused itself (bad key, output not writable), or None."""
        return self._blocked

    def block(self, reason: str) -> None:
        """Pause because of a problem every item would meet (a full store); resume() carries on."""
        with self._cv:
            first = self._loop.hold is not Hold.BLOCKED
            self._loop.hold, self._blocked = Hold.BLOCKED, reason
        if first:
            self.board.post(EventKind.BLOCKED, f"paused: {reason}. Fix it, then resume.")
        self._publish()

    def drain(self) -> None:
        """Start nothing new; the workers exit once running items finish."""
        with self._cv:
            self._loop.phase = moved(self._loop.phase, "drain")
            self._cv.notify_all()
        self._publish()

    def stop(self, timeout: float | None = 10.0) -> None:
        """Stop now: running items are interrupted and go back to the queue; workers exit."""
        with self._cv:
            self._loop.phase = moved(self._loop.phase, "stop")
            for event in self._loop.running.values():
                event.set()
            self._cv.notify_all()
        self.join(timeout)
        self._publish()

    def join(self, timeout: float | None = None) -> bool:
        return self._workers.join(timeout)

    def wait_finished(self, timeout: float | None = None) -> bool:
        """Block until every item is in a terminal state (or the engine stops)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cv:
            while not self._loop.is_finished() and self._loop.phase is not Phase.STOPPED:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cv.wait(0.1 if remaining is None else min(0.1, remaining))
            return self._loop.is_finished()

    @property
    def finished(self) -> bool:
        with self._cv:
            return self._loop.is_finished()

    def _limiter_event(self, kind: EventKind, text: str) -> None:
        self.board.post(kind, text)

    def _publish(self) -> None:
        self.board.set_engine(self.view)


def _clamp(n: int | None) -> int:
    return max(MIN_WORKERS, min(MAX_WORKERS, int(n or 1)))
