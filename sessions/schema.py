"""The session database file: its tables, ordered migrations and safe opening (values: codec.py)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from engine.errors import UsageError

# "BSCR": marks the file as ours, so a foreign SQLite file is told apart from an old one of ours.
APPLICATION_ID = 0x42534352

# Each entry upgrades the schema by one version; entry 0 takes an empty file to version 1.
# Append only: a released migration never changes, a later one corrects it.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        f"PRAGMA application_id = {APPLICATION_ID}",
        """CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            created REAL NOT NULL,
            updated REAL NOT NULL,
            status TEXT NOT NULL
                CHECK (status IN ('running', 'paused', 'finished', 'cancelled')),
            inputs TEXT NOT NULL,
            settings TEXT NOT NULL,
            output_dir TEXT NOT NULL,
            totals TEXT NOT NULL DEFAULT '{}'
        )""",
        """CREATE TABLE items (
            session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            "id" INTEGER NOT NULL, "source" TEXT NOT NULL, "kind" TEXT NOT NULL,
            "location" TEXT NOT NULL, "row" INTEGER, "origin" TEXT NOT NULL, "title" TEXT,
            "duration" REAL, "state" TEXT NOT NULL, "stage" TEXT, "attempts" INTEGER NOT NULL,
            "error_class" TEXT, "error" TEXT, "worker" INTEGER, "method" TEXT, "engine" TEXT,
            "language" TEXT, "chunks_total" INTEGER NOT NULL, "chunks_done" INTEGER NOT NULL,
            "queued_at" REAL, "started_at" REAL, "finished_at" REAL,
            "stage_times" TEXT NOT NULL, "outputs" TEXT NOT NULL, "meta" TEXT NOT NULL,
            "preview" TEXT NOT NULL, "version" INTEGER NOT NULL,
            PRIMARY KEY (session_id, "id")
        ) WITHOUT ROWID""",
        # Lets the session list count items by state without reading the rows themselves.
        "CREATE INDEX items_by_state ON items(session_id, state)",
        """CREATE TABLE chunks (
            session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            item_id INTEGER NOT NULL,
            idx INTEGER NOT NULL,
            "start" REAL NOT NULL,
            "end" REAL NOT NULL,
            language TEXT,
            segments TEXT NOT NULL,
            PRIMARY KEY (session_id, item_id, idx)
        )""",
        """CREATE TABLE events (
            session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            t REAL NOT NULL,
            kind TEXT NOT NULL,
            text TEXT NOT NULL
        )""",
        "CREATE INDEX events_by_session ON events(session_id)",
    ),
)

SCHEMA_VERSION = len(MIGRATIONS)

# Item's fields in its own order (a test keeps them equal), so rows rebuild Items positionally.
ITEM_COLUMNS = (
    "id", "source", "kind", "location", "row", "origin", "title", "duration", "state", "stage",
    "attempts", "error_class", "error", "worker", "method", "engine", "language", "chunks_total",
    "chunks_done", "queued_at", "started_at", "finished_at", "stage_times", "outputs", "meta",
    "preview", "version",
)  # fmt: skip


class UnusableDatabase(Exception):
    """The file cannot serve as our session database; it is moved aside, not repaired."""


class ForeignDatabase(UnusableDatabase):
    """The file is SQLite but was not made by bulkscribe."""


class DamagedDatabase(UnusableDatabase):
    """The file is ours but its pages fail SQLite's consistency check."""


def inspect(conn: sqlite3.Connection) -> None:
    """Raise ForeignDatabase unless the file is empty or ours; reads only, changes nothing.

    A file that is not SQLite at all fails here with sqlite3.DatabaseError (SQLITE_NOTADB).
    """
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    if app_id == APPLICATION_ID:
        return
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    if app_id != 0 or version != 0 or tables:
        raise ForeignDatabase(f"application_id={app_id} user_version={version} objects={tables}")


def migrate(conn: sqlite3.Connection, migrations: Sequence[Sequence[str]] = MIGRATIONS) -> int:
    """Bring the schema up to date in one transaction; return the version reached.

    The version is read again inside the write transaction, so two processes opening a new file
    at the same moment cannot both apply the same step.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > len(migrations):
            raise UsageError(
                f"the session database was made by a newer bulkscribe (schema {version}, "
                f"this one knows up to {len(migrations)})",
                hint="upgrade bulkscribe, or point it at another data folder",
            )
        for step in range(version, len(migrations)):
            for statement in migrations[step]:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {step + 1}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return max(version, len(migrations))


# Only these mean "the file itself is bad"; locked, read-only or missing folders are not moved.
_UNREADABLE = frozenset({"SQLITE_NOTADB", "SQLITE_CORRUPT"})


def connect_or_recover(
    path: Path, synchronous: str, busy_ms: int
) -> tuple[sqlite3.Connection, Path | None]:
    """Open the database at ``path``; if it is unreadable or foreign, move it aside and start anew.

    Returns the connection and where a bad file was moved to (None when nothing was moved).
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"cannot create the data folder {path.parent}: {exc.strerror}",
            hint="check its permissions or set XDG_DATA_HOME",
        ) from None
    conn = _connect(path, busy_ms)
    try:
        _prepare(conn, synchronous)
        return conn, None
    except (UnusableDatabase, sqlite3.DatabaseError) as exc:
        unreadable = isinstance(exc, UnusableDatabase) or exc.sqlite_errorname in _UNREADABLE
        if not unreadable:
            conn.close()
            raise _cannot_open(path, exc) from None
        # Move before closing: closing would delete the -wal that belongs with the bad file.
        moved = move_aside(path)
        conn.close()
    except BaseException:
        conn.close()
        raise
    conn = _connect(path, busy_ms)
    try:
        _prepare(conn, synchronous)
    except BaseException:
        conn.close()
        raise
    return conn, moved


def _cannot_open(path: Path, exc: Exception) -> UsageError:
    return UsageError(
        f"cannot open the session database {path}: {exc}",
        hint="another program may hold it, or its folder is read-only",
    )


def _connect(path: Path, busy_ms: int) -> sqlite3.Connection:
    # Autocommit mode: the store opens its own transactions, one per call.
    try:
        conn = sqlite3.connect(
            path, timeout=busy_ms / 1000, isolation_level=None, check_same_thread=False
        )
        conn.execute(f"PRAGMA busy_timeout = {int(busy_ms)}")
    except sqlite3.OperationalError as exc:
        raise _cannot_open(path, exc) from None
    return conn


def _prepare(conn: sqlite3.Connection, synchronous: str) -> None:
    inspect(conn)  # before anything writes, so a foreign file is moved exactly as it was
    # A damaged page would otherwise surface later, mid-run; checking costs ~10 ms per 10k items.
    verdict = conn.execute("PRAGMA quick_check").fetchone()[0]
    if verdict != "ok":
        raise DamagedDatabase(verdict)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    conn.execute("PRAGMA foreign_keys = ON")
    migrate(conn)


def move_aside(path: Path) -> Path:
    """Rename a bad database and its -wal/-shm companions to ``<name>.corrupt-<time>``."""
    stamp = f"{datetime.now():%Y%m%d-%H%M%S}"
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
    for suffix in ("", "-wal", "-shm"):
        source = Path(f"{path}{suffix}")
        if source.exists():
            source.rename(f"{target}{suffix}")
    return target
