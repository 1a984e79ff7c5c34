"""The processing status table, built on the Line API so 10,000 rows cost no more than the visible ones.

Rows live in a plain list; the view is a filtered, sorted list of item ids. Only the lines on screen
are rendered, changed items are applied by id, and the cursor follows its item when rows move.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from engine.items import Item, State
from tui.format import hms, percent, short_error, stage_text, state_text


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    width: int
    text: Callable[[Item], str]
    sort: Callable[[Item], object]
    priority: int  # lower stays longer when the screen is narrow
    flex: bool = False
    right: bool = False


def _none_last(value: object) -> tuple[bool, object]:
    return (value is None, value if value is not None else 0)


COLUMNS: tuple[Column, ...] = (
    Column("id", "#", 5, lambda i: str(i.id + 1), lambda i: i.id, 0, right=True),
    Column("state", "Status", 11, state_text, lambda i: i.state.value, 0),
    Column("title", "Title", 20, lambda i: i.label, lambda i: i.label.lower(), 0, flex=True),
    Column("kind", "Kind", 7, lambda i: i.kind, lambda i: i.kind, 5),
    Column(
        "duration",
        "Length",
        8,
        lambda i: hms(i.duration),
        lambda i: _none_last(i.duration),
        3,
        right=True,
    ),
    Column("stage", "Stage", 11, stage_text, lambda i: stage_text(i), 1),
    Column("progress", "%", 4, percent, lambda i: _none_last(i.progress), 2, right=True),
    Column(
        "attempts", "Try", 3, lambda i: str(i.attempts or ""), lambda i: i.attempts, 6, right=True
    ),
    Column(
        "elapsed",
        "Time",
        7,
        lambda i: hms(i.elapsed) if i.started_at else "",
        lambda i: _none_last(i.elapsed),
        4,
        right=True,
    ),
    Column("engine", "Engine", 10, lambda i: i.engine or "", lambda i: i.engine or "", 7),
    Column("error", "Error", 16, short_error, lambda i: i.error or "", 1, flex=True),
)

VIEWS: dict[str, Callable[[Item], bool]] = {
    "all": lambda item: True,
    "active": lambda item: item.state in (State.RUNNING, State.WAITING),
    "queued": lambda item: item.state is State.QUEUED,
    "failed": lambda item: item.state in (State.FAILED, State.CANCELLED),
    "done": lambda item: item.state is State.DONE,
}

_STATE_CLASS = {
    State.DONE: "status-table--done",
    State.FAILED: "status-table--failed",
    State.CANCELLED: "status-table--muted",
    State.SKIPPED: "status-table--muted",
    State.RUNNING: "status-table--running",
    State.WAITING: "status-table--waiting",
    State.QUEUED: "status-table--queued",
}


class StatusTable(ScrollView, can_focus=True):
    """One row per item; sortable, filterable; the cursor stays on its item."""

    COMPONENT_CLASSES = {
        "status-table--header",
        "status-table--cursor",
        "status-table--done",
        "status-table--failed",
        "status-table--muted",
        "status-table--running",
        "status-table--waiting",
        "status-table--queued",
    }

    DEFAULT_CSS = """
    StatusTable { height: 1fr; }
    StatusTable > .status-table--header { text-style: bold; background: $panel; }
    StatusTable > .status-table--cursor { background: $accent 40%; }
    StatusTable:focus > .status-table--cursor { background: $accent 70%; }
    StatusTable > .status-table--done { color: $success; }
    StatusTable > .status-table--failed { color: $error; }
    StatusTable > .status-table--muted { color: $text-muted; }
    StatusTable > .status-table--running { color: $text; text-style: bold; }
    StatusTable > .status-table--waiting { color: $warning; }
    StatusTable > .status-table--queued { color: $text-muted; }
    """

    BINDINGS = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "edge(0)", "First", show=False),
        Binding("end", "edge(1)", "Last", show=False),
        Binding("s", "cycle_sort", "Sort", show=False, tooltip="Sort by the next column"),
        Binding("S", "reverse_sort", "Reverse sort", show=False),
    ]

    class Selected(Message):
        """The cursor moved to another item."""

        def __init__(self, item_id: int | None, by_user: bool = False) -> None:
            super().__init__()
            self.item_id = item_id
            self.by_user = by_user

    sort_key: reactive[str] = reactive("id")
    sort_reverse: reactive[bool] = reactive(False)
    view_name: reactive[str] = reactive("all")
    filter_text: reactive[str] = reactive("")

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._items: list[Item | None] = []
        self._view: list[int] = []
        self._position: dict[int, int] = {}
        self._cursor_id: int | None = None
        self._stale_view = False
        self._layout: list[tuple[Column, int]] = []

    # -- data in ------------------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        return len(self._view)

    @property
    def cursor_item_id(self) -> int | None:
        return self._cursor_id

    @property
    def visible_ids(self) -> list[int]:
        return list(self._view)

    def item(self, item_id: int) -> Item | None:
        return self._items[item_id] if 0 <= item_id < len(self._items) else None

    def apply(self, items: Iterable[Item]) -> None:
        """Take changed items; rows move only when the view needs rebuilding (see ``settle``)."""
        changed = False
        for item in items:
            if item.id >= len(self._items):
                self._items.extend([None] * (item.id + 1 - len(self._items)))
            old = self._items[item.id]
            self._items[item.id] = item
            changed = True
            if old is None or self._membership_or_order_changed(old, item):
                self._stale_view = True
        if changed:
            self.settle()
            self.refresh()

    def _membership_or_order_changed(self, old: Item, new: Item) -> bool:
        if (self.view_name != "all" or self.filter_text) and self._matches(old) != self._matches(
            new
        ):
            return True
        if self.sort_key == "id":
            return False
        column = _column(self.sort_key)
        return column.sort(old) != column.sort(new)

    def settle(self) -> None:
        if self._stale_view:
            self._rebuild_view()

    def _matches(self, item: Item) -> bool:
        if not VIEWS[self.view_name](item):
            return False
        if self.filter_text:
            needle = self.filter_text.lower()
            haystack = f"{item.label} {item.source} {item.state.value} {item.error or ''} {item.kind}".lower()
            return needle in haystack
        return True

    def _rebuild_view(self) -> None:
        self._stale_view = False
        present = [item for item in self._items if item is not None and self._matches(item)]
        if self.sort_key != "id" or self.sort_reverse:
            column = _column(self.sort_key)
            present.sort(key=column.sort, reverse=self.sort_reverse)  # type: ignore[arg-type]
        self._view = [item.id for item in present]
        self._position = {item_id: row for row, item_id in enumerate(self._view)}
        self.virtual_size = Size(self.size.width, len(self._view) + 1)
        if self._cursor_id not in self._position:
            self._cursor_id = self._view[0] if self._view else None
            self.post_message(self.Selected(self._cursor_id))
        self.refresh()

    def watch_sort_key(self) -> None:
        self._rebuild_view()

    def watch_sort_reverse(self) -> None:
        self._rebuild_view()

    def watch_view_name(self) -> None:
        self._rebuild_view()

    def watch_filter_text(self) -> None:
        self._rebuild_view()

    # -- cursor ----------------------------------------------------------------------------------

    def move_to(self, item_id: int) -> None:
        if item_id in self._position:
            self._cursor_id = item_id
            self._scroll_to_cursor()
            self.refresh()
            self.post_message(self.Selected(item_id, by_user=True))

    def action_cursor(self, delta: int) -> None:
        if not self._view:
            return
        row = self._position.get(self._cursor_id, 0) if self._cursor_id is not None else 0
        row = max(0, min(len(self._view) - 1, row + delta))
        self.move_to(self._view[row])

    def action_page(self, direction: int) -> None:
        self.action_cursor(direction * max(1, self.size.height - 2))

    def action_edge(self, end: int) -> None:
        if self._view:
            self.move_to(self._view[-1] if end else self._view[0])

    def action_cycle_sort(self) -> None:
        keys = [c.key for c in COLUMNS]
        self.sort_key = keys[(keys.index(self.sort_key) + 1) % len(keys)]

    def action_reverse_sort(self) -> None:
        self.sort_reverse = not self.sort_reverse

    def _scroll_to_cursor(self) -> None:
        if self._cursor_id is None:
            return
        row = self._position[self._cursor_id]
        visible = max(1, self.size.height - 1)
        top = int(self.scroll_y)
        if row < top:
            self.scroll_to(y=row, animate=False)
        elif row >= top + visible:
            self.scroll_to(y=row - visible + 1, animate=False)

    def on_click(self, event: events.Click) -> None:
        if event.y == 0:
            column = self._column_at(event.x)
            if column is not None:
                if self.sort_key == column.key:
                    self.sort_reverse = not self.sort_reverse
                else:
                    self.sort_key = column.key
            return
        row = int(self.scroll_y) + event.y - 1
        if 0 <= row < len(self._view):
            self.move_to(self._view[row])

    def _column_at(self, x: int) -> Column | None:
        position = 0
        for column, width in self._layout:
            if position <= x < position + width + 1:
                return column
            position += width + 1
        return None

    # -- rendering -------------------------------------------------------------------------------

    def on_resize(self) -> None:
        self._layout = _layout(self.size.width)
        self.virtual_size = Size(self.size.width, len(self._view) + 1)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if not self._layout:
            self._layout = _layout(width)
        if y == 0:
            style = self.get_component_rich_style("status-table--header")
            text = self._join(
                (
                    c.title + (" ▼" if self.sort_reverse else " ▲")
                    if c.key == self.sort_key and c.key != "id"
                    else c.title,
                    c,
                )
                for c, _ in self._layout
            )
            return Strip([Segment(text.ljust(width)[:width], style)])
        row = int(self.scroll_y) + y - 1
        if row >= len(self._view):
            return Strip.blank(width, self.rich_style)
        item = self._items[self._view[row]]
        assert item is not None
        style = self.get_component_rich_style(_STATE_CLASS[item.state])
        if item.id == self._cursor_id:
            style = style + self.get_component_rich_style("status-table--cursor")
        text = self._join((column.text(item), column) for column, _ in self._layout)
        return Strip([Segment(text.ljust(width)[:width], Style.combine([self.rich_style, style]))])

    def _join(self, cells: Iterable[tuple[str, Column]]) -> str:
        widths = dict((c.key, w) for c, w in self._layout)
        parts = []
        for text, column in cells:
            w = widths[column.key]
            text = text.replace("\n", " ")
            if len(text) > w:
                text = text[: max(0, w - 1)] + "…"
            parts.append(text.rjust(w) if column.right else text.ljust(w))
        return " ".join(parts)


def _column(key: str) -> Column:
    return next(c for c in COLUMNS if c.key == key)


def _layout(width: int) -> list[tuple[Column, int]]:
    """Fit the columns into ``width``: drop the least important first, share the rest with flex columns."""
    chosen = list(COLUMNS)
    while len(chosen) > 3 and sum(c.width + 1 for c in chosen) > width:
        drop = max(chosen, key=lambda c: (c.priority, c.key != "error"))
        if drop.priority == 0:
            break
        chosen.remove(drop)
    spare = width - sum(c.width + 1 for c in chosen)
    flex = [c for c in chosen if c.flex]
    result = []
    for column in chosen:
        extra = 0
        if column.flex and spare > 0:
            extra = (
                spare
                * (2 if column.key == "title" else 1)
                // (len(flex) + (1 if any(f.key == "title" for f in flex) else 0))
            )
        result.append((column, column.width + extra))
    return result
