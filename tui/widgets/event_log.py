"""The event log: retries, 429 back-offs, failures, mode and pool changes, newest last."""

from __future__ import annotations

import time
from collections.abc import Sequence

from rich.text import Text
from textual.widgets import RichLog

from engine.events import Event


class EventLog(RichLog):
    """A bounded log so a long run cannot grow memory without end."""

    DEFAULT_CSS = """
    EventLog { padding: 0 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        # RichLog renders at least min_width (78) columns and cuts what does not fit: in a narrower
        # pane that took the middle out of every message. Wrap at the pane's own width instead.
        super().__init__(
            id=id, max_lines=2000, wrap=True, markup=False, highlight=False, min_width=20
        )

    def add(self, events: Sequence[Event], dropped: int = 0) -> None:
        if dropped:
            self.write(Text(f"… {dropped} older events not shown", style="dim"))
        for event in events:
            line = Text()
            line.append(time.strftime("%H:%M:%S ", time.localtime(event.t)), style="dim")
            line.append(f"{event.kind:<9}", style=event.kind.style)
            line.append(event.text)
            self.write(line)
