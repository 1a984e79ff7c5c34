"""What the main screen's key actions stand on: the app's batch and engine, the rows picked, the panes."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual.screen import Screen

from engine.items import Item
from engine.run.engine import Engine

if TYPE_CHECKING:
    from tui.app import BulkscribeApp
    from tui.distribute import DistributedRun


class BatchScreen(Screen[None]):
    """A screen over a running batch; MainScreen fills in the rows and panes it shows."""

    @property
    def bulkscribe(self) -> BulkscribeApp:
        return cast("BulkscribeApp", self.app)

    @property
    def engine(self) -> Engine | DistributedRun:
        return self.bulkscribe.engine

    @property
    def selected_item(self) -> Item | None:
        """The row the user put the cursor on, if any."""
        raise NotImplementedError

    def targets(self) -> list[Item]:
        """What r and x act on: the marked rows when there are any, else the user's selection."""
        raise NotImplementedError

    def clear_marks(self) -> None:
        raise NotImplementedError

    def open_filter(self) -> None:
        raise NotImplementedError

    def show_tab(self, name: str) -> None:
        raise NotImplementedError

    def toggle_side(self, shown: bool | None = None) -> None:
        raise NotImplementedError
