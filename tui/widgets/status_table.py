"""The processing status table, built on the Line API so 10,000 rows cost no more than the visible ones.

Rows live in a plain list; the view is a filtered, sorted list of item ids. Only the lines on screen
are rendered, changed items are applied by id, and the cursor follows its item when rows move.
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Callable, Iterable

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from engine.items import Item, State
from tui.widgets.columns import COLUMNS, Column, column_named, fit_columns

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
    StatusTable { height: 1fr; overflow-x: hidden; }
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
        self._layout_width = -1
        self._haystacks: dict[int, tuple[int, str]] = {}
        self._needle = ""
        self._paint_styles: dict[str, Style] = {}
        self._paint_base = Style()

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
        """Take changed items: repaint changed rows, patch or rebuild the view when rows move."""
        rows: list[int] = []
        joined: list[int] = []
        left: list[int] = []
        in_order = self.sort_key == "id" and not self.sort_reverse
        for item in items:
            if item.id >= len(self._items):
                self._items.extend([None] * (item.id + 1 - len(self._items)))
            old = self._items[item.id]
            self._items[item.id] = item
            if in_order:
                shown, wanted = item.id in self._position, self._matches(item)
                if wanted and not shown:
                    joined.append(item.id)
                elif shown and not wanted:
                    left.append(item.id)
                elif shown:
                    rows.append(self._position[item.id])
            elif old is None or self._membership_or_order_changed(old, item):
                self._stale_view = True
            elif item.id in self._position:
                rows.append(self._position[item.id])
        if self._stale_view:
            self.settle()
            return
        if joined or left:
            self._splice(joined, left)
            return
        # Rows stayed put: repaint only the changed ones that are on screen.
        top = int(self.scroll_y)
        bottom = top + self.scrollable_content_region.height
        for row in rows:
            if top <= row < bottom:
                self.refresh_line(row + 1)

    def _membership_or_order_changed(self, old: Item, new: Item) -> bool:
        if (self.view_name != "all" or self.filter_text) and self._matches(old) != self._matches(
            new
        ):
            return True
        if self.sort_key == "id":
            return False
        column = column_named(self.sort_key)
        return column.sort(old) != column.sort(new)

    def settle(self) -> None:
        if self._stale_view:
            self._rebuild_view()

    def _matches(self, item: Item) -> bool:
        if not VIEWS[self.view_name](item):
            return False
        if self.filter_text:
            return self._needle in self._haystack(item)
        return True

    def _haystack(self, item: Item) -> str:
        # Kept per item version: typing a filter over 10,000 rows must not rebuild every string.
        cached = self._haystacks.get(item.id)
        if cached is not None and cached[0] == item.version:
            return cached[1]
        text = (
            f"{item.label} {item.source} {item.state.value} {item.error or ''} {item.kind}".lower()
        )
        self._haystacks[item.id] = (item.version, text)
        return text

    def _rebuild_view(self) -> None:
        self._stale_view = False
        present = [item for item in self._items if item is not None and self._matches(item)]
        if self.sort_key != "id" or self.sort_reverse:
            column = column_named(self.sort_key)
            present.sort(key=column.sort, reverse=self.sort_reverse)  # type: ignore[arg-type]
        self._view = [item.id for item in present]
        self._position = {item_id: row for row, item_id in enumerate(self._view)}
        self.virtual_size = Size(self.size.width, len(self._view) + 1)
        if self._cursor_id not in self._position:
            self._cursor_id = self._view[0] if self._view else None
            self.post_message(self.Selected(self._cursor_id))
        self.refresh()

    def _splice(self, joined: list[int], left: list[int]) -> None:
        """Rows joined or left a view in input order: patch it rather than rebuild 10,000 rows."""
        old_row = self._position.get(self._cursor_id, 0) if self._cursor_id is not None else 0
        view = self._view
        if left:
            gone = set(left)
            view = [item_id for item_id in view if item_id not in gone]
        for item_id in sorted(joined):
            if not view or item_id > view[-1]:
                view.append(item_id)
            else:
                insort(view, item_id)
        self._view = view
        self._position = {item_id: row for row, item_id in enumerate(view)}
        self.virtual_size = Size(self.size.width, len(view) + 1)
        if self._cursor_id not in self._position:
            # The cursor's item left the view: stay on the same row rather than jump to the top.
            self._cursor_id = view[min(old_row, len(view) - 1)] if view else None
            self.post_message(self.Selected(self._cursor_id))
        self.refresh()

    def watch_sort_key(self) -> None:
        self._rebuild_view()

    def watch_sort_reverse(self) -> None:
        self._rebuild_view()

    def watch_view_name(self) -> None:
        self._rebuild_view()

    def watch_filter_text(self, text: str) -> None:
        self._needle = text.lower()
        self._rebuild_view()

    # -- cursor ----------------------------------------------------------------------------------

    def move_to(self, item_id: int) -> None:
        if item_id in self._position:
            previous = self._position.get(self._cursor_id) if self._cursor_id is not None else None
            self._cursor_id = item_id
            if self._scroll_to_cursor() or previous is None:
                self.refresh()
            else:
                # Only the two rows whose highlight changed are repainted.
                self.refresh_line(previous + 1)
                self.refresh_line(self._position[item_id] + 1)
            self.post_message(self.Selected(item_id, by_user=True))

    def action_cursor(self, delta: int) -> None:
        if not self._view:
            return
        row = self._position.get(self._cursor_id, 0) if self._cursor_id is not None else 0
        row = max(0, min(len(self._view) - 1, row + delta))
        self.move_to(self._view[row])

    def action_page(self, direction: int) -> None:
        self.action_cursor(direction * max(1, self.scrollable_content_region.height - 2))

    def action_edge(self, end: int) -> None:
        if self._view:
            self.move_to(self._view[-1] if end else self._view[0])

    def action_cycle_sort(self) -> None:
        keys = [c.key for c in COLUMNS]
        self.sort_key = keys[(keys.index(self.sort_key) + 1) % len(keys)]

    def action_reverse_sort(self) -> None:
        self.sort_reverse = not self.sort_reverse

    def _scroll_to_cursor(self) -> bool:
        """Scroll so the cursor's row is on screen; True when it had to scroll."""
        if self._cursor_id is None:
            return False
        row = self._position[self._cursor_id]
        visible = max(1, self.scrollable_content_region.height - 1)
        top = int(self.scroll_y)
        if row < top:
            self.scroll_to(y=row, animate=False)
        elif row >= top + visible:
            self.scroll_to(y=row - visible + 1, animate=False)
        else:
            return False
        return True

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

    def on_mount(self) -> None:
        # Running rows show a ticking elapsed time even when their item has not changed.
        self.set_interval(1.0, self.refresh, name="elapsed-tick")

    def on_resize(self) -> None:
        self.virtual_size = Size(self.size.width, len(self._view) + 1)

    def render_lines(self, crop: Region) -> list[Strip]:
        self._prepare_paint()
        return super().render_lines(crop)

    def _prepare_paint(self) -> None:
        # Styles are looked up once, not once per line: they change only with focus or theme.
        if not self._paint_styles:
            self._paint_styles = {
                name: self.get_component_rich_style(name) for name in self.COMPONENT_CLASSES
            }
            self._paint_base = self.rich_style
        self._fit()

    def notify_style_update(self) -> None:
        self._paint_styles = {}
        super().notify_style_update()

    def on_focus(self) -> None:
        self._paint_styles = {}
        self.refresh()

    def on_blur(self) -> None:
        self._paint_styles = {}
        self.refresh()

    def _fit(self) -> int:
        """The width rows are drawn at; the vertical scrollbar comes and goes with the row count."""
        width = self.scrollable_content_region.width
        if width != self._layout_width:
            self._layout_width = width
            self._layout = fit_columns(width)
        return width

    def render_line(self, y: int) -> Strip:
        if not self._paint_styles:
            self._prepare_paint()
        width = self._layout_width
        styles, base = self._paint_styles, self._paint_base
        if y == 0:
            style = styles["status-table--header"]
            text = self._join((self._header_title(c), c) for c, _ in self._layout)
            return Strip([Segment(set_cell_size(text, width), style)], width)
        row = int(self.scroll_y) + y - 1
        if row >= len(self._view):
            if row == 0:
                return self._empty_line(width)
            return Strip.blank(width, base)
        item = self._items[self._view[row]]
        assert item is not None
        style = base + styles[_STATE_CLASS[item.state]]
        if item.id == self._cursor_id:
            style = style + styles["status-table--cursor"]
        text = self._join((column.text(item), column) for column, _ in self._layout)
        return Strip([Segment(set_cell_size(text, width), style)], width)

    def _header_title(self, column: Column) -> str:
        title = column.title
        if column.key == self.sort_key and column.key != "id":
            title += " ▼" if self.sort_reverse else " ▲"
        if column.key == "title":
            if self.view_name != "all":
                title += f" · view: {self.view_name}"
            if self.filter_text:
                title += f' · filter: "{self.filter_text}"'
        return title

    def _empty_line(self, width: int) -> Strip:
        if self._items and any(item is not None for item in self._items):
            text = "  No rows match this view or filter (1 shows all; Escape clears the filter)."
        else:
            text = "  No items yet: press a to add links, files or lists."
        style = self._paint_base + self._paint_styles["status-table--muted"]
        return Strip([Segment(set_cell_size(text, width), style)], width)

    def _join(self, cells: Iterable[tuple[str, Column]]) -> str:
        widths = {c.key: w for c, w in self._layout}
        parts = []
        for text, column in cells:
            w = widths[column.key]
            text = text.replace("\n", " ")
            # Measure in terminal cells, not characters: ⏳ and CJK titles take two cells.
            cells_used = cell_len(text)
            if cells_used > w:
                text = set_cell_size(text, max(0, w - 1)) + "…"
            elif column.right:
                text = " " * (w - cells_used) + text
            else:
                text = text + " " * (w - cells_used)
            parts.append(text)
        return " ".join(parts)
