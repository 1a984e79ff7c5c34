"""Which items the status table shows and in what order, kept up to date item by item.

A view (all, active, queued, failed, done), a filter text and a sort column pick and order the rows.
A changed item is moved with a binary search instead of filtering and sorting every row again, so a
tick with a hundred changes, or a key that switches the view, stays cheap with 10,000 items.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Sequence
from typing import Any

from engine.items import Item, State
from tui.widgets.columns import Column, column_named

VIEW_STATES: dict[str, frozenset[State] | None] = {
    "all": None,
    "active": frozenset({State.RUNNING, State.WAITING}),
    "queued": frozenset({State.QUEUED}),
    "failed": frozenset({State.FAILED, State.CANCELLED}),
    "done": frozenset({State.DONE}),
}

# (sort value, tie-break, item id). The tie-break is the id, negated for a reversed sort, and a
# reversed sort reads the list from the end: equal values keep input order either way, as a stable
# sort would.
Entry = tuple[Any, int, int]


def _remove(rows: list[Entry], entry: Entry) -> None:
    at = bisect_left(rows, entry)
    if at < len(rows) and rows[at] is entry:
        del rows[at]
    else:
        rows.remove(entry)  # a value that does not compare with itself (NaN): find it by identity


class RowIndex:
    """The rows of one table: every item by id, and the current view's ids in display order."""

    def __init__(self) -> None:
        self.items: list[Item | None] = []
        self.view = "all"
        self.needle = ""  # lower-case filter text
        self.column: Column = column_named("id")
        self.reverse = False
        self._by_state: dict[State, set[int]] = {state: set() for state in State}
        self._entries: list[Entry | None] = []  # by item id, for the current sort
        self._all: list[Entry] = []  # every item, sorted
        self._rows: list[Entry] = self._all  # the view's items; the same list while it shows all
        self._members: set[int] = set()  # ids in _rows while it is not _all
        # What the filter looks in, by item id, kept as items change (a few microseconds each) so
        # the first letter typed into the filter only searches 10,000 strings.
        self._texts: list[str] = []
        self._ticking: set[int] = set()  # started and not finished: their elapsed time moves

    # -- reading -------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._rows)

    def item(self, item_id: int) -> Item | None:
        return self.items[item_id] if 0 <= item_id < len(self.items) else None

    def id_at(self, row: int) -> int:
        rows = self._rows
        return rows[len(rows) - 1 - row][2] if self.reverse else rows[row][2]

    def ids(self) -> list[int]:
        ids = [entry[2] for entry in self._rows]
        if self.reverse:
            ids.reverse()
        return ids

    def shows(self, item_id: int) -> bool:
        if self._rows is self._all:
            return self.item(item_id) is not None
        return item_id in self._members

    def row_of(self, item_id: int) -> int | None:
        if not self.shows(item_id):
            return None
        entry = self._entries[item_id]
        assert entry is not None
        row = bisect_left(self._rows, entry)
        return len(self._rows) - 1 - row if self.reverse else row

    def matches(self, item: Item) -> bool:
        states = VIEW_STATES[self.view]
        if states is not None and item.state not in states:
            return False
        return not self.needle or self.needle in self._texts[item.id]

    # -- changing ------------------------------------------------------------------------------

    def arrange(self, view: str, needle: str, sort_key: str, reverse: bool) -> None:
        """Show ``view`` filtered by ``needle`` (lower case) and sorted by the column ``sort_key``."""
        column = column_named(sort_key)
        if column is not self.column or reverse != self.reverse:
            flipped = column is self.column
            self.column, self.reverse = column, reverse
            self._sort_all(flipped)
        elif view == self.view and self.needle in needle:
            # More filter text only narrows: look at the rows shown, not at every item.
            if needle != self.needle:
                self.needle = needle
                texts = self._texts
                self._show([e for e in self._rows if needle in texts[e[2]]])
            return
        self.view, self.needle = view, needle
        self._pick()

    def apply(self, items: Sequence[Item]) -> tuple[bool, list[int]]:
        """Take changed items; return whether rows joined, left or moved, and the ids that stayed put."""
        if len(items) > 64 + len(self._all) // 8:
            # Everything at once: the first load, a retry of every failed item.
            for item in items:
                self._store(item)
            self._sort_all(False)
            self._pick()
            return True, []
        moved = False
        stayed: list[int] = []
        whole = self._rows is self._all
        for item in items:
            before = self._store(item)
            after = self._entry(item)
            if before != after:
                if before is not None:
                    _remove(self._all, before)
                insort(self._all, after)
                self._entries[item.id] = after
            if whole:
                if before != after:
                    moved = True
                else:
                    stayed.append(item.id)
                continue
            shown, wanted = item.id in self._members, self.matches(item)
            if shown and wanted and before == after:
                stayed.append(item.id)
                continue
            if shown:
                assert before is not None
                _remove(self._rows, before)
                self._members.discard(item.id)
                moved = True
            if wanted:
                insort(self._rows, after)
                self._members.add(item.id)
                moved = True
        if self.column.live and self._retime({item.id for item in items}):
            moved = True
        return moved, stayed

    # -- internals -------------------------------------------------------------------------------

    def _store(self, item: Item) -> Entry | None:
        """Keep ``item``, its state and filter text; return its entry in the current sort, if any."""
        if item.id >= len(self.items):
            grow = item.id + 1 - len(self.items)
            self.items.extend([None] * grow)
            self._entries.extend([None] * grow)
            self._texts.extend([""] * grow)
        old = self.items[item.id]
        self.items[item.id] = item
        self._texts[item.id] = (
            f"{item.label} {item.source} {item.state.value} {item.error or ''} {item.kind}".lower()
        )
        if item.started_at is not None and item.finished_at is None:
            self._ticking.add(item.id)
        else:
            self._ticking.discard(item.id)
        if old is not None:
            self._by_state[old.state].discard(item.id)
        self._by_state[item.state].add(item.id)
        return self._entries[item.id]

    def _retime(self, done: set[int]) -> bool:
        """Sorted by a value that moves with the clock: place the running items by its value now.

        There are only as many as workers, so this stays cheap where sorting every row each tick
        would not; the rows in between keep values that do not change.
        """
        moved = False
        whole = self._rows is self._all
        for item_id in self._ticking - done:
            item = self.items[item_id]
            before = self._entries[item_id]
            assert item is not None and before is not None
            after = self._entry(item)
            if after == before:
                continue
            _remove(self._all, before)
            insort(self._all, after)
            self._entries[item_id] = after
            if not whole and item_id in self._members:
                _remove(self._rows, before)
                insort(self._rows, after)
            moved = True
        return moved

    def _entry(self, item: Item) -> Entry:
        value = item.id if self.column.key == "id" else self.column.sort(item)
        return (value, -item.id if self.reverse else item.id, item.id)

    def _sort_all(self, flipped: bool) -> None:
        if flipped:
            # Only the direction changed: the sort values still hold, only the tie-break turns.
            self._entries = [(e[0], -e[1], e[2]) if e else None for e in self._entries]
        else:
            self._entries = [self._entry(i) if i is not None else None for i in self.items]
        self._all = sorted(e for e in self._entries if e is not None)

    def _pick(self) -> None:
        """The rows of the current view and filter, from scratch (in sort order, never re-sorted)."""
        states = VIEW_STATES[self.view]
        rows = self._all
        if states is not None:
            ids = set().union(*(self._by_state[state] for state in states))
            if len(ids) * 8 < len(self._all):
                rows = sorted(e for e in (self._entries[i] for i in ids) if e is not None)
            else:
                rows = [e for e in self._all if e[2] in ids]
        if self.needle:
            needle, texts = self.needle, self._texts
            rows = [e for e in rows if needle in texts[e[2]]]
        self._show(rows)

    def _show(self, rows: list[Entry]) -> None:
        self._rows = rows
        self._members = set() if rows is self._all else {e[2] for e in rows}
