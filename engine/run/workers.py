"""The worker threads: spawned up to the pool size, retired after a shrink, joined on stop."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from engine.board import Board
from engine.snapshots import WorkerView

MIN_WORKERS = 1
MAX_WORKERS = 64
DEFAULT_PARALLEL = 2  # what switching parallel on brings at first


class Seat:
    """One worker thread as the Board's workers view shows it."""

    def __init__(self, wid: int, board: Board, retiring: Callable[[int], bool]) -> None:
        self.id: int = wid
        self._board, self._retiring = board, retiring
        self._item_id: int | None = None
        self._stage: str | None = None

    def show(self, item_id: int | None, stage: str | None) -> None:
        self._item_id, self._stage = item_id, stage
        self._publish(waiting=False)

    def waiting(self, waiting: bool) -> None:
        self._publish(waiting)

    def _publish(self, waiting: bool) -> None:
        self._board.set_worker(
            WorkerView(
                self.id, self._item_id, self._stage, waiting, time.time(),
                retiring=self._retiring(self.id),
            )
        )  # fmt: skip


class Workers:
    """Threads by worker id; ``body(seat)`` is what each runs until it returns."""

    def __init__(self, board: Board, body: Callable[[Seat], None]) -> None:
        self._board = board
        self._body = body
        self._threads: dict[int, threading.Thread] = {}
        self.target = 1
        self._seats: dict[int, Seat] = {}

    def retiring(self, wid: int) -> bool:
        return wid >= self.target

    def seat(self, wid: int) -> Seat:
        seat = self._seats.get(wid)
        if seat is None:
            seat = self._seats[wid] = Seat(wid, self._board, self.retiring)
        return seat

    def spawn(self) -> None:
        """Start a thread for every id below the target that has none alive (under the engine's lock)."""
        for wid in range(self.target):
            thread = self._threads.get(wid)
            if thread is None or not thread.is_alive():
                seat = self.seat(wid)
                thread = threading.Thread(
                    target=self._run, args=(seat,), name=f"bulkscribe-worker-{wid}", daemon=True
                )
                self._threads[wid] = thread
                self._board.set_worker(WorkerView(wid, since=time.time()))
                thread.start()

    def retire(self, wid: int) -> None:
        """Forget a thread leaving after a shrink, so a later growth can reuse its id."""
        self._threads.pop(wid, None)

    def join(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in list(self._threads.values()):
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            thread.join(remaining)
        return not any(t.is_alive() for t in self._threads.values())

    def _run(self, seat: Seat) -> None:
        try:
            self._body(seat)
        finally:
            self._board.drop_worker(seat.id)
