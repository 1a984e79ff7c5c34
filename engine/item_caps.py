"""How much outside text one item keeps: titles, descriptions and metadata cut to sane sizes.

Every transition of an item is saved, and its metadata lands in the session store, the manifest,
items.csv and the Markdown note; a 50 MB cell in a list once made a 100 MB sessions.db. What is
cut says so, with a marker naming how much was left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

TITLE_CHARS = 1_000
TEXT_CHARS = 20_000  # a long video description is about 5,000 characters
KEY_CHARS = 200
LIST_ITEMS = 2_000  # tags, chapters
MAP_ITEMS = 200  # spreadsheet columns kept per row
DEPTH = 6


def cap_text(text: str, limit: int = TEXT_CHARS) -> str:
    """text, or its first part with a marker saying how much was cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [{len(text) - limit:,} more characters cut]"


def cap_title(title: str | None) -> str | None:
    return None if title is None else cap_text(title, TITLE_CHARS)


def cap_value(value: Any, depth: int = 0) -> Any:
    """A copy of a JSON-like value with every string, list and mapping within its limits."""
    if isinstance(value, str):
        return cap_text(value)
    if depth >= DEPTH and isinstance(value, Mapping | list | tuple):
        return cap_text(repr(value), 200)
    if isinstance(value, Mapping):
        items = list(value.items())
        capped = {
            cap_text(str(k), KEY_CHARS): cap_value(v, depth + 1) for k, v in items[:MAP_ITEMS]
        }
        if len(items) > MAP_ITEMS:
            capped["…"] = f"{len(items) - MAP_ITEMS:,} more fields cut"
        return capped
    if isinstance(value, list | tuple):
        kept = [cap_value(v, depth + 1) for v in value[:LIST_ITEMS]]
        return tuple(kept) if isinstance(value, tuple) else kept
    return value


def cap_meta(meta: Mapping[str, Any]) -> dict[str, Any]:
    capped = cap_value(meta)
    assert isinstance(capped, dict)
    return capped
