"""The end of a batch: what finished how, how long it took, where the files are, what to do next."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from engine.items import GLYPH, Item, State
from engine.outputs.no_speech import NO_SPEECH
from tui.format import hms

_ROWS = (
    (State.DONE, "done", "$success"),
    (State.FAILED, "failed", "$error"),
    (State.CANCELLED, "cancelled", "dim"),
    (State.SKIPPED, "skipped", "dim"),
)


def no_speech(item: Item) -> bool:
    """A finished item whose media held no speech: done, with an empty transcript."""
    return item.state is State.DONE and item.meta.get("outcome") == NO_SPEECH


class SummaryScreen(ModalScreen[str | None]):
    """Dismissed with the action chosen: "open", "copy", "retry", "quit", or None to look around."""

    DEFAULT_CSS = """
    SummaryScreen { align: center middle; }
    SummaryScreen > Vertical { width: 72; max-width: 95%; height: auto; max-height: 95%;
        padding: 1 2; border: thick $success; background: $surface; }
    SummaryScreen.-failures > Vertical { border: thick $warning; }
    SummaryScreen #summary-counts { margin-bottom: 1; }
    SummaryScreen #summary-folder { margin-top: 1; }
    SummaryScreen #summary-keys { margin-top: 1; }
    """

    BINDINGS = [
        Binding(
            "o",
            "choose('open')",
            "Open folder",
            id="summary.open",
            tooltip="Open the output folder",
        ),
        Binding(
            "c",
            "choose('copy')",
            "Copy path",
            id="summary.copy",
            tooltip="Copy the output folder's path",
        ),
        Binding(
            "R",
            "choose('retry')",
            "Retry failed",
            id="summary.retry",
            tooltip="Retry every failed item",
        ),
        Binding(
            "escape,enter", "choose(None)", "Back", id="summary.back", tooltip="Back to the table"
        ),
        Binding("q", "choose('quit')", "Quit", id="summary.quit", tooltip="Quit bulkscribe"),
    ]

    def __init__(self, items: Sequence[Item], elapsed: float, output_dir: Path) -> None:
        super().__init__()
        self._items = items
        self._elapsed = elapsed
        self._output_dir = output_dir
        self.failed = sum(1 for item in items if item.state is State.FAILED)

    def compose(self) -> ComposeResult:
        counts = Counter(item.state for item in self._items)
        silent = sum(1 for item in self._items if no_speech(item))
        with Vertical():
            title = "Batch finished" + (f": {self.failed} failed" if self.failed else "")
            yield Label(title, classes="title", id="summary-title")
            text = Text()
            for state, word, variable in _ROWS:
                n = counts.get(state, 0)
                if n or state in (State.DONE, State.FAILED):
                    # Theme colours are plain colours; "$text-muted" ("auto 60%") is not one.
                    style = (
                        self.app.theme_variables.get(variable[1:], "")
                        if variable.startswith("$")
                        else variable
                    )
                    text.append(f"{GLYPH[state]} {n:>5} {word}", style=style)
                    if state is State.DONE and silent:
                        text.append(f"  ({silent} with no speech found)", style="dim")
                    text.append("\n")
            text.append(f"\n{len(self._items)} items in {hms(self._elapsed)}")
            yield Static(text, id="summary-counts")
            folder = Text("Output folder\n", style="bold")
            folder.append(str(self._output_dir))  # a path is data, never markup
            folder.append("\nmanifest.json and items.csv are written.", style="dim")
            yield Static(folder, id="summary-folder")
            yield Static(self._keys_text(), id="summary-keys")

    def _keys_text(self) -> Text:
        text = Text()
        for binding in self.BINDINGS:
            assert isinstance(binding, Binding)
            if binding.action == "choose('retry')" and not self.failed:
                continue
            key = binding.key.split(",")[-1 if binding.key.startswith("escape") else 0]
            text.append(f"{key.capitalize() if len(key) > 1 else key} ", style="bold")
            text.append(f"{binding.description}   ")
        return text

    def on_mount(self) -> None:
        self.set_class(self.failed > 0, "-failures")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "choose" and parameters == ("retry",):
            return self.failed > 0
        return True

    def action_choose(self, choice: str | None) -> None:
        self.dismiss(choice)
