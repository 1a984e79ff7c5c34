"""The main screen: progress on top, the status table, and a side pane with detail, workers and log.

A timer pulls what changed from the engine's Board about ten times a second and applies it inside one
batch update; workers never touch a widget.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Sequence

from textual.app import ComposeResult
from textual.containers import Container
from textual.widgets import Header, Input, TabbedContent, TabPane

from engine.board import Board
from engine.items import Item
from tui.keys import bindings
from tui.messages import BatchFinished, Blocked, alert_for
from tui.retries import RetryNotes
from tui.screens.item_actions import ItemActions
from tui.screens.run_actions import RunActions
from tui.screens.view_actions import ViewActions
from tui.widgets.event_log import EventLog
from tui.widgets.item_detail import ItemDetail
from tui.widgets.key_footer import KeyFooter
from tui.widgets.progress_panel import ProgressPanel
from tui.widgets.status_table import StatusTable
from tui.widgets.workers_view import WorkersView

TICK = 0.1
FOLLOW_HOLD = 2.0
DETAIL_EVERY = 0.25  # redraw the same item in the detail at most four times a second
WIDE = 120  # the side pane moves beside the table
NARROW = 100  # the side pane folds away until asked for (key i), and the sparkline goes
FULL_GC_SPACING = 10  # full collections this many times rarer than Python's default while shown


class MainScreen(RunActions, ItemActions, ViewActions):
    BINDINGS = bindings(screen=True)
    DEFAULT_CSS = """
    MainScreen #body { layout: vertical; height: 1fr; }
    MainScreen.-wide #body { layout: horizontal; }
    MainScreen #side { height: 40%; min-height: 8; max-height: 14; border-top: solid $primary; }
    MainScreen.-wide #side { height: 1fr; max-height: 100%; width: 40%; border-top: none; border-left: solid $primary; }
    MainScreen.-side-hidden #side { display: none; }
    MainScreen.-narrow ProgressPanel Sparkline { display: none; }
    MainScreen #filter { display: none; dock: bottom; }
    MainScreen #filter.-visible { display: block; }
    MainScreen TabbedContent ContentSwitcher { height: 1fr; }
    """

    def __init__(self, board: Board) -> None:
        super().__init__()
        self.board = board
        self._cursor = board.cursor()
        self._user_selected = False
        self._latest_started: int | None = None
        self._followed_at = 0.0
        self._detail_at = 0.0
        self._shown_detail: tuple[int, int, str | None] | None = None
        self._gc_threshold = gc.get_threshold()
        self._side_wanted: bool | None = None
        self.retries = RetryNotes(board.clock)
        self._paused_shown = False  # the user's choice (key i); None: by width

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="≡")
        yield ProgressPanel()
        with Container(id="body"):
            yield StatusTable(id="table")
            with TabbedContent(id="side", initial="tab-detail"):
                with TabPane("Detail", id="tab-detail"):
                    yield ItemDetail(id="detail")
                with TabPane("Workers", id="tab-workers"):
                    yield WorkersView(id="workers")
                with TabPane("Log", id="tab-log"):
                    yield EventLog(id="log")
        yield Input(
            placeholder="filter: text in title, source, state or error (Enter applies, Escape clears)",
            id="filter",
        )
        yield KeyFooter(compact=True)

    def on_mount(self) -> None:
        self.query_one(StatusTable).retries = self.retries
        self.query_one(StatusTable).focus()
        self._apply_width(self.size.width)
        self.pull()
        self.set_interval(TICK, self.pull, name="board-pull")
        # A full garbage collection walks every object and holds the interpreter lock throughout:
        # ~70 ms with 10,000 items, about once a second while workers replace items, and any key
        # pressed meanwhile waits. What is loaded now lives as long as the screen, so it is left
        # out of those passes (replaced items are still freed at once: they hold no cycles), and
        # the passes, which still walk every item replaced since, come ten times less often.
        self._gc_threshold = gc.get_threshold()
        gc.freeze()
        gc.set_threshold(*self._gc_threshold[:2], self._gc_threshold[2] * FULL_GC_SPACING)

    def on_unmount(self) -> None:
        gc.set_threshold(*self._gc_threshold)
        gc.unfreeze()

    def on_resize(self) -> None:
        self._apply_width(self.size.width)

    def _apply_width(self, width: int) -> None:
        self.set_class(width >= WIDE, "-wide")
        self.set_class(width < NARROW, "-narrow")
        shown = self._side_wanted if self._side_wanted is not None else width >= NARROW
        self.set_class(not shown, "-side-hidden")
        footer = self.query_one(KeyFooter)
        # Below 80 columns the palette's key would overlap the last of the others.
        footer.show_command_palette = width >= 80
        footer.narrow = width < 90
        self.call_after_refresh(self.query_one(StatusTable).scroll_to_cursor)

    @property
    def side_shown(self) -> bool:
        return not self.has_class("-side-hidden")

    def toggle_side(self, shown: bool | None = None) -> None:
        """Show or fold away the side pane; the choice holds until the next toggle."""
        self._side_wanted = not self.side_shown if shown is None else shown
        self._apply_width(self.size.width)
        if not self.side_shown and not self.query_one(StatusTable).has_focus:
            self.query_one(StatusTable).focus()

    # -- the tick ---------------------------------------------------------------------------------

    def pull(self) -> None:
        changes = self._cursor.pull()
        table = self.query_one(StatusTable)
        with self.app.batch_update():
            if changes.items:
                self._follow_latest_start(table, changes.items)
                table.apply(changes.items)
            self.query_one(ProgressPanel).show(changes.stats)
            if changes.stats.engine.paused != self._paused_shown:
                self._paused_shown = changes.stats.engine.paused
                self.app.refresh_bindings()  # the footer's "space Pause" becomes "space Resume"
            if self.query_one(TabbedContent).active == "tab-workers":
                # Hidden panes are not kept up to date; the next tick fills one in when shown.
                self.query_one(WorkersView).show(changes.workers, table.item)
            if changes.events or changes.dropped_events:
                self.retries.add(changes.events)
                self.query_one(EventLog).add(changes.events, changes.dropped_events)
                for event in changes.events:
                    alert = alert_for(event, changes.stats.elapsed)
                    if alert is not None:
                        self.post_message(alert)
            self._show_detail()

    def _follow_latest_start(self, table: StatusTable, items: Sequence[Item]) -> None:
        """Until the user picks a row, the detail follows the item that started most recently.

        It stays on an item for at least FOLLOW_HOLD seconds, so the pane can be read when many
        short items start each second.
        """
        latest = table.item(self._latest_started) if self._latest_started is not None else None
        now = time.monotonic()
        if latest is not None and now - self._followed_at < FOLLOW_HOLD:
            return
        newest = latest.started_at if latest is not None and latest.started_at else 0.0
        for item in items:
            if item.state.active and item.started_at and item.started_at >= newest:
                self._latest_started, newest = item.id, item.started_at
                self._followed_at = now

    def _show_detail(self) -> None:
        table = self.query_one(StatusTable)
        item_id = table.cursor_item_id if self._user_selected else self._latest_started
        if item_id is None:
            item_id = table.cursor_item_id
        item: Item | None = table.item(item_id) if item_id is not None else None
        key = (item.id, item.version, self.retries.label(item)) if item is not None else None
        if key == self._shown_detail:
            return
        now = time.monotonic()
        same_item = (
            key is not None and self._shown_detail is not None and key[0] == self._shown_detail[0]
        )
        if same_item and now - self._detail_at < DETAIL_EVERY:
            return  # the same item changing fast: a later tick shows its latest state
        self._shown_detail, self._detail_at = key, now
        self.query_one(ItemDetail).show(item, self.retries)

    # -- selection and filter ------------------------------------------------------------------------

    def on_blocked(self, message: Blocked) -> None:
        self.app.notify(message.text, severity="error", timeout=10, markup=False)

    def on_batch_finished(self, message: BatchFinished) -> None:
        self.bulkscribe.batch_finished(message.elapsed)

    def on_item_detail_back(self) -> None:
        self.query_one(StatusTable).focus()

    def on_status_table_selected(self, message: StatusTable.Selected) -> None:
        # The cursor only counts as the user's choice when the user put it there: a row that slid
        # under it (its item left the view) is never the target of r or x.
        self._user_selected = message.by_user
        self._show_detail()

    @property
    def selected_item(self) -> Item | None:
        table = self.query_one(StatusTable)
        item_id = table.cursor_item_id if self._user_selected else None
        return table.item(item_id) if item_id is not None else None

    def targets(self) -> list[Item]:
        """What r and x act on: the marked rows when there are any, else the user's selection."""
        table = self.query_one(StatusTable)
        if table.marked:
            return [item for i in sorted(table.marked) if (item := table.item(i)) is not None]
        item = self.selected_item
        return [item] if item is not None else []

    def clear_marks(self) -> None:
        self.query_one(StatusTable).action_clear_marks()

    def open_filter(self) -> None:
        field = self.query_one("#filter", Input)
        field.add_class("-visible")
        field.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.query_one(StatusTable).filter_text = event.value.strip()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            self.query_one(StatusTable).focus()
            if not event.value.strip():
                event.input.remove_class("-visible")

    def key_escape(self) -> None:
        field = self.query_one("#filter", Input)
        if field.has_focus or field.has_class("-visible"):
            field.value = ""
            field.remove_class("-visible")
            self.query_one(StatusTable).focus()

    def show_tab(self, name: str) -> None:
        if not self.side_shown:
            self.toggle_side(True)
        self.query_one(TabbedContent).active = f"tab-{name}"
