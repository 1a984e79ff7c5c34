"""An output folder belongs to one session at a time: a flock'd file inside it names the holder."""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

from engine.errors import OutputError, UsageError
from engine.lock_file import LockFile
from engine.outputs.atomic import ensure_folder, output_error
from engine.outputs.manifest import MANIFEST_NAME

LOCK_NAME = ".bulkscribe.lock"


def _holder(fd: int) -> dict[str, object]:
    try:
        data = json.loads(os.pread(fd, 4096, 0).decode("utf-8", "replace") or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def reports_owner(folder: Path) -> str | None:
    """The session id named in the folder's manifest.json; "" for a manifest that names none."""
    path = Path(folder) / MANIFEST_NAME
    try:
        with path.open("rb") as handle:
            # The session block comes first; a few KB hold it even in a manifest of 10,000 items.
            head = handle.read(64 * 1024).decode("utf-8", "replace")
    except FileNotFoundError:
        return None
    except OSError:
        return ""
    try:
        session = json.loads(head).get("session") or {}
    except ValueError:
        # Cut mid-way through the items: the id sits near the top, written by json.dumps.
        marker = '"id": "'
        at = head.find(marker)
        return head[at + len(marker) : head.find('"', at + len(marker))] if at >= 0 else ""
    ident = session.get("id") if isinstance(session, dict) else None
    return str(ident) if ident else ""


class FolderLock(LockFile):
    """Hold ``folder`` for ``session_id``; a second session into it gets a UsageError at start.

    A crashed or killed holder frees the folder at once (engine/lock_file.py).
    """

    def __init__(self, folder: Path, session_id: str) -> None:
        super().__init__(Path(folder) / LOCK_NAME)
        self.folder = Path(folder)
        self.session_id = session_id

    def acquire(self) -> None:
        """Lock the folder, or refuse when another session holds it or left its reports there."""
        if self._fd is not None:
            return
        while True:
            fd = self._open()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _holder(fd)
                os.close(fd)
                raise self._busy(holder) from None
            if self._still_at_path(fd):
                break
            os.close(fd)  # released and removed while we opened it: lock the new file instead
        owner = reports_owner(self.folder)
        if owner is not None and owner != self.session_id:
            self._unlock(fd)
            raise self._foreign(owner)
        os.ftruncate(fd, 0)
        record = {"session": self.session_id, "pid": os.getpid()}
        os.pwrite(fd, (json.dumps(record) + "\n").encode("utf-8"), 0)
        self._fd = fd

    def _open(self) -> int:
        # Taken before any work starts, so a folder that cannot be used is a start-up problem.
        try:
            ensure_folder(self.folder)
            return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OutputError as exc:
            raise UsageError(exc.message, hint=exc.hint) from exc
        except OSError as exc:
            problem = output_error(exc, self.path)
            raise UsageError(problem.message, hint=problem.hint) from exc

    def _busy(self, holder: dict[str, object]) -> UsageError:
        other = holder.get("session") or "unknown"
        pid = holder.get("pid")
        who = f"session {other} (pid {pid})" if pid else f"session {other}"
        return UsageError(
            f"output folder {self.folder} is in use by {who}",
            hint="wait for that run to finish, or choose another folder with --output",
        )

    def _foreign(self, owner: str) -> UsageError:
        named = f"session {owner}" if owner else "another run"
        resume = f"resume it with: bulkscribe --resume {owner}, " if owner else ""
        return UsageError(
            f"output folder {self.folder} holds the reports of {named}",
            hint=f"{resume}or choose another folder with --output",
        )
