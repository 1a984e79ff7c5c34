"""Text that can be stored and printed: undecodable file-name bytes (lone surrogates) made visible.

On POSIX a file name that is not UTF-8 reaches Python with lone surrogates in it
(``surrogateescape``). Opening the file needs them; SQLite, YAML, JSON files and terminals refuse
them ("surrogates not allowed"), which aborted the whole run before any item started.
"""

from __future__ import annotations

import os


def has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def shown(text: str) -> str:
    """``text`` for people and reports: each undecodable byte becomes U+FFFD."""
    if not has_surrogates(text):
        return text
    return "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in text)


def stored_path(path: str) -> str | bytes:
    """A location as the session store keeps it: bytes when only bytes can say it exactly."""
    return os.fsencode(path) if has_surrogates(path) else path


def loaded_path(value: str | bytes) -> str:
    return os.fsdecode(value) if isinstance(value, bytes) else value
