"""One bulkscribe at a time per session: an flock'd file that the OS releases if the holder dies."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

import platformdirs

from engine.errors import UsageError
from engine.lock_file import LockFile

# A holder may have locked the file but not yet written its pid; a short retry covers that gap
# and a lock that is being released at the same moment.
_RETRY_FOR = 0.2


def lock_dir(directory: Path | None = None) -> Path:
    """Where lock files live: ``locks/`` beside the session database."""
    base = directory if directory is not None else platformdirs.user_data_path("bulkscribe")
    return base / "locks"


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def holder(session_id: str, directory: Path | None = None) -> int | None:
    """Pid of the process holding the session's lock (-1 if not yet written), or None if free.

    Only a shared lock is tried, so this never takes the session from anybody.
    """
    path = lock_dir(directory) / f"{session_id}.lock"
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _read_pid(fd) or -1
    finally:
        os.close(fd)
    return None


class SessionLock(LockFile):
    """Hold a session exclusively while it is open; a second holder gets a UsageError.

    A crashed or killed holder frees the session at once (engine/lock_file.py).
    """

    def __init__(self, session_id: str, directory: Path | None = None) -> None:
        if not session_id or "/" in session_id or session_id.startswith("."):
            raise ValueError(f"not a session id: {session_id!r}")
        super().__init__(lock_dir(directory) / f"{session_id}.lock")
        self.session_id = session_id

    def acquire(self) -> None:
        if self._fd is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + _RETRY_FOR
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pid = _read_pid(fd)
                os.close(fd)
                if time.monotonic() < deadline:
                    time.sleep(0.02)
                    continue
                raise self._refusal(pid) from None
            if self._still_at_path(fd):
                break
            os.close(fd)  # released and removed while we waited: lock the new file instead
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        self._fd = fd

    def _refusal(self, pid: int | None) -> UsageError:
        if pid == os.getpid():
            return UsageError(f"session {self.session_id} is already open in this bulkscribe")
        who = f"pid {pid}" if pid else "pid unknown"
        return UsageError(
            f"session {self.session_id} is open in another bulkscribe ({who})",
            hint="close that one first, or work on another session",
        )
