"""The worker-thread engine: a queue of items, a resizable pool, retries, pause, drain and stop.

Parallel is off by default (one worker). Switched on it uses the last parallel count (two at first).
Items go through ``work(job)``; a work function may fan out sub-tasks (chunks of long media) through
``job.map`` and they run on any free worker, so one long podcast uses the whole pool.
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.board import Board, EngineView, WorkerView
from engine.errors import Cancelled, RateLimited, Unreachable, describe
from engine.items import Item, State
from engine.job import Job
from engine.limiter import SHARED, Limiter, Permit

MIN_WORKERS = 1
MAX_WORKERS = 64
DEFAULT_PARALLEL = 2
ORDERS = ("input", "shortest", "longest")

WorkFn = Callable[[Job], None]


@dataclass
class _SubGroup:
    remaining: int
    results: list[Any]
    error: BaseException | None = None
    done: threading.Condition = field(default_factory=threading.Condition)


@dataclass
class _SubTask:
    group: _SubGroup
    index: int
    fn: Callable[[Job, Any], Any]
    arg: Any
    parent: Job
    label: str


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
        self._target = self._last_parallel if parallel else MIN_WORKERS
        self.limiters = {limiter.service: limiter for limiter in limiters}
        for limiter in self.limiters.values():
            self.board.watch(limiter)
            if limiter.on_event is None:
                limiter.on_event = self._limiter_event
        self.key_counts = dict(key_counts or {})
        if order not in ORDERS:
            raise ValueError(f"order must be one of {ORDERS}")
        self._order = order
        self.retries = retries
        self.backoff = backoff
        self.backoff_cap = backoff_cap

        self._cv = threading.Condition()
        self._heap: list[tuple[float, int, int]] = []
        self._seq = itertools.count()
        self._subtasks: deque[_SubTask] = deque()
        self._running: dict[int, threading.Event] = {}
        self._threads: dict[int, threading.Thread] = {}
        self._paused = False
        self._blocked: str | None = None
        self._draining = False
        self._stopping = False
        self._started = False
        self._finished_announced = False
        self._publish()

    # -- settings --------------------------------------------------------------------------

    @property
    def workers(self) -> int:
        return self._target

    @property
    def parallel(self) -> bool:
        return self._parallel

    @property
    def last_parallel(self) -> int:
        """The worker count that switching parallel on brings back."""
        return self._last_parallel

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def order(self) -> str:
        return self._order

    def set_workers(self, n: int) -> int:
        """Resize the pool (1..64). Growth starts workers at once; shrinking lets running work finish."""
        n = _clamp(n)
        with self._cv:
            old = self._target
            self._target = n
            self._parallel = n > 1
            if n > 1:
                self._last_parallel = n
            if self._started:
                self._spawn()
            self._cv.notify_all()
        if n != old:
            self.board.post("workers", f"workers {old} → {n}")
        if self.on_resize is not None:
            self.on_resize(n)
        self._publish()
        return n

    def set_parallel(self, on: bool) -> int:
        """Parallel off means one worker; on means the last parallel count (2 at first)."""
        return self.set_workers(self._last_parallel if on else MIN_WORKERS)

    def set_order(self, order: str) -> None:
        if order not in ORDERS:
            raise ValueError(f"order must be one of {ORDERS}")
        with self._cv:
            self._order = order
            queued = [entry[2] for entry in self._heap]
            self._heap = []
            for item_id in queued:
                self._push(self.board.get(item_id))
        self._publish()

    def set_rate_mode(self, mode: str, service: str | None = None) -> None:
        for limiter in self._limiters_for(service):
            if limiter.mode != mode:
                limiter.set_mode(mode)
                self.board.post("rate", f"{limiter.service}: rate mode {mode}")

    def set_rate_spec(self, spec: str, service: str | None = None) -> None:
        for limiter in self._limiters_for(service):
            limiter.set_spec(spec)
            self.board.post("rate", f"{limiter.service}: rate limit {limiter.spec}")

    def _limiters_for(self, service: str | None) -> list[Limiter]:
        if service is None:
            return list(self.limiters.values())
        return [self.limiters[service]]

    # -- queue -----------------------------------------------------------------------------

    def add(self, items: Iterable[Item]) -> list[Item]:
        """Queue items (they are registered on the board); terminal ones are only registered."""
        added = self.board.add(items)
        with self._cv:
            for item in added:
                if item.state is State.QUEUED:
                    self._push(item)
            self._finished_announced = False
            self._cv.notify_all()
        self._publish()
        return added

    def retry(self, item_ids: Sequence[int] | None = None) -> int:
        """Queue failed items again (all of them, or the given ones, which may also be cancelled)."""
        if item_ids is None:
            targets = [item.id for item in self.board.select([State.FAILED])]
        else:
            targets = [
                i
                for i in item_ids
                if self.board.get(i).state in (State.FAILED, State.CANCELLED, State.SKIPPED)
            ]
        with self._cv:
            for item_id in targets:
                item = self.board.update(
                    item_id,
                    state=State.QUEUED,
                    stage=None,
                    error=None,
                    error_class=None,
                    finished_at=None,
                    worker=None,
                )
                self._push(item)
            if targets:
                self._finished_announced = False
            self._cv.notify_all()
        if targets:
            self.board.post("retry", f"retrying {len(targets)} item(s)")
        self._publish()
        return len(targets)

    def cancel(self, item_id: int) -> bool:
        """Cancel one item: dropped from the queue, or stopped at its next check if running."""
        with self._cv:
            item = self.board.get(item_id)
            if item.state is State.QUEUED:
                self.board.update(item_id, state=State.CANCELLED, finished_at=time.time())
                self._cv.notify_all()
                self._check_finished()
                return True
            event = self._running.get(item_id)
            if event is not None:
                event.set()
                return True
        return False

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the workers; after stop() or drain() this carries on with the queue."""
        with self._cv:
            if self._started and not self._stopping:
                return
            self._started = True
            self._stopping = False
            self._draining = False
            self._spawn()
        self._publish()

    def pause(self) -> None:
        with self._cv:
            self._paused = True
        self.board.post("pause", "paused: running items finish, nothing new starts")
        self._publish()

    def resume(self) -> None:
        with self._cv:
            self._paused = False
            self._blocked = None
            self._cv.notify_all()
        self.board.post("pause", "resumed")
        self._publish()

    @property
    def blocked(self) -> str | None:
        """Why the engine paused itself (bad key, output not writable), or None."""
        return self._blocked

    def block(self, reason: str) -> None:
        """Pause because of a problem every item would meet (a full store); resume() carries on."""
        self._block(reason)

    def _block(self, reason: str) -> None:
        with self._cv:
            first = self._blocked is None or not self._paused
            self._blocked = reason
            self._paused = True
        if first:
            self.board.post("blocked", f"paused: {reason}. Fix it, then resume.")
        self._publish()

    def drain(self) -> None:
        """Start nothing new; the workers exit once running items finish."""
        with self._cv:
            self._draining = True
            self._cv.notify_all()
        self._publish()

    def stop(self, timeout: float | None = 10.0) -> None:
        """Stop now: running items are interrupted and go back to the queue; workers exit."""
        with self._cv:
            self._stopping = True
            for event in self._running.values():
                event.set()
            self._cv.notify_all()
        self.join(timeout)
        self._publish()

    def join(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in list(self._threads.values()):
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            thread.join(remaining)
        return not any(t.is_alive() for t in self._threads.values())

    def wait_finished(self, timeout: float | None = None) -> bool:
        """Block until every item is in a terminal state (or the engine stops)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cv:
            while not self._is_finished() and not self._stopping:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cv.wait(0.1 if remaining is None else min(0.1, remaining))
            return self._is_finished()

    @property
    def finished(self) -> bool:
        with self._cv:
            return self._is_finished()

    # -- the workers ---------------------------------------------------------------------------

    def _spawn(self) -> None:
        for wid in range(self._target):
            thread = self._threads.get(wid)
            if thread is None or not thread.is_alive():
                thread = threading.Thread(
                    target=self._worker, args=(wid,), name=f"bulkscribe-worker-{wid}", daemon=True
                )
                self._threads[wid] = thread
                self.board.set_worker(WorkerView(wid, since=time.time()))
                thread.start()

    def _worker(self, wid: int) -> None:
        try:
            while True:
                task = self._next_task(wid)
                if task is None:
                    return
                if isinstance(task, _SubTask):
                    self._run_subtask(task, wid)
                else:
                    self._run_item(task, wid)
        finally:
            self.board.drop_worker(wid)

    def _next_task(self, wid: int) -> _SubTask | int | None:
        with self._cv:
            while True:
                if self._stopping:
                    return None
                if wid >= self._target:
                    # Retiring after a shrink: forget this thread so a later growth can reuse the id.
                    self._threads.pop(wid, None)
                    return None
                if self._subtasks:
                    return self._subtasks.popleft()
                if self._draining and not self._running:
                    self._stopping = True
                    self._cv.notify_all()
                    return None
                if not self._paused and not self._draining:
                    while self._heap:
                        _, _, item_id = heapq.heappop(self._heap)
                        if self.board.get(item_id).state is State.QUEUED:
                            self._running[item_id] = threading.Event()
                            return item_id
                self._cv.wait(0.5)

    def _run_item(self, item_id: int, wid: int) -> None:
        cancel = self._running[item_id]
        job = Job(self, item_id, wid, cancel)
        item = self.board.get(item_id)
        self.board.update(
            item_id,
            state=State.RUNNING,
            stage="starting",
            worker=wid,
            # Each run times itself: a retry or a resume days later must not count the gap.
            started_at=time.time(),
            finished_at=None,
            attempts=item.attempts + 1,
        )
        self._show_worker(wid, item_id, "starting")
        final: dict[str, Any]
        try:
            self._with_retries(job, lambda: self.work(job), count_attempts=True)
            final = {"state": State.DONE, "stage": None, "error": None, "error_class": None}
        except Cancelled as exc:
            if self._stopping:
                final = {"state": State.QUEUED, "stage": None}
            else:
                final = {"state": State.CANCELLED, "stage": None, "error": str(exc)}
        except KeyboardInterrupt:
            # An interrupt is a stop, never the item's fault: back to the queue for a resume.
            final = {"state": State.QUEUED, "stage": None}
        except BaseException as exc:  # noqa: BLE001 - every failure is recorded on the item
            kind, text, transient = describe(exc)
            if self._stopping and transient:
                # A stop signal that reached a decoding process kills it mid-chunk; that is the
                # stop's doing, so the item waits for the resume instead of failing.
                final = {"state": State.QUEUED, "stage": None}
            elif getattr(exc, "blocks", False):
                # A bad key or an unwritable output folder would fail every item the same way:
                # keep this one queued, pause, and say so once.
                final = {"state": State.QUEUED, "stage": None, "error_class": kind, "error": text}
                self._block(text)
            else:
                final = {"state": State.FAILED, "stage": None, "error_class": kind, "error": text}
                self.board.post("failed", f"{self.board.get(item_id).label}: {text}", item_id)
        job.close_stage()
        if final["state"] is not State.QUEUED:
            final["finished_at"] = time.time()
        final["worker"] = None
        with self._cv:
            item = self.board.update(item_id, **final)
            if item.state is State.QUEUED:
                # Interrupted by stop(): back in the queue so a later start() runs it again.
                self._push(item)
            self._running.pop(item_id, None)
            self._cv.notify_all()
            self._check_finished()
        self._show_worker(wid, None, None)

    def _with_retries(self, job: Job, call: Callable[[], Any], *, count_attempts: bool) -> Any:
        attempt = 1
        while True:
            try:
                return call()
            except Cancelled:
                raise
            except BaseException as exc:  # noqa: BLE001 - classified below
                if getattr(exc, "_bulkscribe_retried", False):
                    raise
                kind, text, transient = describe(exc)
                pause = None
                if isinstance(exc, Unreachable) and job.last_service in self.limiters:
                    # An outage is nobody's failure: hold the request, let the limiter probe the
                    # service with backoff, and go on when it answers. Attempts are not spent.
                    first, probe = self.limiters[job.last_service].offline()
                    if first:
                        self.board.post(
                            "offline",
                            f"{job.last_service}: {text}. Paused; probing again in {probe:.0f}s, "
                            "then less and less often until it answers",
                            job.item_id,
                        )
                    continue
                if isinstance(exc, RateLimited) and job.last_service in self.limiters:
                    limiter = self.limiters[job.last_service]
                    factor, guard = limiter.factor, limiter.guard
                    pause = limiter.throttle(exc.retry_after)
                    if limiter.factor < factor:
                        reaction = f" and slowing down to {limiter.effective_spec()}"
                    elif limiter.guard > guard:
                        reaction = f" and stretching its window by {limiter.guard:.2g}s"
                    else:
                        reaction = ""
                    if exc.retry_after is not None and exc.retry_after > pause + 1:
                        reaction += f" (it asked for {exc.retry_after:.0f}s; capped)"
                    self.board.post(
                        "429",
                        f"{job.last_service}: 429, pausing {pause:.1f}s{reaction}",
                        job.item_id,
                    )
                if not transient or attempt > self.retries:
                    raise
                delay = pause if pause is not None else self._backoff(attempt)
                self.board.post(
                    "retry",
                    f"attempt {attempt} failed ({text}); retrying in {delay:.1f}s",
                    job.item_id,
                    delay=delay,
                )
                job.sleep(delay)
                attempt += 1
                if count_attempts:
                    self.board.update(
                        job.item_id, attempts=self.board.get(job.item_id).attempts + 1
                    )

    def _limiter_event(self, kind: str, text: str) -> None:
        self.board.post(kind, text)

    def _backoff(self, attempt: int) -> float:
        return min(self.backoff_cap, self.backoff * (2 ** (attempt - 1))) * random.uniform(0.5, 1.0)

    # -- sub-tasks ----------------------------------------------------------------------------

    def _map(
        self, parent: Job, fn: Callable[[Job, Any], Any], args: Sequence[Any], label: str
    ) -> list[Any]:
        group = _SubGroup(remaining=len(args), results=[None] * len(args))
        if not args:
            return []
        tasks = [_SubTask(group, i, fn, arg, parent, label) for i, arg in enumerate(args)]
        with self._cv:
            self._subtasks.extend(tasks)
            self._cv.notify_all()
        while True:
            with self._cv:
                mine = next((t for t in self._subtasks if t.group is group), None)
                if mine is not None:
                    self._subtasks.remove(mine)
            if mine is None:
                break
            self._run_subtask(mine, parent.worker_id)
        with group.done:
            while group.remaining:
                group.done.wait(0.1)
        self._show_worker(parent.worker_id, parent.item_id, parent._stage)
        if group.error is not None:
            raise group.error
        return group.results

    def _run_subtask(self, task: _SubTask, wid: int) -> None:
        group, parent = task.group, task.parent
        job = (
            Job(self, parent.item_id, wid, parent.cancel_event, main=False)
            if wid != parent.worker_id
            else parent
        )
        try:
            if group.error is None:
                self._show_worker(wid, parent.item_id, f"{task.label} {task.index + 1}")
                result = self._with_retries(
                    job, lambda: task.fn(job, task.arg), count_attempts=False
                )
                group.results[task.index] = result
        except BaseException as exc:  # noqa: BLE001 - handed to the parent job
            if group.error is None:
                exc._bulkscribe_retried = True  # type: ignore[attr-defined]
                group.error = exc
        finally:
            with group.done:
                group.remaining -= 1
                group.done.notify_all()
            if job is not parent:
                self._show_worker(wid, None, None)

    # -- helpers used by Job ------------------------------------------------------------------------

    def _acquire(self, job: Job, service: str) -> Permit:
        limiter = self.limiters.get(service)
        if limiter is None:
            return Permit(service, SHARED, 0.0)

        def on_wait(waiting: bool) -> None:
            self._show_worker(job.worker_id, job.item_id, job._stage, waiting=waiting)
            if job.main:
                self.board.update(job.item_id, state=State.WAITING if waiting else State.RUNNING)

        return limiter.acquire(
            self._pool_key(service, job.worker_id), cancel=job.cancel_event, on_wait=on_wait
        )

    def _pool_key(self, service: str, wid: int) -> str:
        keys = self.key_counts.get(service, 1)
        return f"key-{wid % keys}" if keys > 1 else f"worker-{wid}"

    def _key_index(self, service: str, wid: int) -> int:
        return wid % max(1, self.key_counts.get(service, 1))

    def _bump_chunks(self, item_id: int, done: int) -> None:
        with self._cv:
            item = self.board.get(item_id)
            self.board.update(item_id, chunks_done=item.chunks_done + done)

    def _show_worker(
        self, wid: int, item_id: int | None, stage: str | None, waiting: bool = False
    ) -> None:
        self.board.set_worker(
            WorkerView(wid, item_id, stage, waiting, time.time(), retiring=wid >= self._target)
        )

    def _push(self, item: Item) -> None:
        if self._order == "input" or item.duration is None:
            # Unknown durations go after known ones in either sorted order.
            key = float(item.id) if self._order == "input" else 1e12 + item.id
        elif self._order == "shortest":
            key = item.duration
        else:
            key = -item.duration
        heapq.heappush(self._heap, (key, next(self._seq), item.id))

    def _is_finished(self) -> bool:
        return not self._running and not self._subtasks and self.board.count(State.QUEUED) == 0

    def _check_finished(self) -> None:
        if not self._finished_announced and self._is_finished():
            self._finished_announced = True
            self.board.post("finished", "all items finished")
            self._publish()
            self._cv.notify_all()

    def _publish(self) -> None:
        self.board.set_engine(
            EngineView(
                workers=self._target,
                parallel=self._parallel,
                last_parallel=self._last_parallel,
                paused=self._paused,
                running=self._started and not self._stopping,
                finished=self._finished_announced,
                order=self._order,
            )
        )


def _clamp(n: int | None) -> int:
    return max(MIN_WORKERS, min(MAX_WORKERS, int(n or 1)))
