"""The questions asked on start: resume an unfinished session (which one), and its API key if needed."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from tui.screens.confirm import ConfirmScreen


class ResumePrompt(App[bool]):
    """A one-question app run before the main one, so the session is chosen before any work starts."""

    def __init__(self, description: str) -> None:
        super().__init__()
        self._description = description

    def on_mount(self) -> None:
        self.push_screen(
            ConfirmScreen(
                "Resume the last session?",
                f"{self._description}\n\nDone items stay done; unfinished ones carry on from their last "
                "finished chunk.",
                yes="Resume",
                no="New session",
            ),
            self.exit,
        )


def ask_resume(description: str) -> bool:
    return bool(ResumePrompt(description).run())


class _ListScreen(Screen[int]):
    DEFAULT_CSS = """
    _ListScreen { align: center middle; }
    _ListScreen > Vertical { width: 90%; max-width: 100; height: auto; max-height: 90%;
        padding: 1 2; border: thick $warning; background: $surface; }
    _ListScreen OptionList { height: auto; max-height: 20; }
    """
    BINDINGS = [
        Binding(
            "escape", "new", "New session", id="sessions.new", tooltip="Start a new session instead"
        )
    ]

    def __init__(self, descriptions: list[str]) -> None:
        super().__init__()
        self._descriptions = descriptions

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"{len(self._descriptions)} unfinished sessions", classes="title")
            yield Static("Choose one to resume (Enter), or start a new session (Escape).")
            options = [Option(text, id=str(i)) for i, text in enumerate(self._descriptions)]
            options.append(Option("Start a new session", id="-1"))
            yield OptionList(*options, id="sessions")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(int(event.option.id or "-1"))

    def action_new(self) -> None:
        self.dismiss(-1)


class SessionList(App[int]):
    """Several unfinished sessions: returns the index chosen, -1 for a new one, None if quit."""

    def __init__(self, descriptions: list[str]) -> None:
        super().__init__()
        self._descriptions = descriptions

    def on_mount(self) -> None:
        self.push_screen(_ListScreen(self._descriptions), self.exit)


class _KeyScreen(Screen[str]):
    DEFAULT_CSS = """
    _KeyScreen { align: center middle; }
    _KeyScreen > Vertical { width: 72; max-width: 95%; height: auto; padding: 1 2;
        border: thick $warning; background: $surface; }
    """
    BINDINGS = [
        Binding(
            "escape", "give_up", "Cancel", id="key.cancel", tooltip="Give up: no key, no resume"
        )
    ]

    def __init__(self, source: str) -> None:
        super().__init__()
        self._source = source

    def compose(self) -> ComposeResult:
        where = {
            "flag:--api-key": "--api-key",
            "env:OPENAI_API_KEY": "OPENAI_API_KEY",
            "env:BULKSCRIBE_API_KEY": "BULKSCRIBE_API_KEY",
        }.get(self._source, self._source or "a flag or the environment")
        with Vertical():
            yield Label("API key for this session", classes="title")
            yield Static(
                f"Last time the key came from {where}. Keys are never stored, so enter it again "
                "(it is not shown, saved or logged), or press Escape to stop."
            )
            yield Input(password=True, placeholder="sk-...", id="api-key")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip())

    def action_give_up(self) -> None:
        self.dismiss("")


class KeyPrompt(App[str]):
    """Asks for the API key, masked; returns it, or "" / None when the user gives up."""

    def __init__(self, source: str) -> None:
        super().__init__()
        self._source = source

    def on_mount(self) -> None:
        self.push_screen(_KeyScreen(self._source), self.exit)
