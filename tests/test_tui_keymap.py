"""The keymap: [keymap] in config.toml moves any key by binding id; an unknown id stops the start."""

from __future__ import annotations

import importlib
import os
import pkgutil
from pathlib import Path

import pytest
from textual.binding import Binding
from textual.dom import DOMNode

import tui
from engine.errors import UsageError
from tests.tui_support import GateBatch, until
from tui.app import BulkscribeApp
from tui.config import config_keymap
from tui.keymap import app_keymap, binding_ids, check_keymap
from tui.widgets.status_table import StatusTable


def write_config(text: str) -> None:
    folder = Path(os.environ["XDG_CONFIG_HOME"]) / "bulkscribe"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.toml").write_text(text)


async def test_a_keymap_in_config_moves_an_action_to_another_key(tmp_path: Path) -> None:
    write_config('[keymap]\n"bulkscribe.view.failed" = "f"\n"table.mark" = "insert"\n')
    batch = GateBatch(tmp_path, 3)
    app = BulkscribeApp(batch, keymap=app_keymap())  # type: ignore[arg-type]
    app.animation_level = "none"
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.main.query_one(StatusTable)
        await until(pilot, lambda: table.row_count == 3, "rows")
        await pilot.press("3")  # the old key no longer changes the view
        await pilot.pause()
        assert table.view_name == "all"
        await pilot.press("f")
        await until(pilot, lambda: table.view_name == "failed", "f shows the failed view")
        await pilot.press("1", "v")
        await pilot.pause()
        assert not table.marked
        await pilot.press("insert")
        await until(pilot, lambda: len(table.marked) == 1, "insert marks a row")
        batch.gate.open_all = True
        await until(pilot, lambda: batch.engine.finished)


def test_keymap_wins_over_the_older_keys_table_for_the_same_id() -> None:
    config = {
        "keys": {"bulkscribe.retry_all": "ctrl+r", "table.sort": "o"},
        "keymap": {"bulkscribe.retry_all": "f5"},
    }
    assert config_keymap(config) == {"bulkscribe.retry_all": "f5", "table.sort": "o"}


def test_an_unknown_binding_id_is_refused_with_the_nearest_one() -> None:
    with pytest.raises(
        UsageError, match=r"'bulkscribe\.retry_al'; did you mean bulkscribe\.retry_all\?"
    ):
        check_keymap({"bulkscribe.retry_al": "ctrl+r"})
    with pytest.raises(UsageError, match="names no binding 'zzz'$"):
        check_keymap({"zzz": "ctrl+r"})
    assert check_keymap({"table.mark": "insert"}) == {"table.mark": "insert"}


def _classes_with_bindings() -> list[type[DOMNode]]:
    found: dict[str, type[DOMNode]] = {}
    for module in pkgutil.walk_packages(tui.__path__, "tui."):
        loaded = importlib.import_module(module.name)
        for value in vars(loaded).values():
            if (
                isinstance(value, type)
                and issubclass(value, DOMNode)
                and value.__module__ == module.name
                and "BINDINGS" in vars(value)
            ):
                found[f"{module.name}.{value.__name__}"] = value
    return list(found.values())


def test_every_binding_has_an_id_and_a_tooltip_and_the_keymap_knows_it() -> None:
    known = set(binding_ids())
    # The start-up questions (tui/screens/resume.py) are their own small apps, asked before the
    # keymap is read; their keys are fixed.
    before_the_app = {"sessions.new", "key.cancel"}
    for cls in _classes_with_bindings():
        for binding in vars(cls)["BINDINGS"]:
            assert isinstance(binding, Binding), (cls, binding)
            assert binding.id and binding.tooltip, (cls, binding)
            assert binding.id in known | before_the_app, (cls, binding.id)


def test_the_user_guide_names_every_binding_id() -> None:
    guide = (Path(__file__).parent.parent / "docs" / "usage.md").read_text(encoding="utf-8")
    missing = [binding_id for binding_id in binding_ids() if f"`{binding_id}`" not in guide]
    assert not missing, f"binding ids missing from docs/usage.md: {missing}"
