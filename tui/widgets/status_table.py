"""The processing status table, built on the Line API so 10,000 rows cost no more than the visible ones.

A RowIndex keeps the items and the view's rows in display order, item by item. Only the lines on
screen are rendered, changed items are applied by id, and the cursor follows its item when rows move.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

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
from tui.format import short_error
from tui.retries import RetryNotes
from tui.widgets.columns import COLUMNS, Column, fit_columns
from tui.widgets.row_index import RowIndex

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
        "status-table--marked",
        "status-table--cursor-idle",
    }

    DEFAULT_CSS = """
    StatusTable { height: 1fr; overflow-x: hidden; }
    StatusTable > .status-table--header { text-style: bold; background: $panel; }
    StatusTable > .status-table--cursor { background: $accent 60%; }
    StatusTable > .status-table--cursor-idle { background: $foreground 10%; }
    StatusTable > .status-table--done { color: $success; }
    StatusTable > .status-table--failed { color: $error; }
    StatusTable > .status-table--muted { color: $text-muted; }
    StatusTable > .status-table--running { color: $text; text-style: bold; }
    StatusTable > .status-table--waiting { color: $warning; }
    StatusTable > .status-table--queued { color: $text-muted; }
    StatusTable > .status-table--marked { text-style: bold; background: $secondary 30%; }
    """

    BINDINGS = [
        Binding("up", "cursor(-1)", "Up", show=False, id="table.up"),
        Binding("down", "cursor(1)", "Down", show=False, id="table.down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="table.page_up"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="table.page_down"),
        Binding("home", "edge(0)", "First", show=False, id="table.first"),
        Binding("end", "edge(1)", "Last", show=False, id="table.last"),
        Binding("s", "cycle_sort", "Sort", show=False, tooltip="Sort by the next column",
                id="table.sort"),
        Binding("S", "reverse_sort", "Reverse sort", show=False, id="table.reverse_sort"),
        Binding("v", "toggle_mark", "Mark", show=False, id="table.mark",
                tooltip="Mark or unmark this row (r and x then act on the marked rows)"),
        Binding("V", "clear_marks", "Clear marks", show=False, id="table.clear_marks"),
    ]  # fmt: skip

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
        self._rows = RowIndex()
        self._cursor_id: int | None = None
        self._layout: list[tuple[Column, int]] = []
        self._layout_width = -1
        self._paint_styles: dict[str, Style] = {}
        self._paint_base = Style()
        self.marked: set[int] = set()
        # Until the user moves the cursor (and whenever the table is not focused) it is drawn
        # quietly: a bright bar on a row nobody chose is the loudest thing on screen otherwise.
        self.cursor_chosen = False
        self._shows_error = False
        self.retries: RetryNotes | None = None  # items sleeping between two tries of a request

    # -- data in ------------------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        return len(self._rows)

    @property
    def cursor_item_id(self) -> int | None:
        return self._cursor_id

    @property
    def visible_ids(self) -> list[int]:
        return self._rows.ids()

    def item(self, item_id: int) -> Item | None:
        return self._rows.item(item_id)

    def apply(self, items: Sequence[Item]) -> None:
        """Take changed items: repaint changed rows on screen, or the whole view when rows moved."""
        old_row = self._cursor_row()
        moved, stayed = self._rows.apply(items)
        if moved:
            # In input order the cursor keeps its row when its item leaves; a sorted view starts over.
            in_order = self.sort_key == "id" and not self.sort_reverse
            self._rows_changed(old_row if in_order else 0)
            return
        # Rows stayed put: repaint only the changed ones that are on screen.
        changed = set(stayed)
        top = int(self.scroll_y)
        for row in range(top, min(len(self._rows), top + self.scrollable_content_region.height)):
            if self._rows.id_at(row) in changed:
                self.refresh_line(row + 1)

    def _cursor_row(self) -> int:
        row = self._rows.row_of(self._cursor_id) if self._cursor_id is not None else None
        return row if row is not None else 0

    def _rows_changed(self, cursor_row: int) -> None:
        """Rows joined, left or moved: size the scroll area, keep the cursor on a row, repaint."""
        self._size_rows()
        if self._cursor_id is None or not self._rows.shows(self._cursor_id):
            rows = len(self._rows)
            self._cursor_id = self._rows.id_at(min(cursor_row, rows - 1)) if rows else None
            self.post_message(self.Selected(self._cursor_id))
        self.refresh()

    def _size_rows(self) -> None:
        size = Size(self.size.width, len(self._rows) + 1)
        if size == self.virtual_size:
            return
        if not self.size or (size.height > self.container_size.height) != (
            self.show_vertical_scrollbar
        ):
            self.virtual_size = size  # the scrollbar comes or goes: the screen is laid out again
            return
        # Same scrollbar, new length (rows join and leave a view every tick): only the scrollbar's
        # thumb changes, and a layout of the whole screen would hold up keys for tens of ms.
        self.set_reactive(StatusTable.virtual_size, size)
        if self.show_vertical_scrollbar:
            self.vertical_scrollbar.window_virtual_size = size.height
            self.vertical_scrollbar.refresh()
        if self.scroll_y > self.max_scroll_y:
            self.scroll_to(y=self.max_scroll_y, animate=False)

    def _arrange(self) -> None:
        self._rows.arrange(
            self.view_name, self.filter_text.lower(), self.sort_key, self.sort_reverse
        )
        self._rows_changed(0)

    def watch_sort_key(self) -> None:
        self._arrange()

    def watch_sort_reverse(self) -> None:
        self._arrange()

    def watch_view_name(self) -> None:
        self._arrange()

    def watch_filter_text(self) -> None:
        self._arrange()

    # -- cursor ----------------------------------------------------------------------------------

    def move_to(self, item_id: int) -> None:
        if self._rows.shows(item_id):
            if not self.cursor_chosen:
                self.cursor_chosen = True
                self._paint_styles = {}
            previous = self._rows.row_of(self._cursor_id) if self._cursor_id is not None else None
            self._cursor_id = item_id
            if self._scroll_to_cursor() or previous is None:
                self.refresh()
            else:
                # Only the two rows whose highlight changed are repainted.
                self.refresh_line(previous + 1)
                self.refresh_line(self._cursor_row() + 1)
            self.post_message(self.Selected(item_id, by_user=True))

    def action_cursor(self, delta: int) -> None:
        rows = len(self._rows)
        if not rows:
            return
        row = max(0, min(rows - 1, self._cursor_row() + delta))
        self.move_to(self._rows.id_at(row))

    def action_page(self, direction: int) -> None:
        self.action_cursor(direction * max(1, self.scrollable_content_region.height - 2))

    def action_edge(self, end: int) -> None:
        if len(self._rows):
            self.move_to(self._rows.id_at(len(self._rows) - 1 if end else 0))

    def action_toggle_mark(self) -> None:
        """Mark or unmark the cursor's row and step down, so a run of rows is marked key by key."""
        if self._cursor_id is None:
            return
        self.marked.symmetric_difference_update({self._cursor_id})
        self.refresh_line(self._cursor_row() + 1)
        self.post_message(self.MarksChanged(len(self.marked)))
        self.action_cursor(1)

    def action_clear_marks(self) -> None:
        if self.marked:
            self.marked.clear()
            self.refresh()
            self.post_message(self.MarksChanged(0))

    class MarksChanged(Message):
        """Rows were marked or unmarked."""

        def __init__(self, count: int) -> None:
            super().__init__()
            self.count = count

    def action_cycle_sort(self) -> None:
        """Sort by the next column on screen (a hidden column would change nothing visible)."""
        self._fit()
        keys = [c.key for c, _ in self._layout] or [c.key for c in COLUMNS]
        at = keys.index(self.sort_key) if self.sort_key in keys else -1
        self.sort_key = keys[(at + 1) % len(keys)]

    def action_reverse_sort(self) -> None:
        self.sort_reverse = not self.sort_reverse

    def scroll_to_cursor(self) -> None:
        """After the table changed size: bring the cursor's row back on screen."""
        self._scroll_to_cursor()

    def _scroll_to_cursor(self) -> bool:
        """Scroll so the cursor's row is on screen; True when it had to scroll."""
        if self._cursor_id is None:
            return False
        row = self._cursor_row()
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
        if 0 <= row < len(self._rows):
            self.move_to(self._rows.id_at(row))

    def _column_at(self, x: int) -> Column | None:
        position = 0
        for column, width in self._layout:
            if position <= x < position + width + 1:
                return column
            position += width + 1
        return None

    # -- rendering -------------------------------------------------------------------------------

    def on_mount(self) -> None:
        self.set_interval(1.0, self._tick_elapsed, name="elapsed-tick")

    def _tick_elapsed(self) -> None:
        """Running rows show a ticking elapsed time even when their item has not changed."""
        if not any(column.key in ("elapsed", "stage") for column, _ in self._layout):
            return
        top = int(self.scroll_y)
        for row in range(top, min(len(self._rows), top + self.scrollable_content_region.height)):
            item = self._rows.item(self._rows.id_at(row))
            if item is not None and item.started_at and item.finished_at is None:
                self.refresh_line(row + 1)

    def on_resize(self) -> None:
        self.virtual_size = Size(self.size.width, len(self._rows) + 1)

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
            self._shows_error = any(column.key == "error" for column, _ in self._layout)
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
        if row >= len(self._rows):
            if row == 0:
                return self._empty_line(width)
            return Strip.blank(width, base)
        item = self._rows.items[self._rows.id_at(row)]
        assert item is not None
        style = base + styles[_STATE_CLASS[item.state]]
        if item.id == self._cursor_id:
            loud = self.cursor_chosen and self.has_focus
            style = style + styles["status-table--cursor" if loud else "status-table--cursor-idle"]
        sleeping = self.retries.label(item, short=True) if self.retries is not None else None
        if sleeping:
            style = base + styles["status-table--waiting"]
        stage = sleeping
        if stage is None and item.error and not self._shows_error:
            stage = short_error(item)  # no Error column at this width: the error takes Stage's cell
        text = self._join(
            (stage if stage and column.key == "stage" else column.text(item), column)
            for column, _ in self._layout
        )
        if item.id in self.marked:
            # A mark in the row's first cell (the # column is right-aligned, so it is blank there).
            text = "●" + text[1:]
            style = style + styles["status-table--marked"]
        return Strip([Segment(set_cell_size(text, width), style)], width)

    def _header_title(self, column: Column) -> str:
        title = column.title
        # Input order (# ascending) is the default and needs no arrow; reversed, it shows one.
        if column.key == self.sort_key and (column.key != "id" or self.sort_reverse):
            title += " ▼" if self.sort_reverse else " ▲"
        if column.key == "title":
            if self.view_name != "all":
                title += f" · view: {self.view_name}"
            if self.filter_text:
                title += f' · filter: "{self.filter_text}"'
        return title

    def _empty_line(self, width: int) -> Strip:
        if any(item is not None for item in self._rows.items):
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
