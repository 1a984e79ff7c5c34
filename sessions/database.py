"""The session database connection: shared by threads, one transaction a call, errors to act on."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType
from typing import Self

import platformdirs

from engine.errors import StoreError

# WAL + NORMAL survives a crash of the process: a commit is in the WAL once the call returns.
# Surviving power loss as well would need FULL (an fsync per commit). bench/store.py measures
# both: FULL costs about 3 ms per single-item save or chunk (over the 1 ms budget), NORMAL about
# 0.15 ms, so we choose NORMAL. Outputs themselves are fsynced by the writer, so a power cut can
# at worst make a resume redo items whose files already exist.
SYNCHRONOUS = "NORMAL"
BUSY_TIMEOUT_MS = 5000
STORE_CANNOT_WRITE = "the session store cannot write"


def default_path() -> Path:
    return platformdirs.user_data_path("bulkscribe") / "sessions.db"


class Database:
    """One SQLite connection; calls are serialised, so it is safe to share between threads."""

    def __init__(self, conn: sqlite3.Connection, path: Path, recovered_from: Path | None) -> None:
        self._conn = conn
        self._lock = threading.RLock()
        self.path = path
        self.recovered_from = recovered_from

    def close(self) -> None:
        with self._lock:
            with suppress(sqlite3.Error):  # advisory only; closing must still happen
                self._conn.execute("PRAGMA optimize")
            self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

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
