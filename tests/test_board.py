"""The Board: cursors see only what changed, events overflow visibly, counts, rates and ETA."""

from __future__ import annotations

from engine.board import Board, EngineView, WorkerView
from engine.clock import ManualClock
from engine.items import Item, State
from engine.limits.limiter import Limiter


class FakeTime:
    """A wall clock that only moves when the test says so."""

    def __init__(self, start: float = 10_000.0) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t


def board_with(count: int, clock: FakeTime | None = None) -> Board:
    board = Board(clock or FakeTime())
    board.add(Item(-1, f"file-{i}.mp3") for i in range(count))
    return board


def test_items_get_ids_in_order_and_a_queued_time() -> None:
    clock = FakeTime()
    board = board_with(3, clock)
    items = board.items()
    assert [item.id for item in items] == [0, 1, 2]
    assert all(item.queued_at == clock.t for item in items)
    assert len(board) == 3


def test_first_pull_gets_every_item_then_only_changes() -> None:
    board = board_with(5)
    cursor = board.cursor()
    assert [item.id for item in cursor.pull().items] == [0, 1, 2, 3, 4]
    assert cursor.pull().items == ()
    board.update(3, state=State.RUNNING, stage="download")
    board.update(1, title="Episode 1")
    board.update(3, stage="transcribe")
    changed = cursor.pull().items
    assert [item.id for item in changed] == [1, 3]
    assert changed[1].stage == "transcribe"
    assert changed[0].label == "Episode 1"
    assert cursor.pull().items == ()


def test_each_cursor_keeps_its_own_position() -> None:
    board = board_with(3)
    fast, slow = board.cursor(), board.cursor()
    fast.pull()
    board.update(0, state=State.RUNNING)
    assert [item.id for item in fast.pull().items] == [0]
    board.update(2, state=State.RUNNING)
    assert [item.id for item in fast.pull().items] == [2]
    assert [item.id for item in slow.pull().items] == [0, 1, 2]


def test_items_added_later_reach_existing_cursors() -> None:
    board = board_with(2)
    cursor = board.cursor()
    cursor.pull()
    board.add([Item(-1, "late.mp3")])
    assert [item.source for item in cursor.pull().items] == ["late.mp3"]


def test_a_closed_cursor_stops_collecting() -> None:
    board = board_with(1)
    cursor = board.cursor()
    cursor.pull()
    cursor.close()
    board.post("retry", "attempt 1 failed")
    board.update(0, state=State.RUNNING)
    changes = cursor.pull()
    assert (changes.items, changes.events) == ((), ())


def test_events_are_delivered_once_and_overflow_is_counted() -> None:
    board = board_with(1)
    cursor = board.cursor()
    board.post("retry", "attempt 1 failed", item_id=0)
    changes = cursor.pull()
    assert [(e.kind, e.text, e.item_id) for e in changes.events] == [
        ("retry", "attempt 1 failed", 0)
    ]
    assert changes.dropped_events == 0
    assert cursor.pull().events == ()

    for n in range(5003):
        board.post("429", f"burst {n}")
    changes = cursor.pull()
    assert len(changes.events) == 5000
    assert changes.dropped_events == 3
    # The newest are kept: a reader that fell behind sees the latest news.
    assert changes.events[-1].text == "burst 5002"
    assert changes.events[0].text == "burst 3"
    assert cursor.pull().dropped_events == 0


def test_counts_by_state_follow_every_transition() -> None:
    board = board_with(6)
    board.update(0, state=State.RUNNING)
    board.update(1, state=State.DONE)
    board.update(2, state=State.FAILED, error="boom")
    board.update(3, state=State.WAITING)
    board.update(3, state=State.RUNNING)
    assert board.count(State.QUEUED) == 2
    assert board.count(State.RUNNING) == 2
    stats = board.stats()
    assert stats.counts == {"queued": 2, "running": 2, "done": 1, "failed": 1}
    assert stats.total == 6
    assert stats.finished == 2
    assert stats.count(State.CANCELLED) == 0
    assert [item.id for item in board.select([State.FAILED, State.DONE])] == [1, 2]


def test_items_per_minute_and_eta_on_a_fake_clock() -> None:
    clock = FakeTime()
    board = board_with(10, clock)
    assert board.stats().items_per_min == 0.0
    assert board.stats().eta is None
    clock.t += 30.0
    for item_id in range(3):
        board.update(item_id, state=State.DONE)
    stats = board.stats()
    assert stats.elapsed == 30.0
    assert stats.items_per_min == 6.0  # 3 in 30 s
    assert stats.eta == 70.0  # 7 left at 6 a minute
    # Finishes older than a minute stop counting towards the rate.
    clock.t += 90.0
    board.update(3, state=State.DONE)
    stats = board.stats()
    assert stats.items_per_min == 1.0
    assert stats.eta == 6 * 60.0
    # A minute with no finish at all: the rate falls to zero without a new finish to prune on.
    clock.t += 61.0
    assert board.stats().items_per_min == 0.0 and board.stats().eta is None


def test_eta_is_zero_when_nothing_is_left() -> None:
    clock = FakeTime()
    board = board_with(2, clock)
    clock.t += 10.0
    board.update(0, state=State.DONE)
    board.update(1, state=State.SKIPPED)
    assert board.stats().eta == 0.0


def test_throughput_counts_finishes_per_ten_second_slot() -> None:
    clock = FakeTime(10_000.0)
    board = board_with(5, clock)
    board.update(0, state=State.DONE)
    board.update(1, state=State.DONE)
    clock.t += 10.0
    board.update(2, state=State.FAILED)
    throughput = board.stats().throughput
    assert len(throughput) == 30
    assert throughput[-2:] == (2, 1)
    assert sum(throughput) == 3


def test_retry_counts_a_finish_again_only_when_it_finishes_again() -> None:
    clock = FakeTime()
    board = board_with(1, clock)
    clock.t += 60.0
    board.update(0, state=State.FAILED)
    board.update(0, state=State.QUEUED)
    assert board.stats().finished == 0
    board.update(0, state=State.DONE)
    assert board.stats().items_per_min == 2.0


def test_workers_engine_view_and_limiters_reach_readers() -> None:
    board = board_with(1)
    limiter = Limiter("asr", "5/s", clock=ManualClock())
    board.watch(limiter)
    board.watch(limiter)
    limiter.acquire()
    board.set_worker(WorkerView(1, item_id=0, stage="transcribe"))
    board.set_worker(WorkerView(0))
    board.set_engine(EngineView(workers=2, parallel=True, running=True))
    changes = board.cursor().pull()
    assert [(w.id, w.stage) for w in changes.workers] == [(0, None), (1, "transcribe")]
    assert changes.stats.engine.workers == 2
    assert [(s.service, s.granted) for s in changes.stats.services] == [("asr", 1)]
    board.drop_worker(1)
    assert [w.id for w in board.workers()] == [0]


def test_restart_clock_starts_elapsed_and_rates_afresh() -> None:
    clock = FakeTime()
    board = board_with(3, clock)
    clock.t += 30.0
    board.update(0, state=State.DONE)
    board.restart_clock()
    clock.t += 5.0
    stats = board.stats()
    assert stats.elapsed == 5.0
    assert stats.items_per_min == 0.0
