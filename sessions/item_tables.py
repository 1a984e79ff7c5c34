"""The items and chunks tables: every item's latest state, and each transcribed chunk as it lands."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Sequence

from engine.item_caps import TITLE_CHARS, cap_meta, cap_title
from engine.items import Item
from engine.segments import Segment
from sessions import codec, schema
from sessions.database import Database
from sessions.records import Chunk, unknown_session

_COLS = ", ".join(f'"{c}"' for c in schema.ITEM_COLUMNS)
UPSERT_ITEM = (
    f"INSERT INTO items (session_id, {_COLS}) VALUES (?{', ?' * len(schema.ITEM_COLUMNS)}) "
    f'ON CONFLICT (session_id, "id") DO UPDATE SET '
    + ", ".join(f'"{c}" = excluded."{c}"' for c in schema.ITEM_COLUMNS if c != "id")
)
INSERT_CHUNK = "INSERT OR REPLACE INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?)"


class ItemTables(Database):
    """Items and their chunks, by session."""

    def save_items(self, session_id: str, items: Iterable[Item]) -> None:
        """Upsert the latest state of these items in one transaction."""
        rows = [(session_id, *codec.item_record(_bounded(item))) for item in items]
        if not rows:
            return
        try:
            with self._write() as conn:
                conn.executemany(UPSERT_ITEM, rows)
                conn.execute(
                    "UPDATE sessions SET updated = ? WHERE id = ?", (time.time(), session_id)
                )
        except sqlite3.IntegrityError:
            raise unknown_session(session_id) from None

    def save_stem(self, session_id: str, item_id: int, stem: str) -> None:
        """Keep the file-name stem given to an item, so a redo after a crash reuses it."""
        with self._write() as conn:
            conn.execute(
                "UPDATE items SET meta = json_set(meta, '$.stem', ?) "
                'WHERE session_id = ? AND "id" = ?',
                (stem, session_id, item_id),
            )

    def touch(self, session_id: str) -> None:
        """A small write that shows whether the store takes writes again."""
        with self._write() as conn:
            conn.execute("UPDATE sessions SET updated = ? WHERE id = ?", (time.time(), session_id))

    def load_items(self, session_id: str) -> list[Item]:
        with self._lock:
            rows = self._conn.execute(
                f'SELECT {codec.ITEM_SELECT} FROM items WHERE session_id = ? ORDER BY "id"',
                (session_id,),
            ).fetchall()
        return [codec.item_from_row(row) for row in rows]

    def save_chunk(
        self,
        session_id: str,
        item_id: int,
        idx: int,
        start: float,
        end: float,
        segments: Sequence[Segment],
        language: str | None,
    ) -> None:
        """Record one transcribed chunk; committed before this returns, so a resume can skip it."""
        row = (session_id, item_id, idx, start, end, language, codec.segments_json(segments))
        try:
            with self._write() as conn:
                conn.execute(INSERT_CHUNK, row)
        except sqlite3.IntegrityError:
            raise unknown_session(session_id) from None

    def load_chunks(self, session_id: str, item_id: int) -> dict[int, Chunk]:
        with self._lock:
            rows = self._conn.execute(
                'SELECT idx, "start", "end", segments, language FROM chunks '
                "WHERE session_id = ? AND item_id = ? ORDER BY idx",
                (session_id, item_id),
            ).fetchall()
        return {i: (s, e, codec.segments_from_json(seg), lang) for i, s, e, seg, lang in rows}

    def load_all_chunks(self, session_id: str) -> dict[int, dict[int, Chunk]]:
        """Every chunk of a session, by item id then chunk index."""
        with self._lock:
            rows = self._conn.execute(
                'SELECT item_id, idx, "start", "end", segments, language FROM chunks '
                "WHERE session_id = ? ORDER BY item_id, idx",
                (session_id,),
            ).fetchall()
        found: dict[int, dict[int, Chunk]] = {}
        for item_id, i, s, e, seg, lang in rows:
            found.setdefault(item_id, {})[i] = (s, e, codec.segments_from_json(seg), lang)
        return found

    def drop_chunks(self, session_id: str, item_id: int) -> None:
        with self._write() as conn:
            conn.execute(
                "DELETE FROM chunks WHERE session_id = ? AND item_id = ?", (session_id, item_id)
            )


def _bounded(item: Item) -> Item:
    """The item with its outside text within limits: the last guard before the disk."""
    if item.meta:
        item = item.evolve(meta=cap_meta(item.meta))
    if item.title is not None and len(item.title) > TITLE_CHARS:
        item = item.evolve(title=cap_title(item.title))
    return item
