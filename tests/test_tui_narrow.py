"""Narrow terminals: the state that matters stays on screen, cut by priority, at 60x15, 80x24, 120x40."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rich.console import Console
from textual.widgets import Static

from engine.clock import ManualClock
from engine.events import Event
from engine.limits.pools import INDEPENDENT
from tests.tui_support import fixed_app, screen_text, until
from tui.widgets.event_log import EventLog
from tui.widgets.item_detail import ItemDetail, render_detail
from tui.widgets.status_table import StatusTable

SIZES = [(60, 15), (80, 24), (120, 40)]


def line(app, widget_id: str) -> str:  # noqa: ANN001
    return str(app.main.query_one(widget_id, Static).render())


def finished_adds_up(counts: str) -> None:
    """The finished figure at the start equals done + failed + cancelled + skipped as shown."""
    finished = int(counts.split("/")[0])
    shown = sum(int(n) for n in re.findall(r"[✓✗⊘↷] ?(\d+)", counts))
    assert shown == finished, counts


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_paused_429_slowed_and_waiting_survive_any_width(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: tuple[int, int]
) -> None:
    clock = ManualClock()
    app, batch = fixed_app(tmp_path, monkeypatch, limiter_clock=clock)
    batch.board.update(6, state=batch.board.get(6).state.CANCELLED, finished_at=1.0)
    batch.limiter.throttle(7.0)  # a 429 with Retry-After: 7 (pauses and slows the service)
    batch.engine.pause()
    async with app.run_test(size=size) as pilot:
        await until(pilot, lambda: "PAUSED" in line(app, "#progress-rates"))
        engine_line = line(app, "#progress-rates")
        assert engine_line.startswith("PAUSED")
        assert "429 pause 7s" in engine_line
        assert "slowed→" in engine_line
        counts = line(app, "#progress-counts")
        assert "⊘" in counts  # the cancelled count is kept
        finished_adds_up(counts)
        # Each line is drawn whole on screen, not cut at the terminal's edge.
        shown = screen_text(app)
        assert engine_line.rstrip() in shown
        assert "ETA " in counts


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_independent_mode_keeps_each_pools_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: tuple[int, int]
) -> None:
    app, batch = fixed_app(tmp_path, monkeypatch)
    batch.engine.set_workers(4)
    batch.engine.set_rate_mode(INDEPENDENT)
    async with app.run_test(size=size) as pilot:
        await until(pilot, lambda: "each" in line(app, "#progress-rates"))
        assert "(300/min each)" in line(app, "#progress-rates")


async def test_a_limit_per_ten_seconds_is_shown_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, _ = fixed_app(tmp_path, monkeypatch, rate="60/10s")
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: "asr" in line(app, "#progress-rates"))
        assert "60/10s" in line(app, "#progress-rates")
        assert "360" not in line(app, "#progress-rates")


async def test_at_60x15_the_side_pane_folds_and_the_cursor_row_is_on_screen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, _ = fixed_app(tmp_path, monkeypatch)
    async with app.run_test(size=(60, 15)) as pilot:
        await pilot.pause()
        assert not app.main.side_shown
        await pilot.press("end")
        await until(pilot, lambda: app.main.query_one(StatusTable).cursor_item_id == 7)
        shown = screen_text(app)
        assert "media.test/08.mp3" in shown  # the last row, under the cursor
        footer = shown.splitlines()[-1]
        assert footer.rstrip().endswith(("Quit", "Help", "palette")) or "Hel" not in footer
        await pilot.press("i")
        await until(pilot, lambda: app.main.side_shown, "side pane back")
        await pilot.pause()
        # With the pane back the table is shorter: the cursor's row is still on screen.
        assert "media.test/08.mp3" in screen_text(app)
        await pilot.press("i")
        await until(pilot, lambda: not app.main.side_shown, "side pane folded")


@pytest.mark.parametrize(("size", "shown"), [((80, 24), False), ((120, 40), True)])
async def test_the_side_pane_shows_from_100_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: tuple[int, int], shown: bool
) -> None:
    app, _ = fixed_app(tmp_path, monkeypatch)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        assert app.main.side_shown is shown
        assert ("Detail" in screen_text(app)) is shown
        await pilot.press("l")  # asking for a pane brings it back
        await until(pilot, lambda: app.main.side_shown)


async def test_the_event_log_wraps_long_messages_in_a_narrow_pane(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, _ = fixed_app(tmp_path, monkeypatch)
    message = (
        "asr: 429, pausing 7.0s and slowing down to 240/min; the server said "
        "'Rate limit reached for requests per min' END-OF-MESSAGE"
    )
    async with app.run_test(size=(60, 15)) as pilot:
        await pilot.press("l")
        log = app.main.query_one(EventLog)
        log.add([Event(0.0, "429", message, 4)])
        await until(pilot, lambda: len(log.lines) > 1, "wrapped lines")
        text = " ".join(strip.text.strip() for strip in log.lines)
        assert "END-OF-MESSAGE" in text
        assert "'Rate limit reached for requests per min'" in text
        assert all(len(strip.text.rstrip()) <= log.size.width for strip in log.lines)


def test_detail_values_wrap_with_a_hanging_indent(tmp_path: Path) -> None:
    from engine.items import Item, State

    item = Item(
        3,
        "https://media.test/" + "a-very-long-path/" * 6 + "episode.mp3",
        kind="url",
        state=State.FAILED,
        error_class="provider",
        error="the API failed (500): the server had an internal error while processing the upload",
    )
    console = Console(width=40, record=True, color_system=None)
    console.print(render_detail(item, 40))
    lines = console.export_text().splitlines()
    source = next(i for i, text in enumerate(lines) if text.startswith("source"))
    value_column = lines[source].index("https://")
    assert lines[source + 1].startswith(" " * value_column)
    assert lines[source + 1].strip()
    error = next(i for i, text in enumerate(lines) if text.startswith("provider: "))
    assert lines[error + 1].startswith(" " * len("provider: "))
    assert all(len(text.rstrip()) <= 40 for text in lines)


async def test_detail_starts_at_the_top_for_each_item_and_escape_goes_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, batch = fixed_app(tmp_path, monkeypatch)
    batch.board.update(2, meta={"extras": {f"field{i}": "x" for i in range(40)}})
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.main.query_one(StatusTable)
        await pilot.press("down", "down")
        await until(pilot, lambda: table.cursor_item_id == 2)
        await pilot.press("enter")
        detail = app.main.query_one(ItemDetail)
        await until(pilot, lambda: detail.has_focus, "detail focused")
        await until(pilot, lambda: detail.max_scroll_y > 0, "a long detail")
        detail.scroll_end(animate=False)
        await until(pilot, lambda: detail.scroll_y > 0)
        await pilot.press("escape")
        await until(pilot, lambda: table.has_focus, "back at the table")
        await pilot.press("down")
        await until(pilot, lambda: table.cursor_item_id == 3)
        await until(pilot, lambda: detail.scroll_y == 0, "the next item from its top")
