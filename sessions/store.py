"""All sessions in one SQLite database (WAL): the sessions table, the event log, import and export."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from engine.errors import UsageError
from engine.items import TERMINAL, Item
from engine.redact import redact_text
from engine.storable import shown
from sessions import codec, schema
from sessions.database import BUSY_TIMEOUT_MS, STORE_CANNOT_WRITE, SYNCHRONOUS, default_path
from sessions.item_tables import INSERT_CHUNK, UPSERT_ITEM, ItemTables
from sessions.lock import SessionLock
from sessions.records import (
    SESSION_COLUMNS,
    STATUSES,
    Chunk,
    SessionEvent,
    SessionInfo,
    new_session_id,
    scrub_secrets,
    session_info,
    unknown_session,
)

# Kept here for the modules that import them with the Store.
__all__ = ["STATUSES", "STORE_CANNOT_WRITE", "Chunk", "SessionEvent", "SessionInfo", "Store"]

EVENTS_KEPT = 1000  # the event log is a short history, not an archive

# Ids name lock files, so an imported id must not carry a path; otherwise a new one is drawn.
_ID_SHAPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_TERMINAL_SQL = ", ".join(f"'{s.value}'" for s in TERMINAL)


class Store(ItemTables):
    """All sessions in one database; safe to share between threads (calls are serialised)."""

    @classmethod
    def open(cls, path: Path | None = None, *, synchronous: str = SYNCHRONOUS) -> Store:
        """Open (creating, migrating or, if unreadable, replacing) the session database."""
        path = Path(path) if path is not None else default_path()
        conn, recovered = schema.connect_or_recover(path, synchronous, BUSY_TIMEOUT_MS)
        return cls(conn, path, recovered)

    def lock(self, session_id: str) -> SessionLock:
        """The lock that keeps a second bulkscribe off this session (lock files sit beside us)."""
        return SessionLock(session_id, self.path.parent)

    # -- sessions -------------------------------------------------------------------------

    def create_session(
        self,
        *,
        name: str,
        inputs: Sequence[str],
        settings: Mapping[str, Any],
        output_dir: str,
    ) -> str:
        now = time.time()
        return self._insert_session(
            (name, now, now, "running", list(inputs), settings, output_dir, {})
        )

    def _insert_session(self, values: tuple[Any, ...], wanted: str | None = None) -> str:
        name, created, updated, status, inputs, settings, output_dir, totals = values
        row = (
            shown(redact_text(name)), created, updated, status,
            json.dumps([redact_text(str(i)) for i in inputs]),
            codec.dump_json(scrub_secrets(settings)), str(output_dir), codec.dump_json(totals),
        )  # fmt: skip
        with self._lock:
            for attempt in range(50):
                session_id = new_session_id()
                if attempt == 0 and wanted and _ID_SHAPE.fullmatch(wanted):
                    session_id = wanted
                try:
                    self._conn.execute(
                        f"INSERT INTO sessions ({SESSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (session_id, *row),
                    )
                    return session_id
                except sqlite3.IntegrityError:
                    continue  # that id is taken (same second, same suffix): draw another
                except (sqlite3.OperationalError, OSError) as exc:
                    raise self.write_error(exc) from exc
        raise RuntimeError("could not find a free session id")

    def update_session(
        self,
        session_id: str,
        *,
        status: str | None = None,
        settings: Mapping[str, Any] | None = None,
        totals: Mapping[str, Any] | None = None,
    ) -> None:
        sets: list[str] = ["updated = ?"]
        values: list[Any] = [time.time()]
        if status is not None:
            if status not in STATUSES:
                raise ValueError(f"unknown session status {status!r}")
            sets.append("status = ?")
            values.append(status)
        if settings is not None:
            sets.append("settings = ?")
            values.append(codec.dump_json(scrub_secrets(settings)))
        if totals is not None:
            sets.append("totals = ?")
            values.append(codec.dump_json(totals))
        with self._write() as conn:
            cur = conn.execute(
                f"UPDATE sessions SET {', '.join(sets)} WHERE id = ?", (*values, session_id)
            )
        if cur.rowcount == 0:
            raise unknown_session(session_id)

    def sessions(self) -> list[SessionInfo]:
        """Every session, newest first."""
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {SESSION_COLUMNS} FROM sessions ORDER BY created DESC, id DESC"
            ).fetchall()
            counts: dict[str, dict[str, int]] = {}
            for sid, state, n in conn.execute(
                "SELECT session_id, state, count(*) FROM items GROUP BY session_id, state"
            ):
                counts.setdefault(sid, {})[state] = n
        return [session_info(row, counts.get(row[0], {})) for row in rows]

    def session(self, session_id: str) -> SessionInfo:
        """One session by id or by a unique prefix of its id."""
        with self._read() as conn:
            row = conn.execute(
                f"SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?", (session_id,)
            ).fetchone()
            if row is None and session_id:
                rows = conn.execute(
                    f"SELECT {SESSION_COLUMNS} FROM sessions WHERE substr(id, 1, ?) = ? "
                    "ORDER BY created DESC LIMIT 6",
                    (len(session_id), session_id),
                ).fetchall()
                if len(rows) > 1:
                    shown = ", ".join(r[0] for r in rows[:5])
                    raise UsageError(
                        f"{session_id!r} matches several sessions ({shown}{', ...' if len(rows) > 5 else ''})",
                        hint="give more of the id",
                    )
                row = rows[0] if rows else None
            if row is None:
                raise unknown_session(session_id)
            counts = dict(
                conn.execute(
                    "SELECT state, count(*) FROM items WHERE session_id = ? GROUP BY state",
                    (row[0],),
                ).fetchall()
            )
        return session_info(row, counts)

    def unfinished(self) -> list[SessionInfo]:
        """Every running or paused session that still has work left, newest first."""
        return [
            info
            for info in self.sessions()
            if info.status in ("running", "paused") and info.finished_items < info.total
        ]

    def latest_unfinished(self) -> SessionInfo | None:
        """The newest running or paused session that still has work left, if any."""
        with self._lock:
            row = self._conn.execute(
                "SELECT id FROM sessions s WHERE status IN ('running', 'paused') AND EXISTS "
                f"(SELECT 1 FROM items i WHERE i.session_id = s.id AND i.state NOT IN ({_TERMINAL_SQL})) "
                "ORDER BY created DESC, id DESC LIMIT 1"
            ).fetchone()
            return self.session(row[0]) if row else None

    def delete(self, session_id: str) -> None:
        """Forget a session (id or unique prefix); its transcript files are left alone."""
        with self._lock:
            full = self.session(session_id).id
            with self._write() as conn:
                conn.execute("DELETE FROM sessions WHERE id = ?", (full,))

    def prune(self, older_than: timedelta) -> list[str]:
        """Delete finished sessions last touched before ``older_than`` ago; return their ids."""
        cutoff = time.time() - older_than.total_seconds()
        with self._write() as conn:
            ids = [
                r[0]
                for r in conn.execute(
                    "SELECT id FROM sessions WHERE status = 'finished' AND updated < ? ORDER BY created",
                    (cutoff,),
                )
            ]
            conn.executemany("DELETE FROM sessions WHERE id = ?", [(i,) for i in ids])
        return ids

    def add_event(self, session_id: str, kind: str, text: str, t: float | None = None) -> None:
        try:
            with self._write() as conn:
                self._insert_event(
                    conn, session_id, SessionEvent(time.time() if t is None else t, kind, text)
                )
        except sqlite3.IntegrityError:
            raise unknown_session(session_id) from None

    @staticmethod
    def _insert_event(conn: sqlite3.Connection, session_id: str, event: SessionEvent) -> None:
        conn.execute(
            "INSERT INTO events VALUES (?, ?, ?, ?)",
            (session_id, event.t, event.kind, shown(redact_text(event.text))),
        )
        conn.execute(
            "DELETE FROM events WHERE session_id = ? AND rowid <= (SELECT rowid FROM events "
            "WHERE session_id = ? ORDER BY rowid DESC LIMIT 1 OFFSET ?)",
            (session_id, session_id, EVENTS_KEPT),
        )

    def load_events(self, session_id: str, limit: int | None = None) -> list[SessionEvent]:
        """The session's event log, oldest first (the last ``limit`` events if given)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT t, kind, text FROM events WHERE session_id = ? ORDER BY rowid DESC LIMIT ?",
                (session_id, -1 if limit is None else limit),
            ).fetchall()
        return [SessionEvent(*row) for row in reversed(rows)]

    def restore(
        self,
        info: SessionInfo,
        items: Sequence[Item],
        chunks: Iterable[tuple[int, int, Chunk]],
        events: Iterable[SessionEvent],
    ) -> str:
        """Insert a whole session at once (for import); keeps its id unless that id is taken."""
        values = (
            info.name, info.created.timestamp(), info.updated.timestamp(), info.status,
            info.inputs, info.settings, info.output_dir, info.totals,
        )  # fmt: skip
        with self._write() as conn:
            sid = self._insert_session(values, wanted=info.id)
            conn.executemany(UPSERT_ITEM, [(sid, *codec.item_record(i)) for i in items])
            conn.executemany(
                INSERT_CHUNK,
                [
                    (sid, item_id, idx, s, e, lang, codec.segments_json(seg))
                    for item_id, idx, (s, e, seg, lang) in chunks
                ],
            )
            for event in events:
                self._insert_event(conn, sid, event)
        return sid
