"""Map table headers (or JSON object keys) to source fields, with synonyms and user overrides."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from engine.errors import UsageError
from engine.inputs.source import Place, Source, entry_source, invalid_source

FIELDS = ("url", "title", "description", "type")

# Compared after normalise_header, so "YouTube URL", "youtube_url" and "youtube-url" all match.
SYNONYMS: Mapping[str, tuple[str, ...]] = {
    "url": (
        "url",
        "youtube url",
        "video",
        "video url",
        "link",
        "mp3 url",
        "audio url",
        "episode url",
        "media url",
        "source",
        "path",
        "file",
    ),
    "title": ("title", "name", "episode", "episode title", "video title"),
    "description": ("description", "desc", "summary"),
    "type": ("source type", "type", "kind"),
}

_COLUMNS_HINT = "use --columns url=HEADER, e.g. --columns url=Link,title=Name"
_SEPARATORS = re.compile(r"[\s_\-]+")


def normalise_header(text: str) -> str:
    return _SEPARATORS.sub(" ", text.strip()).casefold()


def parse_columns(spec: str) -> dict[str, str]:
    """Parse ``url=Link,title=Name`` into ``{"url": "Link", "title": "Name"}``."""
    mapping: dict[str, str] = {}
    for part in spec.split(","):
        if not part.strip():
            continue
        field, sep, header = part.partition("=")
        field, header = field.strip().lower(), header.strip()
        if not sep or not header:
            raise UsageError(f"--columns: '{part.strip()}' is not FIELD=HEADER", hint=_COLUMNS_HINT)
        if field not in FIELDS:
            raise UsageError(
                f"--columns: unknown field '{field}' (known fields: {', '.join(FIELDS)})",
                hint=_COLUMNS_HINT,
            )
        if field in mapping:
            raise UsageError(f"--columns: field '{field}' is given twice", hint=_COLUMNS_HINT)
        mapping[field] = header
    if not mapping:
        raise UsageError("--columns is empty", hint=_COLUMNS_HINT)
    return mapping


@dataclass(frozen=True, slots=True)
class ColumnPlan:
    """Which column feeds which field, and the extras key for every other named column."""

    fields: Mapping[str, int]
    extras: tuple[tuple[int, str], ...]


def plan_columns(
    headers: Sequence[str],
    columns: Mapping[str, str] | None = None,
    *,
    label: str = "",
    strict: bool = True,
) -> ColumnPlan:
    """Decide the column for each field; with ``strict`` a named override must exist."""
    names = [normalise_header(h) for h in headers]
    fields: dict[str, int] = {}
    for field, header in (columns or {}).items():
        if field not in FIELDS:
            raise UsageError(f"unknown column field '{field}' (known fields: {', '.join(FIELDS)})")
        index = _first_free(names, normalise_header(header), fields)
        if index is not None:
            fields[field] = index
        elif strict:
            raise UsageError(
                f"{label}: no column named '{header}' (found: {describe_headers(headers)})",
                hint=_COLUMNS_HINT,
            )
    for field in FIELDS:
        for synonym in SYNONYMS[field] if field not in fields else ():
            index = _first_free(names, synonym, fields)
            if index is not None:
                fields[field] = index
                break
    return ColumnPlan(fields, _extras_keys(headers, names, fields))


def describe_headers(headers: Sequence[str]) -> str:
    named = [f"'{h.strip()}'" for h in headers if h.strip()]
    shown = ", ".join(named[:12]) + (f" and {len(named) - 12} more" if len(named) > 12 else "")
    return shown or "no named columns"


def row_source(cells: Sequence[str], plan: ColumnPlan, place: Place, row: int) -> Source | None:
    """One table row (or JSON object) as a Source; None for a row with nothing in it."""
    if not any(cell.strip() for cell in cells):
        return None

    def cell(index: int | None) -> str:
        return cells[index] if index is not None and index < len(cells) else ""

    url = cell(plan.fields.get("url")).strip()
    title = cell(plan.fields.get("title")).strip() or None
    extras = {key: cell(index) for index, key in plan.extras}
    if not url:
        raw = " | ".join(c.strip() for c in cells if c.strip())
        return invalid_source(raw, place, row, "no URL or path", title=title, extras=extras)
    return entry_source(url, place, row, title=title, extras=extras)


def _first_free(names: Sequence[str], wanted: str, taken: Mapping[str, int]) -> int | None:
    used = set(taken.values())
    return next((i for i, n in enumerate(names) if n == wanted and i not in used), None)


def _extras_keys(
    headers: Sequence[str], names: Sequence[str], fields: Mapping[str, int]
) -> tuple[tuple[int, str], ...]:
    by_index = {index: field for field, index in fields.items()}
    seen: Counter[str] = Counter()
    used: set[str] = set()
    keys: list[tuple[int, str]] = []
    for index, header in enumerate(headers):
        header = header.strip()
        if not header:
            continue
        seen[names[index]] += 1
        field = by_index.get(index)
        if field in ("url", "title"):
            continue
        # Description and type have no Source field of their own, so they travel in extras
        # under a stable name; a repeated header is told apart by its occurrence number.
        key = field or (header if seen[names[index]] == 1 else f"{header} ({seen[names[index]]})")
        base, n = key, 1
        while key in used:
            n += 1
            key = f"{base} ({n})"
        used.add(key)
        keys.append((index, key))
    return tuple(keys)
