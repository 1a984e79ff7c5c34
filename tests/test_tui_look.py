"""Look: a quiet cursor until chosen, columns chosen by width, a grouped help, keys from a keymap."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.items import State
from tests.tui_support import GateBatch, fixed_app, screen_text, until, wait_started
from tui.app import BulkscribeApp
from tui.widgets.status_table import StatusTable


def cursor_style(app) -> object:  # noqa: ANN001
    table = app.main.query_one(StatusTable)
    row = table.visible_ids.index(table.cursor_item_id) + 1
    return table.render_line(row)._segments[0].style.bgcolor


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
async def test_the_cursor_is_quiet_until_the_user_moves_it_or_when_unfocused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: tuple[int, int]
) -> None:
    app, _ = fixed_app(tmp_path, monkeypatch)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        quiet = cursor_style(app)
        await pilot.press("down", "up")
        await pilot.pause()
        loud = cursor_style(app)
        assert loud != quiet
        app.main.query_one("#detail").focus()
        await pilot.pause()
        assert cursor_style(app) == quiet  # not focused: quiet again


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
async def test_length_and_time_come_before_an_error_column_and_failures_still_show(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: tuple[int, int]
) -> None:
    app, _ = fixed_app(tmp_path, monkeypatch)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        table = app.main.query_one(StatusTable)
        header = table.render_line(0).text
        assert "Length" in header and "Time" in header
        failed_row = table.render_line(3).text
        assert "✗ failed" in failed_row and "the API fa" in failed_row


async def test_the_help_is_grouped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app, _ = fixed_app(tmp_path, monkeypatch)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        await until(pilot, lambda: "bulkscribe keys" in screen_text(app), "help shown")
        shown = screen_text(app)
        sections = [shown.index(name) for name in ("Run", "Items", "Look around")]
        assert sections == sorted(sections)
        assert shown.index("retry every failed item") > shown.index("Items")


async def test_a_keymap_from_config_moves_a_key(tmp_path: Path) -> None:
    batch = GateBatch(tmp_path, 2)
    app = BulkscribeApp(
        batch,  # type: ignore[arg-type]
        keymap={"bulkscribe.retry_all": "ctrl+r", "bulkscribe.toggle_side": "f2"},
    )
    app.animation_level = "none"
    async with app.run_test(size=(80, 24)) as pilot:
        wait_started(batch.gate, 0)
        batch.gate.fail(0)
        await until(pilot, lambda: batch.board.get(0).state is State.FAILED)
        await pilot.press("R")  # the old key no longer retries
        await pilot.pause()
        assert batch.board.get(0).state is State.FAILED
        await pilot.press("ctrl+r")
        await until(pilot, lambda: batch.board.get(0).state is not State.FAILED, "retried")
        assert not app.main.side_shown
        await pilot.press("f2")
        await until(pilot, lambda: app.main.side_shown, "f2 shows the side pane")
        batch.gate.open_all = True
        await until(pilot, lambda: batch.engine.finished)


def test_a_broken_keys_table_is_a_usage_error(tmp_path: Path) -> None:
    import os

    from engine.errors import UsageError
    from tui.config import config_keymap

    folder = Path(os.environ["XDG_CONFIG_HOME"]) / "bulkscribe"
    folder.mkdir(parents=True)
    (folder / "config.toml").write_text('[keys]\n"bulkscribe.retry_all" = 3\n')
    with pytest.raises(UsageError, match=r"\[keys\]"):
        config_keymap()
    (folder / "config.toml").write_text('[keys]\n"bulkscribe.retry_all" = "ctrl+r"\n')
    assert config_keymap() == {"bulkscribe.retry_all": "ctrl+r"}
