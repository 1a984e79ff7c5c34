"""Durable session state: one SQLite database (WAL) holding every session's items, chunks and events."""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import Any

import platformdirs

from engine.errors import StoreError, UsageError
from engine.item_caps import TITLE_CHARS, cap_meta, cap_title
from engine.items import TERMINAL, Item, State
from engine.redact import redact_text
from engine.segments import Segment
from engine.storable import shown
from sessions import schema
from sessions.lock import SessionLock

STATUSES = ("running", "paused", "finished", "cancelled")
# WAL + NORMAL survives a crash of the process: a commit is in the WAL once the call returns.
# Surviving power loss as well would need FULL (an fsync per commit). bench/store.py measures
# both: FULL costs about 3 ms per single-item save or chunk (over the 1 ms budget), NORMAL about
# 0.15 ms, so we choose NORMAL. Outputs themselves are fsynced by the writer, so a power cut can
# at worst make a resume redo items whose files already exist.
SYNCHRONOUS = "NORMAL"
BUSY_TIMEOUT_MS = 5000
EVENTS_KEPT = 1000  # the event log is a short history, not an archive
STORE_CANNOT_WRITE = "the session store cannot write"

# Any settings key containing one of these words is dropped before it reaches the disk.
SECRET_WORDS = ("api_key", "key", "token", "password", "secret", "authorization")
_KEPT_NAMES = frozenset({"api_key_source"})  # says where a key came from, never the key

# Ids name lock files, so an imported id must not carry a path; otherwise a new one is drawn.
_ID_SHAPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
Chunk = tuple[float, float, list[Segment], str | None]
_TERMINAL_SQL = ", ".join(f"'{s.value}'" for s in TERMINAL)
_COLS = ", ".join(f'"{c}"' for c in schema.ITEM_COLUMNS)
_UPSERT_ITEM = (
    f"INSERT INTO items (session_id, {_COLS}) VALUES (?{', ?' * len(schema.ITEM_COLUMNS)}) "
    f'ON CONFLICT (session_id, "id") DO UPDATE SET '
    + ", ".join(f'"{c}" = excluded."{c}"' for c in schema.ITEM_COLUMNS if c != "id")
)
_SESSION_COLS = "id, name, created, updated, status, inputs, settings, output_dir, totals"


def default_path() -> Path:
    return platformdirs.user_data_path("bulkscribe") / "sessions.db"


def new_session_id(now: float | None = None) -> str:
    """Short, sortable by creation time, and unique enough: ``20261128-153012-ab12``."""
    stamp = datetime.fromtimestamp(time.time() if now is None else now)
    return f"{stamp:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def scrub_secrets(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Settings without anything that looks like a secret, at any depth."""
    clean: dict[str, Any] = {}
    for key, value in settings.items():
        name = str(key).lower()
        if name not in _KEPT_NAMES and any(word in name for word in SECRET_WORDS):
            continue
        if isinstance(value, Mapping):
            value = scrub_secrets(value)
        elif isinstance(value, str):
            value = redact_text(value)  # a URL setting keeps its place, minus its password
        clean[str(key)] = value
    return clean


@dataclass(frozen=True)
class SessionInfo:
    """What the session list and the resume prompt show about one session."""

    id: str
    name: str
    created: datetime
    updated: datetime
    status: str
    counts: Mapping[str, int]
    total: int
    output_dir: str
    settings: Mapping[str, Any]
    inputs: tuple[str, ...]
    totals: Mapping[str, Any]

    def count(self, state: State) -> int:
        return self.counts.get(state.value, 0)

    @property
    def finished_items(self) -> int:
        return sum(self.count(s) for s in TERMINAL)

    @property
    def resumable(self) -> bool:
        return self.status in ("running", "paused") and self.finished_items < self.total


@dataclass(frozen=True, slots=True)
class SessionEvent:
    t: float
    kind: str
    text: str


def _stamp(ts: float) -> datetime:
    return datetime.fromtimestamp(ts).astimezone()


class Store:
    """All sessions in one database; safe to share between threads (calls are serialised)."""

    def __init__(self, conn: sqlite3.Connection, path: Path, recovered_from: Path | None) -> None:
        self._conn = conn
        self._lock = threading.RLock()
        self.path = path
        self.recovered_from = recovered_from

    @classmethod
    def open(cls, path: Path | None = None, *, synchronous: str = SYNCHRONOUS) -> Store:
        """Open (creating, migrating or, if unreadable, replacing) the session database."""
        path = Path(path) if path is not None else default_path()
        conn, recovered = schema.connect_or_recover(path, synchronous, BUSY_TIMEOUT_MS)
        return cls(conn, path, recovered)

    def close(self) -> None:
        with self._lock:
            with suppress(sqlite3.Error):  # advisory only; closing must still happen
                self._conn.execute("PRAGMA optimize")
            self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def lock(self, session_id: str) -> SessionLock:
        """The lock that keeps a second bulkscribe off this session (lock files sit beside us)."""
        return SessionLock(session_id, self.path.parent)

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self._conn
                except BaseException:
                    with suppress(sqlite3.Error):  # a failed COMMIT may have rolled back already
                        self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
            except (sqlite3.OperationalError, OSError) as exc:
                if self._conn.in_transaction:
                    with suppress(sqlite3.Error):
                        self._conn.execute("ROLLBACK")
                raise self.write_error(exc) from exc

    def write_error(self, exc: BaseException) -> StoreError:
        """A store write that failed, as a message a person can act on."""
        reason = str(exc) or type(exc).__name__
        return StoreError(
            f"{STORE_CANNOT_WRITE} ({reason}) in {self.path.parent}",
            hint="free space on that drive, then resume; nothing is lost, no item failed",
        )

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN")  # one snapshot across the queries of a read
            try:
                yield self._conn
            finally:
                self._conn.execute("COMMIT")

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
            schema.dump_json(scrub_secrets(settings)), str(output_dir), schema.dump_json(totals),
        )  # fmt: skip
        with self._lock:
            for attempt in range(50):
                session_id = new_session_id()
                if attempt == 0 and wanted and _ID_SHAPE.fullmatch(wanted):
                    session_id = wanted
                try:
                    self._conn.execute(
                        f"INSERT INTO sessions ({_SESSION_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
            values.append(schema.dump_json(scrub_secrets(settings)))
        if totals is not None:
            sets.append("totals = ?")
            values.append(schema.dump_json(totals))
        with self._write() as conn:
            cur = conn.execute(
                f"UPDATE sessions SET {', '.join(sets)} WHERE id = ?", (*values, session_id)
            )
        if cur.rowcount == 0:
            raise _unknown(session_id)

    def sessions(self) -> list[SessionInfo]:
        """Every session, newest first."""
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {_SESSION_COLS} FROM sessions ORDER BY created DESC, id DESC"
            ).fetchall()
            counts: dict[str, dict[str, int]] = {}
            for sid, state, n in conn.execute(
                "SELECT session_id, state, count(*) FROM items GROUP BY session_id, state"
            ):
                counts.setdefault(sid, {})[state] = n
        return [_info(row, counts.get(row[0], {})) for row in rows]

    def session(self, session_id: str) -> SessionInfo:
        """One session by id or by a unique prefix of its id."""
        with self._read() as conn:
            row = conn.execute(
                f"SELECT {_SESSION_COLS} FROM sessions WHERE id = ?", (session_id,)
            ).fetchone()
            if row is None and session_id:
                rows = conn.execute(
                    f"SELECT {_SESSION_COLS} FROM sessions WHERE substr(id, 1, ?) = ? "
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
                raise _unknown(session_id)
            counts = dict(
                conn.execute(
                    "SELECT state, count(*) FROM items WHERE session_id = ? GROUP BY state",
                    (row[0],),
                ).fetchall()
            )
        return _info(row, counts)

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

    # -- items, chunks, events -----------------------------------------------------------

    def save_items(self, session_id: str, items: Iterable[Item]) -> None:
        """Upsert the latest state of these items in one transaction."""
        rows = [(session_id, *schema.item_row(_bounded(item))) for item in items]
        if not rows:
            return
        try:
            with self._write() as conn:
                conn.executemany(_UPSERT_ITEM, rows)
                conn.execute(
                    "UPDATE sessions SET updated = ? WHERE id = ?", (time.time(), session_id)
                )
        except sqlite3.IntegrityError:
            raise _unknown(session_id) from None

    def touch(self, session_id: str) -> None:
        """A small write that shows whether the store takes writes again."""
        with self._write() as conn:
            conn.execute("UPDATE sessions SET updated = ? WHERE id = ?", (time.time(), session_id))

    def load_items(self, session_id: str) -> list[Item]:
        with self._lock:
            rows = self._conn.execute(
                f'SELECT {schema.ITEM_SELECT} FROM items WHERE session_id = ? ORDER BY "id"',
                (session_id,),
            ).fetchall()
        return [schema.item_from_row(row) for row in rows]

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
        row = (session_id, item_id, idx, start, end, language, schema.segments_json(segments))
        try:
            with self._write() as conn:
                conn.execute("INSERT OR REPLACE INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?)", row)
        except sqlite3.IntegrityError:
            raise _unknown(session_id) from None

    def load_chunks(self, session_id: str, item_id: int) -> dict[int, Chunk]:
        with self._lock:
            rows = self._conn.execute(
                'SELECT idx, "start", "end", segments, language FROM chunks '
                "WHERE session_id = ? AND item_id = ? ORDER BY idx",
                (session_id, item_id),
            ).fetchall()
        return {i: (s, e, schema.segments_from_json(seg), lang) for i, s, e, seg, lang in rows}

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
            found.setdefault(item_id, {})[i] = (s, e, schema.segments_from_json(seg), lang)
        return found

    def drop_chunks(self, session_id: str, item_id: int) -> None:
        with self._write() as conn:
            conn.execute(
                "DELETE FROM chunks WHERE session_id = ? AND item_id = ?", (session_id, item_id)
            )

    def add_event(self, session_id: str, kind: str, text: str, t: float | None = None) -> None:
        try:
            with self._write() as conn:
                self._insert_event(
                    conn, session_id, SessionEvent(time.time() if t is None else t, kind, text)
                )
        except sqlite3.IntegrityError:
            raise _unknown(session_id) from None

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
            conn.executemany(_UPSERT_ITEM, [(sid, *schema.item_row(i)) for i in items])
            conn.executemany(
                "INSERT OR REPLACE INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (sid, item_id, idx, s, e, lang, schema.segments_json(seg))
                    for item_id, idx, (s, e, seg, lang) in chunks
                ],
            )
            for event in events:
                self._insert_event(conn, sid, event)
        return sid


def _bounded(item: Item) -> Item:
    """The item with its outside text within limits: the last guard before the disk."""
    if item.meta:
        item = item.evolve(meta=cap_meta(item.meta))
    if item.title is not None and len(item.title) > TITLE_CHARS:
        item = item.evolve(title=cap_title(item.title))
    return item


def _unknown(session_id: str) -> UsageError:
    return UsageError(f"no session {session_id}; see 'bulkscribe sessions list'")


def _info(row: Sequence[Any], counts: Mapping[str, int]) -> SessionInfo:
    sid, name, created, updated, status, inputs, settings, output_dir, totals = row
    return SessionInfo(
        id=sid,
        name=name,
        created=_stamp(created),
        updated=_stamp(updated),
        status=status,
        counts=MappingProxyType(dict(counts)),
        total=sum(counts.values()),
        output_dir=output_dir,
        settings=MappingProxyType(schema.load_json(settings)),
        inputs=tuple(json.loads(inputs)),
        totals=MappingProxyType(schema.load_json(totals)),
    )
