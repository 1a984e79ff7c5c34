"""What each worker is doing right now, so a change of parallelism shows at once.

In a distributed batch: every host and its worker processes instead, steered from here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.text import Text
from textual.binding import Binding
from textual.widgets import Static

from engine.board import WorkerView
from engine.items import Item
from tui.widgets.hosts_view import HostRow, HostSource, render_hosts


class WorkersView(Static):
    """A line per worker: idle, busy with an item and stage, or waiting for a permit."""

    DEFAULT_CSS = """
    WorkersView { padding: 0 1; height: auto; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    BINDINGS = [
        Binding(
            "up",
            "select(-1)",
            "Previous host",
            show=False,
            id="hosts.previous",
            tooltip="Select the host above",
        ),
        Binding(
            "down",
            "select(1)",
            "Next host",
            show=False,
            id="hosts.next",
            tooltip="Select the host below",
        ),
        Binding(
            "plus,equals_sign",
            "host_workers(1)",
            "+ at once on host",
            show=False,
            id="hosts.more",
            tooltip="One more item at once on the selected host",
        ),
        Binding(
            "minus",
            "host_workers(-1)",
            "- at once on host",
            show=False,
            id="hosts.fewer",
            tooltip="One item fewer at once on the selected host",
        ),
        Binding(
            "d",
            "host_drain",
            "Drain/resume host",
            show=False,
            id="hosts.drain",
            tooltip="The selected host finishes what it holds and takes nothing new, or resumes",
        ),
    ]

    _shown: object = None
    hosts: HostSource | None = None  # set in a distributed batch: the pane shows hosts
    selected = 0
    _rows: Sequence[HostRow] = ()

    def on_mount(self) -> None:
        source = getattr(self.app, "engine", None)
        if isinstance(source, HostSource):
            self.hosts = source
            self.can_focus = True

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Outside a distributed batch these keys are the app's (one more worker, and so on).
        return self.hosts is not None or action not in ("select", "host_workers", "host_drain")

    def show(self, workers: Sequence[WorkerView], lookup: Callable[[int], Item | None]) -> None:
        if self.hosts is not None:
            self._show_hosts()
            return
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

    # -- a distributed batch ------------------------------------------------------------------

    def _show_hosts(self) -> None:
        assert self.hosts is not None
        self._rows = list(self.hosts.host_rows())
        self.selected = min(self.selected, max(0, len(self._rows) - 1))
        key = (tuple(self._rows), self.selected, self.has_focus)
        if key == self._shown:
            return
        self._shown = key
        self.update(render_hosts(self._rows, self.selected if self.has_focus else None))

    def _host(self) -> HostRow | None:
        return self._rows[self.selected] if 0 <= self.selected < len(self._rows) else None

    def action_select(self, step: int) -> None:
        if self._rows:
            self.selected = (self.selected + step) % len(self._rows)
            self._show_hosts()

    def action_host_workers(self, step: int) -> None:
        row = self._host()
        if self.hosts is None or row is None or row.lost:
            self.app.bell()
            return
        per_process = max((p.threads for p in row.processes if not p.lost), default=0)
        count = max(1, per_process + step)
        self.hosts.set_host_workers(row.host, count)
        self.notify(f"{row.host}: {count} at once per process", timeout=2, markup=False)

    def action_host_drain(self) -> None:
        row = self._host()
        if self.hosts is None or row is None:
            return
        self.hosts.toggle_host_drain(row.host)
        word = "resumes" if row.draining else "drains: finishes what it holds, takes nothing new"
        self.notify(f"{row.host} {word}", timeout=3, markup=False)

    def on_focus(self) -> None:
        if self.hosts is not None:
            self._show_hosts()

    def on_blur(self) -> None:
        if self.hosts is not None:
            self._show_hosts()
