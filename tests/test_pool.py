"""The worker pool with real threads: sizes, pause, cancel, stop, drain, retries, order, sub-tasks."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from engine.errors import AuthError, ProviderError, RateLimited, TooLarge
from engine.items import Item, State
from engine.limits.limiter import Limiter
from engine.run.engine import Engine
from engine.run.job import Job

WAIT = 10.0  # generous bound for conditions that normally hold within milliseconds
SETTLE = 0.15  # time given to the pool to (wrongly) start something it must not start


class Gate:
    """A work function that holds each item until the test lets it go, and records concurrency."""

    def __init__(self, on_start: Callable[[Job], None] | None = None) -> None:
        self.cv = threading.Condition()
        self.started: list[int] = []
        self.workers: set[int] = set()
        self.released: set[int] = set()
        self.open = False
        self.running = 0
        self.peak = 0
        self.on_start = on_start

    def __call__(self, job: Job, arg: int | None = None) -> int | None:
        key = job.item_id if arg is None else arg
        with self.cv:
            self.started.append(key)
            self.workers.add(job.worker_id)
            self.running += 1
            self.peak = max(self.peak, self.running)
            self.cv.notify_all()
        try:
            if self.on_start is not None:
                self.on_start(job)
            while True:
                with self.cv:
                    if self.open or key in self.released:
                        return None if arg is None else arg * 10
                job.sleep(0.005)  # raises Cancelled when the item is cancelled or stopped
        finally:
            with self.cv:
                self.running -= 1
                self.cv.notify_all()

    def wait_started(self, count: int) -> None:
        with self.cv:
            assert self.cv.wait_for(lambda: len(self.started) >= count, WAIT), self.started

    def wait_running(self, count: int) -> None:
        with self.cv:
            assert self.cv.wait_for(lambda: self.running == count, WAIT), self.running

    def release(self, *keys: int) -> None:
        with self.cv:
            self.released.update(keys)

    def release_all(self) -> None:
        with self.cv:
            self.open = True

    def reset_peak(self) -> None:
        with self.cv:
            self.peak = self.running


def settled_count(gate: Gate) -> int:
    time.sleep(SETTLE)
    with gate.cv:
        return len(gate.started)


@pytest.fixture
def engines() -> Iterator[Callable[..., Engine]]:
    made: list[Engine] = []

    def make(work: Callable[[Job], None], count: int = 0, **kwargs: object) -> Engine:
        kwargs.setdefault("backoff", 0.0)
        engine = Engine(work, **kwargs)  # type: ignore[arg-type]
        engine.add(Item(-1, f"item-{i}") for i in range(count))
        made.append(engine)
        return engine

    yield make
    for engine in made:
        engine.stop(timeout=5.0)


def states(engine: Engine) -> list[str]:
    return [item.state.value for item in engine.board.items()]


# -- sizes ----------------------------------------------------------------------------------------


def test_parallel_is_off_by_default_and_on_means_two(engines) -> None:
    gate = Gate()
    engine = engines(gate, 4)
    assert (engine.workers, engine.parallel) == (1, False)
    engine.start()
    gate.wait_started(1)
    assert settled_count(gate) == 1
    assert engine.set_parallel(True) == 2
    gate.wait_running(2)
    assert engine.board.stats().engine.workers == 2
    gate.release_all()
    assert engine.wait_finished(WAIT)
    assert gate.peak == 2


def test_asking_for_several_workers_implies_parallel(engines) -> None:
    engine = engines(Gate(), workers=5)
    assert (engine.workers, engine.parallel) == (5, True)
    off = engines(Gate(), workers=5, parallel=False)
    assert (off.workers, off.parallel) == (1, False)
    assert off.set_parallel(True) == 5
    assert off.set_workers(100) == 64
    assert off.set_workers(0) == 1
    assert off.parallel is False


def test_growing_the_pool_starts_more_items_at_once(engines) -> None:
    gate = Gate()
    engine = engines(gate, 6)
    engine.start()
    gate.wait_started(1)
    engine.set_workers(4)
    gate.wait_running(4)
    assert settled_count(gate) == 4
    gate.release_all()
    assert engine.wait_finished(WAIT)
    assert states(engine) == ["done"] * 6


def test_shrinking_lets_running_items_finish_then_runs_fewer(engines) -> None:
    gate = Gate()
    engine = engines(gate, 8, workers=4)
    engine.start()
    gate.wait_running(4)
    engine.set_workers(2)
    # Nothing running is interrupted by a shrink.
    assert settled_count(gate) == 4
    assert engine.board.count(State.RUNNING) == 4
    gate.release(*gate.started[:4])
    gate.wait_started(6)
    gate.wait_running(2)
    gate.reset_peak()
    assert settled_count(gate) == 6
    gate.release_all()
    assert engine.wait_finished(WAIT)
    assert gate.peak == 2
    assert states(engine) == ["done"] * 8


# -- pause, cancel, stop, drain --------------------------------------------------------------------


def test_pause_starts_nothing_new_and_resume_continues(engines) -> None:
    gate = Gate()
    engine = engines(gate, 5, workers=2)
    engine.start()
    gate.wait_running(2)
    engine.pause()
    assert engine.board.stats().engine.paused
    gate.release(*gate.started)
    gate.wait_running(0)
    assert settled_count(gate) == 2
    assert states(engine).count("queued") == 3
    engine.resume()
    gate.release_all()
    assert engine.wait_finished(WAIT)
    assert states(engine) == ["done"] * 5


def test_cancel_a_queued_and_a_running_item(engines) -> None:
    gate = Gate()
    engine = engines(gate, 3)
    engine.start()
    gate.wait_started(1)
    assert engine.cancel(2)
    assert engine.board.get(2).state is State.CANCELLED
    assert engine.cancel(0)
    gate.wait_started(2)
    gate.release_all()
    assert engine.wait_finished(WAIT)
    assert states(engine) == ["cancelled", "done", "cancelled"]
    assert gate.started == [0, 1]
    assert not engine.cancel(1)  # already done


def test_stop_puts_running_items_back_in_the_queue(engines) -> None:
    gate = Gate()
    engine = engines(gate, 4, workers=2)
    engine.start()
    gate.wait_running(2)
    engine.stop()
    assert states(engine) == ["queued"] * 4
    assert engine.board.stats().engine.running is False
    assert engine.board.workers() == []
    # Starting again carries on with every item, the interrupted ones included.
    gate.release_all()
    engine.start()
    assert engine.wait_finished(WAIT)
    assert states(engine) == ["done"] * 4


def test_drain_finishes_running_items_and_starts_nothing_new(engines) -> None:
    gate = Gate()
    engine = engines(gate, 5, workers=2)
    engine.start()
    gate.wait_running(2)
    engine.drain()
    gate.release_all()
    assert engine.join(WAIT)
    assert states(engine) == ["done", "done", "queued", "queued", "queued"]
    assert gate.started == [0, 1]


# -- failures and retries ------------------------------------------------------------------------


def test_retry_queues_failed_items_again(engines) -> None:
    broken = {1, 3}

    def work(job: Job) -> None:
        if job.item_id in broken:
            raise ProviderError("the API rejected the request (400)")

    engine = engines(work, 4, workers=2)
    engine.start()
    assert engine.wait_finished(WAIT)
    assert states(engine) == ["done", "failed", "done", "failed"]
    broken.clear()
    assert engine.retry() == 2
    assert engine.wait_finished(WAIT)
    assert states(engine) == ["done"] * 4
    assert engine.board.get(1).error is None
    assert engine.retry() == 0


def test_a_retried_item_times_its_new_run_not_the_gap_before_it(engines) -> None:
    broken = {0}

    def work(job: Job) -> None:
        if job.item_id in broken:
            raise ProviderError("the API rejected the request (400)")

    engine = engines(work, 1)
    engine.start()
    assert engine.wait_finished(WAIT)
    first = engine.board.get(0)
    time.sleep(0.3)  # the user looks at the failure before retrying
    broken.clear()
    retried_at = time.time()
    assert engine.retry() == 1
    assert engine.wait_finished(WAIT)
    again = engine.board.get(0)
    assert again.state is State.DONE and again.attempts == 2
    assert first.started_at is not None and again.started_at is not None
    assert again.started_at >= retried_at > first.started_at


def test_retry_by_id_also_brings_back_a_cancelled_item(engines) -> None:
    engine = engines(lambda job: None, 2)
    engine.cancel(1)
    engine.start()
    assert engine.wait_finished(WAIT)
    assert engine.retry([0, 1]) == 1  # item 0 is done and stays done
    assert engine.wait_finished(WAIT)
    assert states(engine) == ["done", "done"]


def test_transient_errors_are_retried_and_attempts_recorded(engines) -> None:
    calls: dict[int, int] = {}

    def work(job: Job) -> None:
        calls[job.item_id] = calls.get(job.item_id, 0) + 1
        if calls[job.item_id] <= 2:
            raise ProviderError("the API failed (503)", transient=True, status=503)

    engine = engines(work, 1, retries=3)
    cursor = engine.board.cursor()
    engine.start()
    assert engine.wait_finished(WAIT)
    item = engine.board.get(0)
    assert (item.state, item.attempts) == (State.DONE, 3)
    retries = [e.text for e in cursor.pull().events if e.kind == "retry"]
    assert len(retries) == 2
    assert "the API failed (503)" in retries[0]


def test_transient_errors_fail_after_the_last_retry(engines) -> None:
    def work(job: Job) -> None:
        raise TimeoutError("read timed out")

    engine = engines(work, 1, retries=2)
    engine.start()
    assert engine.wait_finished(WAIT)
    item = engine.board.get(0)
    assert (item.state, item.attempts) == (State.FAILED, 3)
    assert (item.error_class, item.error) == ("network", "TimeoutError: read timed out")


def test_permanent_errors_fail_at_once_with_a_readable_message(engines) -> None:
    def work(job: Job) -> None:
        if job.item_id == 0:
            raise ProviderError(
                "the API rejected the request (400)", hint="check --model", status=400
            )
        raise KeyError("segments")

    engine = engines(work, 2, retries=5)
    engine.start()
    assert engine.wait_finished(WAIT)
    bad, bug = engine.board.items()
    assert (bad.state, bad.attempts, bad.error_class) == (State.FAILED, 1, "provider")
    assert bad.error == "the API rejected the request (400) (check --model)"
    assert (bug.state, bug.attempts, bug.error) == (State.FAILED, 1, "KeyError: 'segments'")


def test_one_failure_does_not_stop_the_rest(engines) -> None:
    def work(job: Job) -> None:
        if job.item_id == 2:
            raise ValueError("bad chunk")

    engine = engines(work, 6, workers=2)
    engine.start()
    assert engine.wait_finished(WAIT)
    assert states(engine) == ["done", "done", "failed", "done", "done", "done"]
    assert engine.board.stats().engine.finished


# -- order ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ("input", [0, 1, 2, 3, 4, 5]),
        ("shortest", [5, 2, 3, 0, 1, 4]),
        ("longest", [0, 3, 2, 5, 1, 4]),
    ],
)
def test_order_by_duration_puts_unknown_durations_last(engines, order, expected) -> None:
    seen: list[int] = []
    engine = engines(lambda job: seen.append(job.item_id), order=order)
    durations = [30.0, None, 10.0, 20.0, None, 5.0]
    engine.add(Item(-1, f"item-{i}", duration=d) for i, d in enumerate(durations))
    engine.start()
    assert engine.wait_finished(WAIT)
    assert seen == expected


def test_changing_the_order_reorders_the_queue(engines) -> None:
    seen: list[int] = []
    engine = engines(lambda job: seen.append(job.item_id))
    engine.add(Item(-1, f"item-{i}", duration=d) for i, d in enumerate([3.0, 1.0, 2.0]))
    engine.set_order("longest")
    assert engine.board.stats().engine.order == "longest"
    engine.start()
    assert engine.wait_finished(WAIT)
    assert seen == [0, 2, 1]
    with pytest.raises(ValueError):
        engine.set_order("random")


# -- sub-tasks ------------------------------------------------------------------------------------


def test_map_runs_sub_tasks_on_other_free_workers(engines) -> None:
    gate = Gate()
    results: list[list[int]] = []
    engine = engines(
        lambda job: results.append(job.map(gate, range(4), label="chunk")), 1, workers=4
    )
    engine.start()
    gate.wait_running(4)
    assert len(gate.workers) == 4
    assert engine.board.count(State.RUNNING) == 1
    stages = sorted(w.stage or "" for w in engine.board.workers())
    assert stages == ["chunk 1", "chunk 2", "chunk 3", "chunk 4"]
    gate.release_all()
    assert engine.wait_finished(WAIT)
    assert results == [[0, 10, 20, 30]]


def test_map_with_one_worker_still_completes(engines) -> None:
    results: list[list[int]] = []
    engine = engines(lambda job: results.append(job.map(lambda j, x: x * x, [1, 2, 3])), 2)
    engine.start()
    assert engine.wait_finished(WAIT)
    assert results == [[1, 4, 9], [1, 4, 9]]
    assert states(engine) == ["done", "done"]


def test_a_failing_sub_task_fails_the_item_with_its_error(engines) -> None:
    ran: list[int] = []

    def part(job: Job, x: int) -> int:
        ran.append(x)
        if x == 1:
            raise TooLarge("the audio chunk is too large for the API (413)")
        return x

    engine = engines(lambda job: job.map(part, [0, 1, 2, 3]), 2, workers=1, retries=3)
    engine.start()
    assert engine.wait_finished(WAIT)
    item = engine.board.get(0)
    assert (item.state, item.error_class) == (State.FAILED, "too-large")
    assert item.error == "the audio chunk is too large for the API (413)"
    assert item.attempts == 1  # a permanent error inside a sub-task is not retried
    # Once one part failed for good, the parts still queued are skipped.
    assert ran[:2] == [0, 1] and 2 not in ran[2:4]


def test_transient_sub_task_errors_are_retried_inside_the_item(engines) -> None:
    failed_once: set[int] = set()

    def part(job: Job, x: int) -> int:
        if x not in failed_once:
            failed_once.add(x)
            raise ProviderError("the API failed (500)", transient=True)
        return x + 100

    results: list[list[int]] = []
    engine = engines(lambda job: results.append(job.map(part, [1, 2])), 1, workers=2)
    engine.start()
    assert engine.wait_finished(WAIT)
    assert results == [[101, 102]]
    assert engine.board.get(0).state is State.DONE


# -- rate limits ----------------------------------------------------------------------------------


def refused_once(at: int) -> Callable[[Job], None]:
    """Work that takes an ``asr`` permit per call and gets a 429 (Retry-After 0.05 s) on call ``at``."""
    answered: list[int] = []

    def work(job: Job) -> None:
        job.acquire("asr")
        answered.append(job.item_id)
        if len(answered) == at:
            raise RateLimited("rate limited by the API (429)", status=429, retry_after=0.05)

    return work


def run_and_read_429s(engines, limiter: Limiter, at: int, count: int) -> tuple[Engine, list[str]]:
    engine = engines(refused_once(at), count, limiters=[limiter])
    cursor = engine.board.cursor()
    engine.start()
    assert engine.wait_finished(WAIT)
    assert [engine.board.get(i).state for i in range(count)] == [State.DONE] * count
    return engine, [e.text for e in cursor.pull().events if e.kind == "429"]


def test_a_429_from_work_throttles_the_service_limiter(engines) -> None:
    limiter = Limiter("asr", "100/s")
    engine, notes = run_and_read_429s(engines, limiter, at=1, count=1)
    assert engine.board.get(0).attempts == 2
    assert (limiter.throttled, limiter.factor, limiter.granted) == (1, 0.5, 2)
    assert notes == ["asr: 429, pausing 0.1s and slowing down to 50/s"]


def test_a_429_after_our_own_full_window_stretches_it_and_says_so(engines) -> None:
    """We sent the whole limit ourselves: the refusal is late arrivals, not too high a rate."""
    limiter = Limiter("asr", "3/2s")
    _, notes = run_and_read_429s(engines, limiter, at=3, count=3)
    assert limiter.factor == 1.0  # the rate was not cut
    assert len(notes) == 1 and "and stretching its window by 0." in notes[0], notes


def test_acquire_for_a_service_without_a_limiter_does_not_wait(engines) -> None:
    permits = []
    engine = engines(lambda job: permits.append(job.acquire("youtube")), 1)
    engine.start()
    assert engine.wait_finished(WAIT)
    assert [p.waited for p in permits] == [0.0]


def test_waiting_for_a_permit_shows_on_the_item_and_worker(engines) -> None:
    limiter = Limiter("asr", "1/min")
    limiter.acquire()  # the only permit of this minute is gone
    engine = engines(lambda job: job.acquire("asr"), 1, limiters=[limiter])
    engine.start()
    deadline = time.monotonic() + WAIT
    while engine.board.get(0).state is not State.WAITING and time.monotonic() < deadline:
        time.sleep(0.01)
    assert engine.board.get(0).state is State.WAITING
    assert limiter.stats().waiting == 1
    engine.cancel(0)
    assert engine.wait_finished(WAIT)
    assert engine.board.get(0).state is State.CANCELLED


def test_a_refused_key_pauses_the_engine_and_keeps_items_queued(engines) -> None:
    def work(job: Job) -> None:
        if job.item_id == 1:
            raise AuthError("the API refused the key (401)", hint="check OPENAI_API_KEY")

    engine = engines(work, 4, workers=1)
    watcher = engine.board.cursor()
    engine.start()
    deadline = time.monotonic() + WAIT
    while engine.blocked is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert engine.blocked == "the API refused the key (401) (check OPENAI_API_KEY)"
    assert engine.paused
    time.sleep(0.2)
    # The item that met the refusal is queued again, not failed; later items never started.
    assert states(engine) == ["done", "queued", "queued", "queued"]
    assert engine.board.get(1).error_class == "auth"
    kinds = [e.kind for e in watcher.pull().events]
    assert kinds.count("blocked") == 1 and "failed" not in kinds
    engine.resume()
    assert engine.blocked is None
