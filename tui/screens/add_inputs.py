"""The add-inputs modal: paste URLs, or give a path to a file, folder or list; choose episodes."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static, TextArea

from engine.errors import UsageError
from engine.sources.episodes import EpisodeChoice


@dataclass(frozen=True)
class AddRequest:
    """What the modal returns: the lines given and, for feeds and playlists, which episodes."""

    lines: list[str]
    choice: EpisodeChoice | None = None


class AddInputsScreen(ModalScreen[AddRequest | None]):
    """Returns the non-empty lines typed or pasted with the episode choice, or None when cancelled."""

    DEFAULT_CSS = """
    AddInputsScreen { align: center middle; }
    AddInputsScreen > Vertical { width: 80; max-width: 95%; height: auto; max-height: 90%;
        padding: 1 2; border: thick $primary; background: $surface; }
    AddInputsScreen TextArea { height: 8; }
    AddInputsScreen #add-help { color: $text-muted; height: auto; }
    AddInputsScreen #add-error { color: $error; height: auto; }
    AddInputsScreen Horizontal { height: auto; align-horizontal: right; }
    AddInputsScreen #add-choice { align-horizontal: left; }
    AddInputsScreen #add-choice Input { width: 1fr; }
    """
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="add.cancel", tooltip="Close, adding nothing"),
        Binding("ctrl+s", "submit", "Add", id="add.submit", tooltip="Add what was pasted"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Add inputs", classes="title")
            yield TextArea(id="add-text", soft_wrap=False, show_line_numbers=False)
            yield Static(
                "One per line: YouTube or media URLs, feeds, files, folders, or lists "
                "(.txt .md .csv .tsv .xlsx .json).",
                id="add-help",
            )
            with Horizontal(id="add-choice"):
                yield Input(placeholder="since YYYY-MM-DD", id="add-since")
                yield Input(placeholder="latest N", id="add-latest")
                yield Input(placeholder="episodes 3,5-9", id="add-episodes")
            yield Static("", id="add-error")
            with Horizontal():
                yield Button("Cancel", id="add-cancel")
                yield Button("Add (ctrl+s)", variant="primary", id="add-ok")

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    def show_error(self, text: str) -> None:
        self.query_one("#add-error", Static).update(Text(text))  # quotes the input

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "add-ok":
            self.action_submit()
        else:
            self.action_cancel()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_submit()

    def action_submit(self) -> None:
        lines = [
            line.strip() for line in self.query_one(TextArea).text.splitlines() if line.strip()
        ]
        if not lines:
            self.show_error("Nothing to add yet: paste at least one URL or path.")
            return
        try:
            choice = EpisodeChoice.parse(
                self.query_one("#add-since", Input).value,
                self.query_one("#add-latest", Input).value,
                self.query_one("#add-episodes", Input).value,
            )
        except UsageError as exc:
            self.show_error(exc.user_text)
            return
        self.dismiss(AddRequest(lines, choice))

    def action_cancel(self) -> None:
        self.dismiss(None)
