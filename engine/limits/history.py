"""The permits a limiter granted lately, oldest first: what seeds rebuilt pools and what a 429 is judged by."""

from __future__ import annotations

from bisect import bisect_left
from collections import deque
from collections.abc import Iterator

# (time granted or sent, pool key, granted while the mode was shared)
Entry = tuple[float, str, bool]


class PermitLog:
    """A time-ordered log of recent permits; the owner's lock guards it."""

    def __init__(self) -> None:
        self._entries: deque[Entry] = deque()

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._entries)

    def add(self, now: float, pool: str, shared: bool) -> Entry:
        entry = (now, pool, shared)
        self._entries.append(entry)
        return entry

    def trim(self, horizon: float) -> None:
        """Forget permits older than ``horizon``."""
        entries = self._entries
        while entries and entries[0][0] < horizon:
            entries.popleft()

    def move(self, entry: Entry, now: float) -> bool:
        """Count ``entry`` from ``now`` instead; False when it is no longer logged."""
        entries = self._entries
        try:
            entries.remove(entry)
        except ValueError:  # trimmed, or the pools were rebuilt from history since
            return False
        entries.insert(bisect_left(entries, now, key=lambda e: e[0]), (now, *entry[1:]))
        return True

    def recent(self, start: float) -> list[Entry]:
        """The permits counted at ``start`` or later."""
        entries = list(self._entries)
        times = [t for t, _, _ in entries]
        return entries[bisect_left(times, start) :]

    def count(self, start: float) -> int:
        """How many permits count from ``start`` or later."""
        times = [t for t, _, _ in self._entries]
        return len(times) - bisect_left(times, start)
