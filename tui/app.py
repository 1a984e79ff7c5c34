"""The bulkscribe Textual app: composes the main screen and turns keys and commands into engine verbs."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import App, SystemCommand
from textual.notifications import Notification, Notify
from textual.screen import Screen

from engine.batch import Batch
from engine.errors import BulkscribeError
from engine.items import Item, State
from engine.limiter import INDEPENDENT, SHARED
from engine.pool import MAX_WORKERS, MIN_WORKERS, Engine
from engine.ratespec import parse_rate
from tui.format import row_label
from tui.keys import bindings
from tui.preferences import load_preferences, save_preference
from tui.screens.add_inputs import AddInputsScreen, AddRequest
from tui.screens.confirm import ConfirmScreen
from tui.screens.help import HelpScreen
from tui.screens.main import MainScreen
from tui.screens.prompt import PromptScreen
from tui.screens.summary import SummaryScreen
from tui.widgets.status_table import StatusTable

if TYPE_CHECKING:
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
        read_inputs: Callable[[list[str]], object] | None = None,
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
        self._read_inputs = read_inputs
        self._on_exit = on_exit
        self._on_finished = on_finished
        self._notify_by = notify
        self._autostart = autostart
        self._toasts: dict[str, Notification] = {}
        # Benchmarks that time keys past the batch's end turn the summary off: it takes the keys.
        self._end_summary = end_summary
        if keymap:
            # [keys] in config.toml: binding id -> keys, e.g. "bulkscribe.retry_all" = "ctrl+r".
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
        return self.screen_stack[0]  # type: ignore[return-value]

    # -- parallelism and rate ----------------------------------------------------------------------

    def action_toggle_parallel(self) -> None:
        n = self.engine.set_parallel(not self.engine.parallel)
        self.toast(
            "workers", f"Parallel {'on' if n > 1 else 'off'}: {n} worker{'s' if n > 1 else ''}"
        )

    def action_workers(self, delta: int) -> None:
        target = max(MIN_WORKERS, min(MAX_WORKERS, self.engine.workers + delta))
        if target == self.engine.workers:
            self.bell()
            return
        self.engine.set_workers(target)
        self.toast("workers", f"{target} worker{'s' if target > 1 else ''}", timeout=1.5)

    def action_set_workers(self) -> None:
        def validate(value: str) -> None:
            if not value.isdigit() or not MIN_WORKERS <= int(value) <= MAX_WORKERS:
                raise ValueError(f"enter a whole number from {MIN_WORKERS} to {MAX_WORKERS}")

        def done(value: str | None) -> None:
            if value:
                self.engine.set_workers(int(value))
                self.notify(f"{self.engine.workers} workers", timeout=1.5)

        self.push_screen(
            PromptScreen(
                "Number of workers",
                value=str(self.engine.workers),
                validate=validate,
                help=f"{MIN_WORKERS}-{MAX_WORKERS}; 1 turns parallel off.",
            ),
            done,
        )

    def action_toggle_rate_mode(self) -> None:
        limiters = list(self.engine.limiters.values())
        if not limiters:
            return
        # The transcription API's limiter (the last one) is what keys and quotas are about; a media
        # site is one host seen from one address, so its limit stays shared by everyone.
        target = limiters[-1]
        mode = INDEPENDENT if target.mode == SHARED else SHARED
        self.engine.set_rate_mode(mode, target.service)
        self.toast("rate-mode", f"Rate mode: {mode}")

    def action_set_rate(self, service: str = "asr") -> None:
        limiter = self.engine.limiters.get(service) or next(
            iter(self.engine.limiters.values()), None
        )
        if limiter is None:
            return

        def done(value: str | None) -> None:
            if value:
                self.engine.set_rate_spec(value, limiter.service)
                self.notify(f"{limiter.service} limit {limiter.spec}", timeout=2)

        self.push_screen(
            PromptScreen(
                f"Rate limit for {limiter.service}",
                value=str(limiter.spec),
                validate=parse_rate,
                help="requests/period, e.g. 300/min, 50/s or 5/s,300/min",
            ),
            done,
        )

    def action_set_order(self, order: str) -> None:
        self.engine.set_order(order)
        self.notify(f"Order: {order}", timeout=2)

    # -- flow ---------------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "toggle_pause":
            # One of the two space bindings at a time, so the footer says what space will do.
            return (parameters == ("resume",)) == self.engine.paused
        return True

    def action_toggle_pause(self, _shown_as: str = "") -> None:
        if self.engine.paused:
            self.engine.resume()
            self.toast("pause", "Resumed", timeout=1.5)
        else:
            self.engine.pause()
            self.toast("pause", "Paused: running items finish, nothing new starts")

    def action_retry(self) -> None:
        """Retry the marked items, or the selected one; R (retry_all) is for every failed item."""
        targets = [i for i in self.main.targets() if i.state in _RETRYABLE]
        if not targets:
            self.notify(
                "Select or mark a failed or cancelled item (R retries every failed item)",
                timeout=3,
            )
            return
        n = self.engine.retry([item.id for item in targets])
        self.main.clear_marks()
        self.notify(_retrying(n), timeout=2)

    def action_retry_all(self) -> None:
        self.notify(_retrying(self.engine.retry()), timeout=2)

    def action_cancel_item(self) -> None:
        """Cancel the marked items, or the selected one, after saying what will be lost."""
        targets = [i for i in self.main.targets() if not i.state.terminal]
        if not targets:
            self.notify("Select or mark a queued or running item to cancel", timeout=2)
            return
        ids = [item.id for item in targets]
        arrived = [item for item in targets if transcript_arrived(item)]
        if len(targets) == 1:
            # The title as the row shows it (a file's name, not its whole path), kept as plain text.
            title: str | Text = Text(f"Cancel #{targets[0].id + 1} {row_label(targets[0])}?")
        else:
            title = f"Cancel {len(targets)} items?"
        body = "Queued items will not run; running items stop at their next step."
        if arrived:
            which = ", ".join(f"#{item.id + 1}" for item in arrived[:5])
            body = (
                f"The transcript of {which}{' and more' if len(arrived) > 5 else ''} has already "
                "arrived and is being written: cancelling now throws it away. " + body
            )
        body += " Cancelled items can be retried with r."

        def done(yes: bool | None) -> None:
            if not yes:
                return
            cancelled = sum(self.engine.cancel(item_id) for item_id in ids)
            self.main.clear_marks()
            self.notify(
                f"Cancelled {cancelled} item{'s' if cancelled != 1 else ''}"
                if len(ids) > 1
                else f"Cancelled #{ids[0] + 1}",
                timeout=2,
            )

        self.push_screen(
            ConfirmScreen(
                title, body, yes="Cancel item" + ("s" if len(ids) > 1 else ""), no="Keep"
            ),
            done,
        )

    def action_add_inputs(self) -> None:
        def done(request: AddRequest | None) -> None:
            if not request or self._read_inputs is None:
                return
            try:
                batch_inputs = self._read_inputs(request.lines)
            except BulkscribeError as exc:
                self.notify(exc.user_text, severity="error", timeout=6, markup=False)
                return
            chosen = {"choice": request.choice} if request.choice else {}
            added = self.batch.add_sources(batch_inputs.sources, **chosen)  # type: ignore[attr-defined]
            self.notify(f"Added {len(added)} item{'s' if len(added) != 1 else ''}", timeout=2)
            for note in batch_inputs.notes[:3]:  # type: ignore[attr-defined]
                self.notify(note, timeout=6, markup=False)

        self.push_screen(AddInputsScreen(), done)

    def action_open_output(self, folder: bool = False) -> None:
        item = None if folder else self.main.selected_item
        target = (
            Path(next(iter(item.outputs.values())))
            if item and item.outputs
            else self.batch.output_dir
        )
        opener = "open" if sys.platform == "darwin" else "xdg-open"
        if shutil.which(opener) and _has_display():
            subprocess.Popen(
                [opener, str(target)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            self.notify(f"Opening {target}", timeout=3, markup=False)
        else:
            self.notify(str(target), title="Output", timeout=8, markup=False)

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
                self.action_open_output(folder=True)
            elif choice == "copy":
                self.action_copy_output_path()
            elif choice == "retry":
                self.action_retry_all()
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

    def action_copy_output_path(self) -> None:
        """Copy the output folder's path with OSC 52 (the terminal puts it on the clipboard)."""
        path = str(self.batch.output_dir)
        self.copy_to_clipboard(path)
        self.notify(f"Copied {path} (if your terminal allows OSC 52 clipboard access)", timeout=4)

    # -- panes --------------------------------------------------------------------------------------

    def action_focus_detail(self) -> None:
        self.main.show_tab("detail")
        self.main.query_one("#detail").focus()

    def action_filter(self) -> None:
        self.main.open_filter()

    def action_view(self, name: str) -> None:
        # The table's header names the view; a toast would cover the rows it is about.
        self.main.query_one(StatusTable).view_name = name

    def action_show_tab(self, name: str) -> None:
        self.main.show_tab(name)

    def action_toggle_log(self) -> None:
        from textual.widgets import TabbedContent

        tabs = self.main.query_one(TabbedContent)
        self.main.show_tab("detail" if tabs.active == "tab-log" else "log")

    def action_toggle_side(self) -> None:
        self.main.toggle_side()

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


_RETRYABLE = (State.FAILED, State.CANCELLED, State.SKIPPED)


def _retrying(n: int) -> str:
    return f"Retrying {n} item{'s' if n != 1 else ''}" if n else "Nothing to retry"


def transcript_arrived(item: Item) -> bool:
    """The service has sent the whole transcript and the item is writing it out."""
    if item.state is not State.RUNNING:
        return False
    whole = item.chunks_total > 0 and item.chunks_done >= item.chunks_total
    return item.stage == "write" or whole


def _has_display() -> bool:
    import os

    return sys.platform == "darwin" or bool(
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )
