"""A lock held as an flock'd file: what the folder lock and the session lock share once taken."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from types import TracebackType
from typing import Self


class LockFile:
    """An exclusive ``flock`` on the file at ``path``, given up by removing the file.

    ``flock`` belongs to the open file, so a crashed or killed holder frees the lock at once.
    The file is removed on release while still locked; an acquirer checks that the file it locked
    is still the one at the path (``_still_at_path``), so a release cannot let two holders in.
    Subclasses take the lock in ``acquire`` and keep the descriptor in ``_fd``.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        raise NotImplementedError

    def release(self) -> None:
        if self._fd is not None:
            self._unlock(self._fd)
            self._fd = None

    def _unlock(self, fd: int) -> None:
        # Remove while still locked, so nobody can lock this inode and believe it is current.
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        os.close(fd)

    def _still_at_path(self, fd: int) -> bool:
        try:
            return os.stat(self.path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            return False

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
