"""Check at start that the output folder can hold transcripts: a folder, writable, with room."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path

from engine.errors import UsageError

# A probe this size finds a disk that is full or nearly so before any item runs; a transcript
# and its reports are a few kilobytes each.
PROBE_BYTES = 64 * 1024


def prepare_output_folder(folder: Path) -> Path:
    """Create ``folder`` if needed and prove a file can be written there; a UsageError if not.

    Each refusal names the folder and what to do, so the run stops with a message, not a traceback.
    """
    folder = Path(os.path.abspath(os.path.expanduser(folder)))
    blocker = _file_in_the_way(folder)
    if blocker == folder:
        raise UsageError(
            f"the output folder {folder} is a file", hint="choose another folder with --output"
        )
    if blocker is not None:
        raise UsageError(
            f"the output folder {folder} cannot be made: {blocker} is a file",
            hint="choose another folder with --output",
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _probe(folder)
    except OSError as exc:
        raise _refusal(folder, exc) from None
    return folder


def _file_in_the_way(folder: Path) -> Path | None:
    """The folder itself or the nearest existing parent, when that is not a folder."""
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            return None if candidate.is_dir() else candidate
    return None


def _probe(folder: Path) -> None:
    fd, name = tempfile.mkstemp(prefix=".bulkscribe-probe-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(b"\0" * PROBE_BYTES)
            handle.flush()
            os.fsync(handle.fileno())
    finally:
        with contextlib.suppress(OSError):  # a probe that cannot be removed harms nothing
            os.unlink(name)


def _refusal(folder: Path, exc: OSError) -> UsageError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return UsageError(
            f"the disk holding {folder} is full", hint="free some space or choose another --output"
        )
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return UsageError(
            f"the output folder {folder} is not writable",
            hint="check its permissions or choose another --output",
        )
    if exc.errno == errno.ENOTDIR:
        return UsageError(
            f"the output folder {folder} cannot be made: part of the path is a file",
            hint="choose another folder with --output",
        )
    return UsageError(
        f"cannot use the output folder {folder}: {exc.strerror or exc}",
        hint="choose another folder with --output",
    )
