"""Reading a list file safely: regular files only, bounded in size, decoded line by line."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from engine.errors import UsageError
from engine.inputs.source import Place

MAX_LIST_BYTES = 64 * 1024 * 1024  # a list of a million links is ~100 MB less than this
MAX_LINE_CHARS = 64 * 1024  # the longest real URL seen in lists is a few KB (signed S3 links)
MAX_CELL_CHARS = 128 * 1024  # Python's csv default field limit, kept as the per-cell cap

_LIST_HINT = "check the path, or pass links directly as arguments"
_LINE_END = re.compile(rb"\r\n|\r|\n")

# What a person calls the kinds of file that are not regular files.
_FILE_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a folder"),
)


def special_file_kind(path: Path) -> str | None:
    """What ``path`` (its link target, for a link) is when it is not a regular file; else None.

    Opening a FIFO blocks until a writer comes and /dev/zero never ends, so this is asked
    before any list or media file is opened.
    """
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return None
    if stat.S_ISREG(mode):
        return None
    return next((name for test, name in _FILE_KINDS if test(mode)), "not a regular file")


def read_bytes(path: Path, place: Place) -> bytes:
    """The whole list file, or a UsageError naming it and saying why it cannot be read."""
    kind = special_file_kind(path)
    if kind is not None:
        raise UsageError(
            f"cannot read list file {place.label}: it is {kind}, not a regular file",
            hint="save the list to a file first, or pipe it in with '-' for stdin",
        )
    try:
        size = os.stat(path).st_size
        if size > MAX_LIST_BYTES:
            raise _too_big(place)
        with open(path, "rb") as handle:
            # Read one byte past the cap: a file can grow while it is read, or report size 0.
            data = handle.read(MAX_LIST_BYTES + 1)
    except FileNotFoundError:
        raise UsageError(f"list file not found: {place.label}", hint=_LIST_HINT) from None
    except UsageError:
        raise
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise UsageError(
            f"cannot read list file {place.label}: {reason}", hint=_LIST_HINT
        ) from None
    if len(data) > MAX_LIST_BYTES:
        raise _too_big(place)
    return data


def read_stream(stream: object, place: Place) -> str:
    """Text from stdin, bounded like a list file."""
    read = getattr(stream, "read")  # noqa: B009 - TextIO or a test double
    text = read(MAX_LIST_BYTES + 1)
    if len(text) > MAX_LIST_BYTES:
        raise _too_big(place)
    return str(text)


def _too_big(place: Place) -> UsageError:
    return UsageError(
        f"list file {place.label} is larger than {MAX_LIST_BYTES // (1024 * 1024)} MB",
        hint="split it into several lists",
    )


def decode_text(data: bytes) -> str:
    """UTF-16 when its BOM says so; else each line as UTF-8, or Windows-1252 when it is not UTF-8.

    Lists pasted together from several sources mix encodings line by line, so one
    Windows-1252 line must not turn the UTF-8 lines around it into mojibake.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    parts = _LINE_END.split(data)
    breaks = _LINE_END.findall(data)
    out = [decode_line(part) for part in parts]
    return "".join(
        text + (breaks[i].decode("ascii") if i < len(breaks) else "") for i, text in enumerate(out)
    )


def decode_line(data: bytes) -> str:
    """One line as UTF-8, else Windows-1252, else Latin-1 (which takes every byte)."""
    for encoding in ("utf-8", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def shorten(text: str, limit: int = 80) -> str:
    """The start of an over-long entry, for messages (the whole of it would flood the screen)."""
    return text if len(text) <= limit else text[:limit] + "…"
