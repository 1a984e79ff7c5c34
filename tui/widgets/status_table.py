"""The processing status table: 10,000 rows cost no more than the visible ones (table_canvas.py).

A RowIndex keeps the items and the view's rows in display order, item by item. Only the lines on
screen are rendered, changed items are applied by id, and the cursor follows its item when rows move.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual import events
from textual.binding import Binding
from textual.message import Message

from engine.items import Item
from tui.widgets.columns import COLUMNS, Column
from tui.widgets.table_canvas import TableCanvas


class StatusTable(TableCanvas, can_focus=True):
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
        Binding("up", "cursor(-1)", "Up", show=False, id="table.up", tooltip="Up one row"),
        Binding("down", "cursor(1)", "Down", show=False, id="table.down", tooltip="Down one row"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="table.page_up", tooltip="Up one page"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="table.page_down", tooltip="Down one page"),
        Binding("home", "edge(0)", "First", show=False, id="table.first", tooltip="The first row"),
        Binding("end", "edge(1)", "Last", show=False, id="table.last", tooltip="The last row"),
        Binding("s", "cycle_sort", "Sort", show=False, tooltip="Sort by the next column",
                id="table.sort"),
        Binding("S", "reverse_sort", "Reverse sort", show=False, id="table.reverse_sort", tooltip="Reverse the sort"),
        Binding("v", "toggle_mark", "Mark", show=False, id="table.mark",
                tooltip="Mark or unmark this row (r and x then act on the marked rows)"),
        Binding("V", "clear_marks", "Clear marks", show=False, id="table.clear_marks", tooltip="Clear every mark"),
    ]  # fmt: skip

    class Selected(Message):
        """The cursor moved to another item."""

        def __init__(self, item_id: int | None, by_user: bool = False) -> None:
            super().__init__()
            self.item_id = item_id
            self.by_user = by_user

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

    def _rows_changed(self, cursor_row: int) -> None:
        """Rows joined, left or moved: size the scroll area, keep the cursor on a row, repaint."""
        self._size_rows()
        if self._cursor_id is None or not self._rows.shows(self._cursor_id):
            rows = len(self._rows)
            self._cursor_id = self._rows.id_at(min(cursor_row, rows - 1)) if rows else None
            self.post_message(self.Selected(self._cursor_id))
        self.refresh()

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
