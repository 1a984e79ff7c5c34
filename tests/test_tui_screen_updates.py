"""Parts of the screen that repaint without a new layout still show the right thing when they change size."""

from __future__ import annotations

import html
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

import engine.items
from engine.board import Board
from tests.tui_support import FixedClock, GateBatch, fill_board, make_app, until, wait_started
from tui.app import BulkscribeApp
from tui.widgets.status_table import StatusTable

SIZE = (100, 30)
WIDE = (130, 40)  # the side pane takes the full height: nothing in the detail needs scrolling


def screen_text(app: BulkscribeApp) -> str:
    """What the terminal shows, as plain text."""
    svg = app.export_screenshot()
    return html.unescape(re.sub(r"<[^>]+>", "", svg)).replace("\xa0", " ")


def app_on_a_fixed_clock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[BulkscribeApp, FixedClock]:
    """The app over a board filled with items in every state, with time standing still."""
    clock = FixedClock()
    monkeypatch.setattr(engine.items, "time", SimpleNamespace(time=clock))
    board = Board(clock=clock)
    fill_board(board, clock)
    return make_app(GateBatch(tmp_path, 0, board=board), autostart=False), clock


async def test_detail_pane_grows_and_shrinks_with_the_selected_item(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, _ = app_on_a_fixed_clock(tmp_path, monkeypatch)
    async with app.run_test(size=WIDE) as pilot:
        await pilot.press("down")  # a done item: a short detail
        await pilot.pause()
        assert "What to do" not in screen_text(app)
        await pilot.press("down")  # the failed item: its error and what to do, several lines more
        await pilot.pause()
        shown = screen_text(app)
        assert "provider: the API failed (500): internal error" in shown
        assert "What to do: The transcription service failed" in shown
        assert "attempts 3" in shown  # the last lines too, not only as many as before
        await pilot.press("down")  # done again: the longer text must not linger
        await pilot.pause()
        shown = screen_text(app)
        assert "What to do" not in shown
        assert "Field recording, river at dawn" in shown


async def test_rows_leaving_a_view_keep_the_scrollbar_and_end_key_right(tmp_path: Path) -> None:
    batch = GateBatch(tmp_path, 40, workers=4, parallel=True)
    app = make_app(batch)
    async with app.run_test(size=SIZE) as pilot:
        table = app.main.query_one(StatusTable)
        for item_id in range(4):
            wait_started(batch.gate, item_id)
        await pilot.press("5")  # queued only: 36 rows, more than the table shows
        await until(pilot, lambda: table.row_count == 36, "36 queued rows")
        assert table.show_vertical_scrollbar
        for item_id in range(8):  # eight finish, eight more start: eight rows leave the view
            batch.gate.release(item_id)
            wait_started(batch.gate, item_id + 4)
        await until(pilot, lambda: table.row_count == 28, "28 queued rows")
        assert table.show_vertical_scrollbar
        assert table.vertical_scrollbar.window_virtual_size == 29  # header line + rows
        await pilot.press("end")
        assert table.cursor_item_id == 39
        bottom = table.scrollable_content_region.height - 1
        assert table.render_line(bottom).text.lstrip().startswith("40 ")
        for item_id in range(8, 30):  # the queue shrinks below the table's height
            batch.gate.release(item_id)
        await until(pilot, lambda: table.row_count < bottom, "a short queue")
        await until(pilot, lambda: not table.show_vertical_scrollbar, "no scrollbar")
        assert table.render_line(0).text.rstrip().endswith("Error")  # rows use the whole width
        batch.gate.open_all = True


async def test_footer_hides_letter_keys_while_the_filter_has_focus(tmp_path: Path) -> None:
    app = make_app(GateBatch(tmp_path, 3), autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "Parallel" in screen_text(app), "the footer")
        await pilot.press("slash")
        await pilot.pause()
        assert "Parallel" not in screen_text(app)  # p types into the filter now
        await pilot.press("escape")
        await pilot.pause()
        assert "Parallel" in screen_text(app)


async def test_a_running_rows_elapsed_time_ticks_on_screen_while_the_item_is_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Item 5 has run for 15 s; the rows around it have finished.
    app, clock = app_on_a_fixed_clock(tmp_path, monkeypatch)
    async with app.run_test(size=(110, 30)) as pilot:  # wide enough for the Time column
        table = app.main.query_one(StatusTable)

        def row_of_5() -> str:
            return next(line for line in screen_text(app).splitlines() if "(part 1)" in line)

        assert "0:15" in row_of_5()
        done_row = next(line for line in screen_text(app).splitlines() if "Intro to" in line)
        clock.now += 65
        await until(pilot, lambda: "1:20" in row_of_5(), "the elapsed time to tick")
        assert done_row in screen_text(app)  # a finished row keeps its time
        assert table.row_count == 8
