"""Snapshots of the app in known states: a fixed clock, states written to the Board, no worker threads."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from textual.widgets import TextArea

import engine.items
from engine.board import Board, WorkerView
from engine.clock import ManualClock
from engine.items import State
from engine.limits.pools import INDEPENDENT
from tests.tui_support import FIXED_NOW, FixedClock, GateBatch, fill_board, make_app
from tui.app import BulkscribeApp

SIZE = (100, 30)


@pytest.fixture
def build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., tuple[BulkscribeApp, GateBatch]]:
    """An app over a board in fixed states; the engine never starts, so nothing moves."""
    clock = FixedClock()
    # A running item's elapsed time is measured against the wall clock: pin it to the board's.
    monkeypatch.setattr(engine.items, "time", SimpleNamespace(time=clock))

    def make(filled: bool = True, **engine_args: Any) -> tuple[BulkscribeApp, GateBatch]:
        board = Board(clock=clock)
        batch = GateBatch(tmp_path, 0, board=board, **engine_args)
        if filled:
            fill_board(board, clock)
        return make_app(batch, autostart=False), batch

    return make


def test_empty_session(snap_compare, build) -> None:  # noqa: ANN001
    app, _ = build(filled=False)
    assert snap_compare(app, terminal_size=SIZE)


def test_mid_run_with_failures(snap_compare, build) -> None:  # noqa: ANN001
    app, _ = build()
    assert snap_compare(app, terminal_size=SIZE)


def test_mid_run_at_80x24(snap_compare, build) -> None:  # noqa: ANN001
    app, _ = build()
    assert snap_compare(app, terminal_size=(80, 24))


def test_parallel_on_with_eight_workers(snap_compare, build) -> None:  # noqa: ANN001
    app, batch = build()
    batch.engine.set_workers(8)
    for wid in range(8):
        item_id = {0: 4, 1: 5}.get(wid)
        batch.board.set_worker(
            WorkerView(wid, item_id, "transcribe" if item_id is not None else None, wid == 1)
        )
    assert snap_compare(app, press=["w"], terminal_size=(120, 40))


def test_independent_rate_mode(snap_compare, build) -> None:  # noqa: ANN001
    app, batch = build()
    batch.engine.set_workers(4)
    batch.engine.set_rate_mode(INDEPENDENT)
    assert snap_compare(app, terminal_size=SIZE)


def test_failed_item_detail(snap_compare, build) -> None:  # noqa: ANN001
    app, _ = build()
    assert snap_compare(app, press=["down", "down"], terminal_size=SIZE)


def test_main_at_120x40(snap_compare, build) -> None:  # noqa: ANN001
    app, _ = build()
    assert snap_compare(app, terminal_size=(120, 40))


def test_main_at_60x15_side_pane_folded(snap_compare, build) -> None:  # noqa: ANN001
    app, _ = build()
    assert snap_compare(app, press=["end"], terminal_size=(60, 15))


def test_side_pane_brought_back_at_80x24(snap_compare, build) -> None:  # noqa: ANN001
    app, _ = build()
    assert snap_compare(app, press=["i"], terminal_size=(80, 24))


def test_429_pause_at_80x24(snap_compare, build) -> None:  # noqa: ANN001
    app, batch = build(limiter_clock=ManualClock())
    batch.limiter.throttle(7.0)  # a 429 with Retry-After: 7
    assert snap_compare(app, terminal_size=(80, 24))


def test_paused_at_80x24(snap_compare, build) -> None:  # noqa: ANN001
    app, batch = build()
    batch.engine.pause()
    assert snap_compare(app, terminal_size=(80, 24))


def test_end_of_batch_summary_at_80x24(snap_compare, build) -> None:  # noqa: ANN001
    app, batch = build()
    batch.output_dir = Path("/home/ana/transcripts-2026-12-01-093000")  # not the test's tmp folder
    board = batch.board
    for item_id in (4, 5):
        board.update(item_id, state=State.DONE, stage=None, finished_at=FIXED_NOW + 120)
    for item_id in (6, 7):
        board.update(item_id, state=State.CANCELLED, finished_at=FIXED_NOW + 120)

    async def finish(pilot) -> None:  # noqa: ANN001
        await pilot.pause()
        pilot.app.batch_finished(754.0)
        await pilot.pause()

    assert snap_compare(app, run_before=finish, terminal_size=(80, 24))


def test_help_screen(snap_compare, build) -> None:  # noqa: ANN001
    app, _ = build()
    assert snap_compare(app, press=["question_mark"], terminal_size=SIZE)


def test_add_inputs_modal(snap_compare, build) -> None:  # noqa: ANN001
    app, _ = build()

    async def type_two_lines(pilot) -> None:  # noqa: ANN001
        await pilot.press("a")
        area = pilot.app.screen.query_one(TextArea)
        area.cursor_blink = False
        area.insert("https://www.youtube.com/watch?v=dQw4w9WgXcQ\n~/podcasts/episodes.csv")
        await pilot.pause()

    assert snap_compare(app, run_before=type_two_lines, terminal_size=SIZE)
