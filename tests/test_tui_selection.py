"""Selection: retry one or all, a cursor that stays on its item, a cancel that asks, marked rows."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Static

from engine.items import State
from tests.tui_support import GateBatch, make_app, state_of, until, wait_started
from tui.screens.confirm import ConfirmScreen
from tui.widgets.status_table import StatusTable

SIZES = [(80, 24), (120, 40)]
ids = [f"{w}x{h}" for w, h in SIZES]


def table_of(app) -> StatusTable:  # noqa: ANN001
    return app.main.query_one(StatusTable)


async def fail_all(pilot, batch: GateBatch, item_ids) -> None:  # noqa: ANN001
    for item_id in item_ids:
        wait_started(batch.gate, item_id)
        batch.gate.fail(item_id)
        await until(pilot, lambda i=item_id: state_of(batch, i) is State.FAILED)  # type: ignore[misc]


@pytest.mark.parametrize("size", SIZES, ids=ids)
async def test_r_retries_the_selected_failed_item_and_R_every_failed_one(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    batch = GateBatch(tmp_path, 4)
    app = make_app(batch)
    async with app.run_test(size=size) as pilot:
        await fail_all(pilot, batch, (0, 1, 2))
        wait_started(batch.gate, 3)
        await pilot.press("down", "up")  # the cursor on a failed row, by hand
        await pilot.press("r")
        await until(pilot, lambda: state_of(batch, 0) is State.QUEUED, "item 1 queued again")
        assert state_of(batch, 1) is state_of(batch, 2) is State.FAILED
        await pilot.press("R")  # with the cursor still on a row: every failed item
        await until(pilot, lambda: state_of(batch, 1) is State.QUEUED, "item 2 queued again")
        assert state_of(batch, 2) is State.QUEUED
        batch.gate.open_all = True
        await until(pilot, lambda: batch.engine.finished)
        assert batch.gate.started.count(2) == 2
        assert batch.board.count(State.DONE) == 4


async def test_the_cursor_stays_on_its_item_as_rows_move(tmp_path: Path) -> None:
    batch = GateBatch(tmp_path, 4)
    app = make_app(batch)
    async with app.run_test(size=(80, 24)) as pilot:
        table = table_of(app)
        await pilot.press("s")  # sort by Status: rows move as states change
        await pilot.press("end")
        chosen = table.cursor_item_id
        assert chosen is not None
        wait_started(batch.gate, 0)
        batch.gate.release(0)
        wait_started(batch.gate, 1)
        await until(pilot, lambda: state_of(batch, 0) is State.DONE)
        # Sorted by status, the finished item moved to another row: the cursor did not follow rows.
        await until(pilot, lambda: table.visible_ids != sorted(table.visible_ids), "rows moved")
        await pilot.pause(0.3)
        assert table.cursor_item_id == chosen
        batch.gate.open_all = True


async def test_x_never_cancels_a_row_that_slid_under_the_cursor(tmp_path: Path) -> None:
    batch = GateBatch(tmp_path, 3, parallel=True, workers=2)
    app = make_app(batch)
    async with app.run_test(size=(80, 24)) as pilot:
        table = table_of(app)
        wait_started(batch.gate, 0)
        wait_started(batch.gate, 1)
        await pilot.press("2")  # the active view: running and waiting
        await until(pilot, lambda: table.visible_ids == [0, 1])
        await pilot.press("home")
        assert table.cursor_item_id == 0
        batch.gate.release(0)  # the chosen item finishes and leaves the view
        await until(pilot, lambda: 0 not in table.visible_ids)
        await pilot.press("x")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        assert state_of(batch, 1) is State.RUNNING  # the row now under the cursor is untouched
        batch.gate.open_all = True
        await until(pilot, lambda: batch.engine.finished)
        assert batch.board.count(State.CANCELLED) == 0


async def test_x_asks_first_and_n_keeps_the_item(tmp_path: Path) -> None:
    batch = GateBatch(tmp_path, 3)
    app = make_app(batch)
    async with app.run_test(size=(80, 24)) as pilot:
        wait_started(batch.gate, 0)
        await pilot.press("down", "down")
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmScreen)
        assert "Cancel #3" in str(app.screen.query_one(".title").render())
        await pilot.press("n")
        await pilot.pause()
        assert state_of(batch, 2) is State.QUEUED
        batch.gate.open_all = True
        await until(pilot, lambda: batch.engine.finished)
        assert batch.board.count(State.DONE) == 3


async def test_cancelling_an_item_whose_transcript_arrived_says_so(tmp_path: Path) -> None:
    batch = GateBatch(tmp_path, 1)
    app = make_app(batch)
    async with app.run_test(size=(120, 40)) as pilot:
        wait_started(batch.gate, 0)
        batch.board.update(0, stage="write", chunks_total=3, chunks_done=3)
        await pilot.press("down", "up")
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmScreen)
        body = str(app.screen.query_one(Static).render()) + " ".join(
            str(w.render()) for w in app.screen.query(Static)
        )
        assert "transcript of #1 has already arrived" in body
        assert "throws it away" in body
        await pilot.press("n")
        batch.gate.release(0)
        await until(pilot, lambda: state_of(batch, 0) is State.DONE)


@pytest.mark.parametrize("size", SIZES, ids=ids)
async def test_marked_rows_are_cancelled_and_retried_together(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    batch = GateBatch(tmp_path, 5)
    app = make_app(batch)
    async with app.run_test(size=size) as pilot:
        table = table_of(app)
        wait_started(batch.gate, 0)
        await pilot.press("down", "down")  # row 3
        await pilot.press("v", "v")  # marks rows 3 and 4, stepping down
        assert table.marked == {2, 3}
        assert table.render_line(3).text.startswith("●")
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmScreen)
        assert "Cancel 2 items?" in str(app.screen.query_one(".title").render())
        await pilot.press("y")
        await until(pilot, lambda: state_of(batch, 2) is State.CANCELLED)
        assert state_of(batch, 3) is State.CANCELLED
        assert state_of(batch, 4) is State.QUEUED
        assert table.marked == set()  # acting on the marks clears them
        await pilot.press("up", "up", "v", "v")  # mark them again (v steps down)
        assert table.marked == {2, 3}
        await pilot.press("r")
        await until(pilot, lambda: state_of(batch, 2) is not State.CANCELLED)
        assert state_of(batch, 3) is not State.CANCELLED
        await pilot.press("V")
        batch.gate.open_all = True
        await until(pilot, lambda: batch.engine.finished)
        assert batch.board.count(State.DONE) == 5
