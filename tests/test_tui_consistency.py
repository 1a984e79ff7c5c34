"""Consistency: every way to quit asks, one palette entry each, sorting by what is shown, quiet toasts."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.items import Item
from tests.tui_support import GateBatch, make_app, until, wait_started
from tui.screens.confirm import ConfirmScreen
from tui.widgets.status_table import StatusTable

SIZES = [(80, 24), (120, 40)]
ids = ["80x24", "120x40"]


@pytest.mark.parametrize("size", SIZES, ids=ids)
async def test_ctrl_q_and_the_palette_quit_ask_like_q_mid_run(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    batch = GateBatch(tmp_path, 2)
    app = make_app(batch)
    async with app.run_test(size=size) as pilot:
        wait_started(batch.gate, 0)
        await pilot.press("ctrl+q")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "ctrl+q asks")
        await pilot.press("n")
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        quit_commands = [c for c in app.get_system_commands(app.screen) if c.title == "Quit"]
        assert len(quit_commands) == 1
        quit_commands[0].callback()
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "palette Quit asks")
        await pilot.press("n")
        await pilot.pause()
        assert app.is_running
        batch.gate.open_all = True


async def test_the_palette_has_one_entry_per_title(tmp_path: Path) -> None:
    app = make_app(GateBatch(tmp_path, 0), autostart=False)
    async with app.run_test(size=(80, 24)):
        titles = [c.title for c in app.get_system_commands(app.screen)]
    assert len(titles) == len(set(titles)), titles
    assert "Keys" not in titles and titles.count("Help") == 1


@pytest.mark.parametrize(("size", "hidden"), [((80, 24), "engine"), ((120, 40), "kind")])
async def test_s_cycles_only_through_columns_on_screen(
    tmp_path: Path, size: tuple[int, int], hidden: str
) -> None:
    app = make_app(GateBatch(tmp_path, 3), autostart=False)
    async with app.run_test(size=size) as pilot:
        table = app.main.query_one(StatusTable)
        shown = [column.key for column, _ in table._layout]
        assert hidden not in shown
        seen = []
        for _ in shown:
            await pilot.press("s")
            seen.append(table.sort_key)
        assert sorted(seen) == sorted(shown)  # every press changes what is on screen


async def test_title_sorts_by_the_shown_title_and_reversed_number_shows_an_arrow(
    tmp_path: Path,
) -> None:
    batch = GateBatch(tmp_path, 0)
    # No titles yet: the cell shows the file's name, while the full paths sort the other way.
    batch.engine.add(
        [
            Item(-1, "/z/alpha.mp3", kind="file"),
            Item(-1, "/a/charlie.mp3", kind="file"),
            Item(-1, "/m/bravo.mp3", kind="file"),
        ]
    )
    app = make_app(batch, autostart=False)
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.main.query_one(StatusTable)
        table.sort_key = "title"
        await pilot.pause()
        assert table.visible_ids == [0, 2, 1]  # alpha, bravo, charlie as shown
        table.sort_key = "id"
        await pilot.pause()
        assert "▲" not in table.render_line(0).text and "▼" not in table.render_line(0).text
        await pilot.press("S")
        await pilot.pause()
        assert table.visible_ids == [2, 1, 0]
        assert "# ▼" in table.render_line(0).text


async def test_plus_pressed_many_times_shows_one_toast(tmp_path: Path) -> None:
    batch = GateBatch(tmp_path, 0)
    app = make_app(batch, autostart=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press(*["plus"] * 6)
        await pilot.pause()
        assert batch.engine.workers == 7
        toasts = list(app._notifications)
        assert [n.message for n in toasts] == ["7 workers"]


async def test_a_screenshot_goes_into_the_output_folder_and_says_where(tmp_path: Path) -> None:
    batch = GateBatch(tmp_path, 1)
    app = make_app(batch, autostart=False)
    async with app.run_test(size=(80, 24)) as pilot:
        command = next(
            c for c in app.get_system_commands(app.screen) if c.title == "Save screenshot"
        )
        command.callback()
        await pilot.pause()
        saved = list(batch.output_dir.glob("*.svg"))
        assert len(saved) == 1
        assert [n.message for n in app._notifications] == [f"Screenshot saved to {saved[0]}"]


async def test_main_screen_keys_stay_on_the_main_screen(tmp_path: Path) -> None:
    """Under the help (a modal), p and + reach nothing; ? still works everywhere."""
    batch = GateBatch(tmp_path, 1)
    app = make_app(batch, autostart=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        await until(pilot, lambda: app.screen is not app.main, "help open")
        await pilot.press("p", "plus")
        await pilot.pause()
        assert batch.engine.workers == 1 and not batch.engine.parallel
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is app.main)
        await pilot.press("p")
        await until(pilot, lambda: batch.engine.parallel, "p works on the main screen")
