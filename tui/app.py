"""The bulkscribe Textual app: composes the main screen, the app-wide keys, and the end of a batch.

The keys that steer the batch belong to the main screen (tui/screens/*_actions.py); a [keymap]
table in config.toml can move any of them by binding id (tui/keymap.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import App, SystemCommand
from textual.notifications import Notification, Notify
from textual.screen import Screen

from engine.batch import Batch
from engine.errors import BulkscribeError
from engine.inputs.source import InputBatch
from engine.items import State
from tui.keys import bindings
from tui.preferences import load_preferences, save_preference
from tui.screens.confirm import ConfirmScreen
from tui.screens.help import HelpScreen
from tui.screens.main import MainScreen
from tui.screens.summary import SummaryScreen

if TYPE_CHECKING:
    from engine.run.engine import Engine
    from tui.distribute import DistributedRun


class BulkscribeApp(App[int]):
    """Watch and steer a running batch. Quitting stops the engine cleanly; the session is kept."""

    CSS_PATH = "app.tcss"
    TITLE = "bulkscribe"
    BINDINGS = bindings()

    def __init__(
        self,
        batch: Batch,
        *,
        session_name: str = "",
        read_inputs: Callable[[list[str]], InputBatch] | None = None,
        on_exit: Callable[[], None] | None = None,
        on_finished: Callable[[], Path | None] | None = None,
        notify: str = "off",
        keymap: dict[str, str] | None = None,
        autostart: bool = True,
        end_summary: bool = True,
        engine: DistributedRun | None = None,
    ) -> None:
        super().__init__()
        self.batch = batch
        # A distributed batch is steered through its coordinator (tui/distribute.py).
        self.engine: Engine | DistributedRun = engine or batch.engine
        self.sub_title = session_name
        self.read_inputs = read_inputs  # what the add-inputs dialog reads its lines with
        self._on_exit = on_exit
        self._on_finished = on_finished
        self._notify_by = notify
        self._autostart = autostart
        self._toasts: dict[str, Notification] = {}
        # Benchmarks that time keys past the batch's end turn the summary off: it takes the keys.
        self._end_summary = end_summary
        if keymap:
            # [keymap] in config.toml: binding id -> keys, e.g. "bulkscribe.retry_all" = "ctrl+r".
            self.set_keymap(keymap)

    def get_default_screen(self) -> Screen:
        return MainScreen(self.batch.board)

    def on_mount(self) -> None:
        theme = load_preferences().get("theme")
        if isinstance(theme, str) and theme in self.available_themes:
            self.theme = theme
        self.theme_changed_signal.subscribe(
            self, lambda theme: save_preference("theme", theme.name)
        )
        if self._autostart:
            self.engine.start()

    @property
    def main(self) -> MainScreen:
        screen = self.screen_stack[0]
        assert isinstance(screen, MainScreen)
        return screen

    def toast(self, kind: str, message: str, *, timeout: float = 2.0) -> None:
        """A toast that replaces the last one of its kind: ten presses of + show one, not ten."""
        previous = self._toasts.get(kind)
        if previous is not None and previous in self._notifications:
            self._unnotify(previous)
        notification = Notification(message, "", "information", timeout, markup=False)
        self._toasts[kind] = notification
        self.post_message(Notify(notification))

    def action_save_screenshot(self) -> None:
        """An SVG of the screen, saved in the output folder (which exists), and where it went."""
        folder = self.batch.output_dir
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = self.save_screenshot(path=str(folder))
        except OSError as exc:
            self.notify(f"Could not save a screenshot in {folder}: {exc}", severity="error",
                        markup=False)  # fmt: skip
            return
        self.notify(f"Screenshot saved to {path}", timeout=6, markup=False)

    # -- the end of a batch --------------------------------------------------------------------

    def batch_finished(self, elapsed: float) -> None:
        """Every item finished: write the reports, tell whoever is in another window, sum up."""
        if self._on_finished is not None:
            try:
                self._on_finished()
            except OSError as exc:  # a full disk: the session is saved, the reports can wait
                self.notify(f"Could not write manifest.json: {exc}", severity="error", timeout=10)
            except BulkscribeError as exc:
                self.notify(exc.user_text, severity="error", timeout=10)
        self._alert("bulkscribe: batch finished")
        if not self._end_summary or any(
            isinstance(screen, SummaryScreen) for screen in self.screen_stack
        ):
            return
        summary = SummaryScreen(self.batch.board.items(), elapsed, self.batch.output_dir)

        def chosen(choice: str | None) -> None:
            if choice == "open":
                self.main.action_open_output(folder=True)
            elif choice == "copy":
                self.main.action_copy_output_path()
            elif choice == "retry":
                self.main.action_retry_all()
            elif choice == "quit":
                self.action_quit_app()

        self.push_screen(summary, chosen)

    def _alert(self, message: str) -> None:
        if self._notify_by == "bell":
            self.bell()
        elif self._notify_by in ("osc9", "osc777") and self._driver is not None:
            text = message.replace("\x1b", "").replace("\x07", "")
            if self._notify_by == "osc9":
                sequence = f"\x1b]9;{text}\x07"
            else:
                sequence = f"\x1b]777;notify;bulkscribe;{text}\x07"
            self._driver.write(sequence)
            self._driver.flush()

    # -- help and quitting -----------------------------------------------------------------------

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_quit_app(self) -> None:
        running = self.batch.board.count(State.RUNNING) + self.batch.board.count(State.WAITING)
        if not running:
            self._finish()
            return

        def done(yes: bool | None) -> None:
            if yes:
                self._finish()

        self.push_screen(
            ConfirmScreen(
                "Quit bulkscribe?",
                f"{running} item(s) are running. They will stop and go back to the queue; "
                "finished work is kept and the session can be resumed.",
                yes="Quit",
                no="Keep running",
            ),
            done,
        )

    async def action_quit(self) -> None:
        """ctrl+q and the palette's Quit ask like q while work is running."""
        self.action_quit_app()

    def _finish(self) -> None:
        self.engine.stop()
        if self._on_exit is not None:
            self._on_exit()
        self.exit(0)

    # -- command palette ----------------------------------------------------------------------------

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        from tui.palette import palette_commands

        return palette_commands(self, screen)
