"""A small modal that asks for one value and explains bad input inline instead of closing."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from engine.errors import BulkscribeError


class PromptScreen(ModalScreen[str | None]):
    """Ask for a value; ``validate`` raises a BulkscribeError whose text is shown under the field."""

    DEFAULT_CSS = """
    PromptScreen { align: center middle; }
    PromptScreen > Vertical { width: 64; max-width: 95%; height: auto; padding: 1 2;
        border: thick $primary; background: $surface; }
    PromptScreen #prompt-error { color: $error; height: auto; }
    PromptScreen #prompt-help { color: $text-muted; height: auto; }
    """
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="prompt.cancel", tooltip="Close, changing nothing")
    ]

    def __init__(
        self,
        title: str,
        *,
        value: str = "",
        placeholder: str = "",
        help: str = "",
        validate: Callable[[str], object] | None = None,
    ) -> None:
        super().__init__()
        self._title = title
        self._value = value
        self._placeholder = placeholder
        self._help = help
        self._validate = validate

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self._title, classes="title")
            yield Input(value=self._value, placeholder=self._placeholder, id="prompt-input")
            yield Static("", id="prompt-error")
            yield Static(self._help + "\nEnter to apply, Escape to cancel.", id="prompt-help")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        if self._validate is not None:
            try:
                self._validate(value)
            except BulkscribeError as exc:
                self.query_one("#prompt-error", Static).update(Text(exc.user_text))
                return
            except ValueError as exc:
                self.query_one("#prompt-error", Static).update(Text(str(exc)))
                return
        self.dismiss(value)

    def action_cancel(self) -> None:
        self.dismiss(None)
