"""The keymap of config.toml checked against every binding id the app has, before the app starts."""

from __future__ import annotations

import difflib

from textual.binding import Binding
from textual.dom import DOMNode

from engine.errors import UsageError
from tui.config import config_keymap, config_path


def _keyed() -> tuple[type[DOMNode], ...]:
    """Every app, screen and widget class of ours that declares bindings."""
    from tui.app import BulkscribeApp
    from tui.screens.add_inputs import AddInputsScreen
    from tui.screens.confirm import ConfirmScreen
    from tui.screens.help import HelpScreen
    from tui.screens.main import MainScreen
    from tui.screens.prompt import PromptScreen
    from tui.screens.summary import SummaryScreen
    from tui.widgets.item_detail import ItemDetail
    from tui.widgets.status_table import StatusTable
    from tui.widgets.workers_view import WorkersView

    return (
        BulkscribeApp, MainScreen, StatusTable, ItemDetail, HelpScreen, SummaryScreen,
        ConfirmScreen, PromptScreen, AddInputsScreen, WorkersView,
    )  # fmt: skip


def binding_ids() -> list[str]:
    """The id of every binding in the app, its screens and widgets, sorted."""
    ids: set[str] = set()
    for cls in _keyed():
        for base in cls.__mro__:
            for binding in vars(base).get("BINDINGS", ()):
                if isinstance(binding, Binding) and binding.id:
                    ids.add(binding.id)
    return sorted(ids)


def check_keymap(keymap: dict[str, str]) -> dict[str, str]:
    """The keymap as given, or a UsageError naming the first id no binding has."""
    known = binding_ids()
    for binding_id in keymap:
        if binding_id in known:
            continue
        near = difflib.get_close_matches(binding_id, known, n=1, cutoff=0.6)
        guess = f"; did you mean {near[0]}?" if near else ""
        raise UsageError(
            f"config.toml: [keymap] names no binding {binding_id!r}{guess}",
            hint=f"the binding ids are listed in docs/usage.md (Keys); fix it in {config_path()}",
        )
    return keymap


def app_keymap() -> dict[str, str]:
    """The keymap from config.toml, every id checked."""
    return check_keymap(config_keymap())
