"""Link-bearing cells: telling links from text, splitting cells with several, ranking columns."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from engine.inputs.classify import MEDIA_EXTENSIONS, has_url_scheme, looks_like_url

# Links in one cell are separated by spaces, newlines or semicolons; a comma separates only when
# a link follows it, because commas are legal inside URLs (query strings, CDN paths).
_NOT_MEDIA = frozenset(
    {".jpg", ".jpeg", ".png", ".gif", ".webp", ".svg", ".bmp", ".ico", ".pdf", ".ppt", ".pptx",
     ".doc", ".docx", ".zip", ".csv", ".xlsx"}
)  # fmt: skip
_WEB = re.compile(r"(?:https?|file)://", re.IGNORECASE)
_SPLIT = re.compile(r"[\s;]+|,\s*(?=[A-Za-z][A-Za-z0-9+.\-]*://|www\.)")


def split_links(cell: str) -> list[str]:
    """The links in one cell: one part when it holds one entry, several when each part is a link.

    A cell that is one path with spaces in it ("My Talks/one.mp3") stays whole; it is split only
    when at least two of its parts are links and nothing else is left over.
    """
    text = cell.strip()
    if not text:
        return []
    parts = [p for p in _SPLIT.split(text) if p]
    if len(parts) > 1 and all(is_link(p) for p in parts):
        return parts
    return [text]


def is_link(text: str) -> bool:
    """A URL, a bare web address, or a path to a media file."""
    text = text.strip()
    if not text or len(text) > 4096:
        return False
    if looks_like_url(text) and (_WEB.match(text) or not has_url_scheme(text)):
        # "A0:" or "Note:" has a scheme's shape but is no link; a thumbnail or a slide deck is
        # a link, but a column of them must not win over the column of media.
        return _reaches_somewhere(text) and _suffix(text) not in _NOT_MEDIA
    return is_media_path(text)


def _reaches_somewhere(text: str) -> bool:
    """A web link names a host ("HTTP://" alone does not); a file link names a path."""
    if not _WEB.match(text):
        return True  # a bare address: looks_like_url has checked its host
    try:
        parts = urlsplit(text)
        host = parts.hostname
    except ValueError:  # a malformed host such as "http://[::1"
        return False
    if parts.scheme.lower() == "file":
        return bool(parts.path.strip("/"))
    return bool(host)


def is_media_path(text: str) -> bool:
    """A local path or URL whose name ends in an audio or video extension."""
    return _suffix(text) in MEDIA_EXTENSIONS


def _suffix(text: str) -> str:
    try:
        path = urlsplit(text).path if looks_like_url(text) else text.replace("\\", "/")
    except ValueError:  # a malformed host such as "http://[::1"
        return ""
    return PurePosixPath(path).suffix.lower()


def link_bearing(cell: str) -> bool:
    """A cell whose every part is a link or a media path (so titles and notes never count)."""
    parts = split_links(cell)
    return bool(parts) and all(is_link(p) for p in parts)


def count_links(rows: Iterable[Sequence[str]], width: int) -> list[int]:
    """For each column, how many rows hold a link or path there."""
    counts = [0] * width
    for cells in rows:
        for index, cell in enumerate(cells[:width]):
            if cell and link_bearing(cell):
                counts[index] += 1
    return counts


def best_fallback(cells: Sequence[str], skip: int) -> int | None:
    """The column of the row's next link-bearing cell: a direct media link before a web page."""
    order = [*range(skip + 1, len(cells)), *range(min(skip, len(cells)))]
    found = [i for i in order if cells[i].strip() and link_bearing(cells[i])]
    media = [i for i in found if all(is_media_path(p) for p in split_links(cells[i]))]
    return (media or found or [None])[0]
