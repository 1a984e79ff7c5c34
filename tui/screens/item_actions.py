"""The main screen's keys for items: retry, cancel, add inputs, open or copy where the outputs are."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from rich.text import Text

from engine.errors import BulkscribeError
from engine.items import Item, State
from tui.format import row_label
from tui.screens.add_inputs import AddInputsScreen, AddRequest
from tui.screens.batch_screen import BatchScreen
from tui.screens.confirm import ConfirmScreen

_RETRYABLE = (State.FAILED, State.CANCELLED, State.SKIPPED)


class ItemActions(BatchScreen):
    """Act on the marked rows, or the selected one, or every failed item."""

    def action_retry(self) -> None:
        """Retry the marked items, or the selected one; R (retry_all) is for every failed item."""
        targets = [i for i in self.targets() if i.state in _RETRYABLE]
        if not targets:
            self.app.notify(
                "Select or mark a failed or cancelled item (R retries every failed item)",
                timeout=3,
            )
            return
        n = self.engine.retry([item.id for item in targets])
        self.clear_marks()
        self.app.notify(_retrying(n), timeout=2)

    def action_retry_all(self) -> None:
        self.app.notify(_retrying(self.engine.retry()), timeout=2)

    def action_cancel_item(self) -> None:
        """Cancel the marked items, or the selected one, after saying what will be lost."""
        targets = [i for i in self.targets() if not i.state.terminal]
        if not targets:
            self.app.notify("Select or mark a queued or running item to cancel", timeout=2)
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
            self.clear_marks()
            self.app.notify(
                f"Cancelled {cancelled} item{'s' if cancelled != 1 else ''}"
                if len(ids) > 1
                else f"Cancelled #{ids[0] + 1}",
                timeout=2,
            )

        self.app.push_screen(
            ConfirmScreen(
                title, body, yes="Cancel item" + ("s" if len(ids) > 1 else ""), no="Keep"
            ),
            done,
        )

    def action_add_inputs(self) -> None:
        read_inputs = self.bulkscribe.read_inputs

        def done(request: AddRequest | None) -> None:
            if not request or read_inputs is None:
                return
            try:
                batch_inputs = read_inputs(request.lines)
            except BulkscribeError as exc:
                self.app.notify(exc.user_text, severity="error", timeout=6, markup=False)
                return
            chosen = {"choice": request.choice} if request.choice else {}
            added = self.bulkscribe.batch.add_sources(batch_inputs.sources, **chosen)
            self.app.notify(f"Added {len(added)} item{'s' if len(added) != 1 else ''}", timeout=2)
            for note in batch_inputs.notes[:3]:
                self.app.notify(note, timeout=6, markup=False)

        self.app.push_screen(AddInputsScreen(), done)

    def action_open_output(self, folder: bool = False) -> None:
        item = None if folder else self.selected_item
        target = (
            Path(next(iter(item.outputs.values())))
            if item and item.outputs
            else self.bulkscribe.batch.output_dir
        )
        opener = "open" if sys.platform == "darwin" else "xdg-open"
        if shutil.which(opener) and _has_display():
            subprocess.Popen(
                [opener, str(target)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            self.app.notify(f"Opening {target}", timeout=3, markup=False)
        else:
            self.app.notify(str(target), title="Output", timeout=8, markup=False)

    def action_copy_output_path(self) -> None:
        """Copy the output folder's path with OSC 52 (the terminal puts it on the clipboard)."""
        path = str(self.bulkscribe.batch.output_dir)
        self.app.copy_to_clipboard(path)
        self.app.notify(
            f"Copied {path} (if your terminal allows OSC 52 clipboard access)", timeout=4
        )


def _retrying(n: int) -> str:
    return f"Retrying {n} item{'s' if n != 1 else ''}" if n else "Nothing to retry"


def transcript_arrived(item: Item) -> bool:
    """The service has sent the whole transcript and the item is writing it out."""
    if item.state is not State.RUNNING:
        return False
    whole = item.chunks_total > 0 and item.chunks_done >= item.chunks_total
    return item.stage == "write" or whole


def _has_display() -> bool:
    return sys.platform == "darwin" or bool(
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )
