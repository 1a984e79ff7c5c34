"""Fan-out: an item's sub-tasks (chunks of long media) run on any free worker, each with its Future."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, wait
from dataclasses import dataclass, field
from typing import Any

from engine.run.job import Job, Seat
from engine.run.retry import Retry


@dataclass
class _Group:
    futures: list[Future[Any]]
    failures: list[BaseException] = field(default_factory=list)  # in the order they happened


@dataclass(frozen=True)
class SubTask:
    group: _Group
    index: int
    fn: Callable[[Job, Any], Any]
    arg: Any
    parent: Job
    label: str

    @property
    def future(self) -> Future[Any]:
        return self.group.futures[self.index]


class Fanout:
    """Sub-tasks waiting for a worker. ``cv`` is the engine's: workers wait on it for any task."""

    def __init__(self, cv: threading.Condition, retry: Retry) -> None:
        self._cv = cv
        self._retry = retry
        self._tasks: deque[SubTask] = deque()

    @property
    def pending(self) -> bool:
        """Whether a sub-task waits for a worker (read under the engine's lock)."""
        return bool(self._tasks)

    def take(self) -> SubTask | None:
        """The next sub-task for a free worker (called under the engine's lock)."""
        return self._tasks.popleft() if self._tasks else None

    def map(
        self, parent: Job, fn: Callable[[Job, Any], Any], args: Sequence[Any], label: str
    ) -> list[Any]:
        if not args:
            return []
        group = _Group([Future() for _ in args])
        tasks = [SubTask(group, i, fn, arg, parent, label) for i, arg in enumerate(args)]
        with self._cv:
            self._tasks.extend(tasks)
            self._cv.notify_all()
        while True:
            # The parent works on its own sub-tasks too, rather than wait idle for the others.
            with self._cv:
                mine = next((t for t in self._tasks if t.group is group), None)
                if mine is not None:
                    self._tasks.remove(mine)
            if mine is None:
                break
            self.run(mine, parent.seat)
        wait(group.futures)
        parent.seat.show(parent.item_id, parent.item.stage)
        if group.failures:
            parent.settle(group.failures[0])
            raise group.failures[0]
        return [future.result() for future in group.futures]

    def run(self, task: SubTask, seat: Seat) -> None:
        """Run one sub-task on ``seat``; skipped when a sibling has failed for good."""
        if not task.future.set_running_or_notify_cancel():
            return
        parent = task.parent
        job = parent.for_subtask(seat)
        try:
            seat.show(parent.item_id, f"{task.label} {task.index + 1}")
            result = self._retry.run(job, lambda: task.fn(job, task.arg), count_attempts=False)
        except BaseException as exc:  # noqa: BLE001 - handed to the parent job
            task.group.failures.append(exc)
            for future in task.group.futures:
                future.cancel()  # the ones no worker has taken yet are skipped
            task.future.set_exception(exc)
        else:
            task.future.set_result(result)
        finally:
            if job is not parent:
                seat.show(None, None)
