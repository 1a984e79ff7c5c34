"""The help screen: every key, generated from the bindings so it can never drift."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.keys import KEYMAP

# Textual's key names as a person types them.
_KEY_NAMES = {"plus": "+", "equals_sign": "=", "minus": "-", "slash": "/", "question_mark": "?"}


def key_table() -> Table:
    table = Table(show_header=True, header_style="bold", box=None, padding=(0, 2))
    table.add_column("Key", no_wrap=True)
    table.add_column("Does")
    for keys, _action, description, _show in KEYMAP:
        shown = " / ".join(_KEY_NAMES.get(key, key) for key in keys.split(","))
        table.add_row(shown, description)
    table.add_row("s / S", "sort by the next column / reverse the sort (in the table)")
    table.add_row(
        "ctrl+p", "command palette: every action, plus set workers, rate limit, order, theme"
    )
    return table


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 84; max-width: 95%; height: auto; max-height: 90%;
        padding: 1 2; border: thick $primary; background: $surface; }
    """
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close", id="help.close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static("[b]bulkscribe keys[/b]\n")
            yield Static(key_table())
            yield Static("\n[dim]Escape closes this help.[/dim]")
