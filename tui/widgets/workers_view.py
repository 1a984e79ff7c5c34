"""What each worker is doing right now, so a change of parallelism shows at once."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.text import Text
from textual.widgets import Static

from engine.board import WorkerView
from engine.items import Item


class WorkersView(Static):
    """A line per worker: idle, busy with an item and stage, or waiting for a permit."""

    DEFAULT_CSS = """
    WorkersView { padding: 0 1; height: auto; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    _shown: tuple[tuple[object, ...], ...] | None = None

    def show(self, workers: Sequence[WorkerView], lookup: Callable[[int], Item | None]) -> None:
        # Repaint only when what a line says changes (the ``since`` stamp alone does not).
        key = tuple((v.id, v.item_id, v.stage, v.waiting, v.retiring) for v in workers)
        if key == self._shown:
            return
        self._shown = key
        # One line per worker (cut with an ellipsis by the CSS) so the list lines up in a narrow pane.
        text = Text()
        if not workers:
            text.append("No workers running.", style="dim")
        for view in workers:
            text.append(f"w{view.id + 1:<3}", style="bold")
            if view.item_id is None:
                text.append("idle" + (" (retiring)" if view.retiring else ""), style="dim")
            else:
                item = lookup(view.item_id)
                label = item.label if item is not None else f"#{view.item_id + 1}"
                glyph = "⏳ waiting for permit · " if view.waiting else "▶ "
                text.append(glyph, style="yellow" if view.waiting else "green")
                text.append(f"#{view.item_id + 1} {label}")
                if view.stage:
                    text.append(f" · {view.stage}", style="dim")
            text.append("\n")
        self.update(text)
