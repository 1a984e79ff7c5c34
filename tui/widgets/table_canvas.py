"""The status table's drawing: rows painted on the Line API, only the lines on screen, in columns."""

from __future__ import annotations

from collections.abc import Iterable

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region, Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from engine.items import State
from tui.format import short_error
from tui.retries import RetryNotes
from tui.widgets.columns import Column, fit_columns
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


class TableCanvas(ScrollView):
    """Paints a RowIndex: a header line, then one line per row in the view, the cursor's lit."""

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

    def _cursor_row(self) -> int:
        row = self._rows.row_of(self._cursor_id) if self._cursor_id is not None else None
        return row if row is not None else 0

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
        self.set_reactive(ScrollView.virtual_size, size)
        if self.show_vertical_scrollbar:
            self.vertical_scrollbar.window_virtual_size = size.height
            self.vertical_scrollbar.refresh()
        if self.scroll_y > self.max_scroll_y:
            self.scroll_to(y=self.max_scroll_y, animate=False)

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
