"""The main screen's keys for looking around: detail, filter, views, and the side pane's tabs."""

from __future__ import annotations

from textual.widgets import TabbedContent

from tui.screens.batch_screen import BatchScreen
from tui.widgets.status_table import StatusTable


class ViewActions(BatchScreen):
    """Change what the screen shows; nothing here touches the batch."""

    def action_focus_detail(self) -> None:
        self.show_tab("detail")
        self.query_one("#detail").focus()

    def action_filter(self) -> None:
        self.open_filter()

    def action_view(self, name: str) -> None:
        # The table's header names the view; a toast would cover the rows it is about.
        self.query_one(StatusTable).view_name = name

    def action_show_tab(self, name: str) -> None:
        self.show_tab(name)

    def action_toggle_log(self) -> None:
        tabs = self.query_one(TabbedContent)
        self.show_tab("detail" if tabs.active == "tab-log" else "log")

    def action_toggle_side(self) -> None:
        self.toggle_side()
