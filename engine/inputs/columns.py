"""Map table headers (or JSON object keys) to source fields, with synonyms and user overrides."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from engine.errors import UsageError
from engine.inputs.cells import best_fallback, count_links, is_media_path, split_links
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
    "title": (
        "title",
        "name",
        "episode",
        "episode title",
        "video title",
        # The same header in the languages lists are most often kept in.
        "título",
        "titulo",
        "nombre",
        "titre",
        "titel",
        "titolo",
        "название",
        "заголовок",
    ),
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
    headers: tuple[str, ...] = ()
    forced: frozenset[str] = frozenset()  # fields named with --columns: never second-guessed

    def header(self, index: int) -> str:
        name = self.headers[index].strip() if index < len(self.headers) else ""
        return name or f"column {index + 1}"


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
    return ColumnPlan(
        fields, _extras_keys(headers, names, fields), tuple(headers), frozenset(columns or ())
    )


def choose_url_by_content(
    plan: ColumnPlan, rows: Sequence[Sequence[str]]
) -> tuple[ColumnPlan, str | None]:
    """Take as URL column the one with the most link or path cells, and say which it is.

    Headers mislead: an empty "youtube URL" column must not beat a filled "desktop_mp4 URL"
    one, and "Видео" or "Enlace" name a link column in words no synonym list can hold.
    """
    if "url" in plan.forced or not plan.headers:
        return plan, None
    counts = count_links(rows, len(plan.headers))
    current = plan.fields.get("url")
    best = max(
        range(len(counts)),
        key=lambda i: (counts[i], i == current, -i),
        default=None,
    )
    if best is None or counts[best] == 0:
        return plan, None
    if best != current:
        fields = {f: i for f, i in plan.fields.items() if i != best and f != "url"}
        fields["url"] = best
        names = [normalise_header(h) for h in plan.headers]
        plan = ColumnPlan(
            fields, _extras_keys(plan.headers, names, fields), plan.headers, plan.forced
        )
    return plan, f"links from column '{plan.header(best)}' ({counts[best]} of {len(rows)} rows)"


def describe_headers(headers: Sequence[str]) -> str:
    named = [f"'{h.strip()}'" for h in headers if h.strip()]
    shown = ", ".join(named[:12]) + (f" and {len(named) - 12} more" if len(named) > 12 else "")
    return shown or "no named columns"


def row_sources(cells: Sequence[str], plan: ColumnPlan, place: Place, row: int) -> list[Source]:
    """One table row (or JSON object) as Sources: none for an empty row, one per link in its cell.

    When the URL cell is empty the row's next link-bearing cell is used (a direct media link
    before a web page), and the Source says so in its notes.
    """
    if not any(cell.strip() for cell in cells):
        return []

    def cell(index: int | None) -> str:
        return cells[index] if index is not None and index < len(cells) else ""

    url_index = plan.fields.get("url")
    title = cell(plan.fields.get("title")).strip() or None
    extras = {key: cell(index) for index, key in plan.extras}
    notes: tuple[str, ...] = ()
    if not cell(url_index).strip():
        other = best_fallback(list(cells), -1 if url_index is None else url_index)
        if other is not None and url_index is None:
            url_index = other  # an object without a "url" key: its one link-bearing value
        elif other is not None and url_index is not None:
            kind = "media link" if is_media_path(cells[other].strip()) else "link"
            notes = (
                f"{place.where(row)}: column '{plan.header(url_index)}' is empty; "
                f"took the {kind} in column '{plan.header(other)}'",
            )
            url_index = other
    if url_index is not None:
        # A cell that gave the link is not also a property (a slid row's "Description" link).
        extras = {key: cell(index) for index, key in plan.extras if index != url_index}
    links = split_links(cell(url_index))
    if not links:
        raw = " | ".join(c.strip() for c in cells if c.strip())
        return [invalid_source(raw, place, row, "no URL or path", title=title, extras=extras)]
    column = plan.header(url_index) if url_index is not None and plan.headers else None
    return [
        entry_source(link, place, row, title=title, extras=extras, column=column, notes=notes)
        for link in links
    ]


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
