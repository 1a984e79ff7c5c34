"""The help screen: every key, generated from the bindings so it can never drift."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.keys import GROUPS, KEYMAP, TABLE_KEYS, group_of

# Textual's key names as a person types them.
_KEY_NAMES = {"plus": "+", "equals_sign": "=", "minus": "-", "slash": "/", "question_mark": "?"}


def key_table() -> Table:
    """Every key, in sections (what runs, what happens to items, moving around, the app)."""
    rows: dict[str, list[tuple[str, str]]] = {name: [] for name, _ in GROUPS}
    for keys, action, description, _show in KEYMAP:
        shown = " / ".join(_KEY_NAMES.get(key, key) for key in keys.split(","))
        rows[group_of(action)].append((shown, description))
    for group, shown, description in TABLE_KEYS:
        rows[group].append((shown, description))
    table = Table(show_header=False, box=None, padding=(0, 2), expand=True)
    table.add_column("Key", no_wrap=True, style="bold", min_width=10)
    table.add_column("Does", ratio=1)
    for name, _ in GROUPS:
        if table.row_count:
            table.add_row("", "")
        table.add_row(Text(name, style="bold underline"), "")
        for shown, description in rows[name]:
            table.add_row(Text(shown, style="bold"), Text(description))
    return table


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 84; max-width: 95%; height: auto; max-height: 90%;
        padding: 1 2; border: thick $primary; background: $surface;
        border-title-style: bold; border-title-align: left; }
    """
    BINDINGS = [
        Binding(
            "escape,q,question_mark", "dismiss", "Close", id="help.close", tooltip="Close the help"
        )
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll() as box:
            box.border_title = "bulkscribe keys"
            box.border_subtitle = "Escape closes"
            yield Static(key_table())
