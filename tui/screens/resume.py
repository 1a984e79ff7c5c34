"""The question asked on start when an unfinished session exists: carry on, or start afresh."""

from __future__ import annotations

from textual.app import App

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
