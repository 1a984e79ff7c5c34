"""What each worker thread does: take the next task, run an item start to end, announce the finish."""

from __future__ import annotations

import threading
from collections.abc import Callable

from engine import lifecycle
from engine.board import Board
from engine.events import EventKind
from engine.items import State
from engine.limits.registry import Registry
from engine.run.fanout import Fanout, SubTask
from engine.run.job import Job
from engine.run.outcome import outcome
from engine.run.phase import Hold, Phase, moved
from engine.run.queue import Queue, Step, next_task
from engine.run.retry import Retry
from engine.run.workers import Seat, Workers


class Loop:
    """The run's shared state, guarded by ``cv``; the Engine's verbs change it, workers act on it."""

    def __init__(
        self,
        board: Board,
        work: Callable[[Job], None],
        services: Registry,
        retry: Retry,
        queue: Queue,
        on_block: Callable[[str], None],
        on_finished: Callable[[], None],
    ) -> None:
        self.board, self.work, self.services, self.retry = board, work, services, retry
        self.queue = queue
        self.cv = threading.Condition()
        self.fanout = Fanout(self.cv, retry)
        self.workers = Workers(board, self.body)
        self.running: dict[int, threading.Event] = {}
        self.phase = Phase.IDLE
        self.hold = Hold.NONE
        self.announced = False  # "finished" was posted for the work queued so far
        self._on_block, self._on_finished = on_block, on_finished

    def body(self, seat: Seat) -> None:
        while True:
            task = self._next_task(seat.id)
            if task is None:
                return
            if isinstance(task, SubTask):
                self.fanout.run(task, seat)
            else:
                self._run_item(task, seat)

    def is_finished(self) -> bool:
        return not self.running and not self.fanout.pending and self.board.count(State.QUEUED) == 0

    def check_finished(self) -> None:
        """Post "finished" once when the last item ends (under ``cv``)."""
        if not self.announced and self.is_finished():
            self.announced = True
            self.board.post(EventKind.FINISHED, "all items finished")
            self._on_finished()
            self.cv.notify_all()

    def _next_task(self, wid: int) -> SubTask | int | None:
        with self.cv:
            while True:
                task = next_task(
                    phase=self.phase, hold=self.hold, retiring=self.workers.retiring(wid),
                    fanout=self.fanout, running=len(self.running), queue=self.queue,
                    get=self.board.get,
                )  # fmt: skip
                if task is Step.WAIT:
                    self.cv.wait(0.5)
                    continue
                if task is Step.RETIRE:
                    self.workers.retire(wid)
                elif task is Step.DRAINED:
                    self.phase = moved(self.phase, "drained")
                    self.cv.notify_all()
                if isinstance(task, Step):
                    return None
                if not isinstance(task, SubTask):
                    self.running[task] = threading.Event()
                return task

    def _run_item(self, item_id: int, seat: Seat) -> None:
        job = Job(
            self.board, item_id, seat, self.running[item_id],
            limits=self.services, fanout=self.fanout,
        )  # fmt: skip
        self.board.apply(item_id, lifecycle.start(seat.id))
        seat.show(item_id, "starting")
        error: BaseException | None = None
        try:
            self.retry.run(job, lambda: self.work(job), count_attempts=True)
        except BaseException as exc:  # noqa: BLE001 - every failure is recorded on the item
            error = exc
        end = outcome(error, stopping=self.phase is Phase.STOPPED)
        if end.blocks and end.error:
            self._on_block(end.error)
        elif end.failed:
            self.board.post(EventKind.FAILED, f"{job.item.label}: {end.error}", item_id)
        job.close_stage()
        with self.cv:
            item = self.board.apply(item_id, end.transition, **end.facts)
            if item.state is State.QUEUED:
                # Interrupted by stop(): back in the queue so a later start() runs it again.
                self.queue.push(item)
            self.running.pop(item_id, None)
            self.cv.notify_all()
            self.check_finished()
        seat.show(None, None)
