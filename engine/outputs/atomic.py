"""Write a file so that readers see the old content or the new, never half of it."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from pathlib import Path

from engine.errors import NameTaken, OutputError

_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG}
_DENIED = {errno.EACCES, errno.EPERM, errno.EROFS}
# O_BINARY exists only on Windows, where text mode would turn "\n" into "\r\n".
_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)


def output_error(exc: OSError, path: Path) -> OutputError:
    """Translate an OSError met while writing path into a message a person can act on."""
    if exc.errno in _FULL:
        return OutputError(
            f"disk full while writing {path.name}", hint=f"free space on the drive of {path.parent}"
        )
    if exc.errno in _DENIED:
        return OutputError(
            f"output folder not writable: {path.parent}", hint="choose another output folder"
        )
    reason = exc.strerror or type(exc).__name__
    return OutputError(f"could not write {path.name}: {reason}", hint=f"in {path.parent}")


def ensure_folder(folder: Path) -> None:
    """Create the output folder (and its parents) if needed; OutputError when that is impossible."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError as exc:  # a file sits where the folder should be
        raise OutputError(
            f"output folder is a file: {folder}", hint="choose another output folder"
        ) from exc
    except OSError as exc:
        raise output_error(exc, folder / ".") from exc


def _open_temp(path: Path) -> tuple[int, Path]:
    for _ in range(100):
        temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            # Mode 0o666 lets the umask decide, as for any file the user creates (mkstemp would force 0o600).
            return os.open(temp, _FLAGS, 0o666), temp
        except FileExistsError:
            continue
    raise OSError(errno.EEXIST, "could not find a free temporary name")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _sync_folder(folder: Path) -> None:
    # Makes the rename itself durable; folders cannot be opened this way on Windows.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _place_new(temp: Path, path: Path) -> None:
    """Move temp to path only if nothing is there: the name is claimed with O_EXCL first.

    The rename then replaces only our own empty claim; if it fails, the claim is removed.
    """
    try:
        os.close(os.open(path, _FLAGS, 0o666))
    except FileExistsError:
        raise NameTaken(str(path)) from None
    try:
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise


def atomic_write(path: Path, data: str | bytes, *, replace: bool = True) -> None:
    """Write path via a synced temp file in the same folder; OutputError on failure.

    With ``replace=False`` an existing file is never touched: NameTaken is raised instead, so
    two writers that picked one name cannot overwrite each other.
    """
    path = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    temp: Path | None = None
    try:
        fd, temp = _open_temp(path)
        try:
            _write_all(fd, raw)
            os.fsync(fd)
        finally:
            os.close(fd)
        if replace:
            os.replace(temp, path)
        else:
            _place_new(temp, path)
        temp = None
    except OSError as exc:
        raise output_error(exc, path) from exc
    finally:
        if temp is not None:
            with contextlib.suppress(OSError):
                os.unlink(temp)
    _sync_folder(path.parent)
