"""Plain lists of links and paths: .txt/.list/.md files, stdin, and JSON lists."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.errors import UsageError
from engine.inputs.classify import MEDIA_EXTENSIONS, looks_like_url
from engine.inputs.columns import plan_columns, row_sources
from engine.inputs.reading import MAX_CELL_CHARS, MAX_LINE_CHARS, decode_text, read_bytes, shorten
from engine.inputs.source import Place, ReadOptions, Source, entry_source, invalid_source
from engine.storable import has_surrogates

__all__ = ["decode_text", "read_bytes"]  # tables read through the same guards

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# [title](target) but not ![image](target); the target ends at the first space or ")".
_MD_LINK = re.compile(r"(?<!!)\[([^\]\n]*)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_MD_IMAGE = re.compile(r"!\[[^\]\n]*\]\([^)\n]*\)")
_BARE_URL = re.compile(r"<?(https?://[^\s<>\[\]()\"']+)>?", re.IGNORECASE)
_TRAILING_PUNCTUATION = ".,;:!?"


def line_sources(text: str, place: Place) -> list[Source]:
    """One source per non-blank line; lines starting with '#' are comments."""
    sources = []
    for number, line in enumerate(_LINE_BREAK.split(text.removeprefix("\ufeff")), 1):
        entry = line.strip()
        # Only whole-line comments: a '#' later in the line may be a URL fragment.
        if not entry or entry.startswith("#"):
            continue
        if len(entry) > MAX_LINE_CHARS:
            sources.append(_long_line(entry, place, number))
            continue
        sources.append(entry_source(entry, place, number))
    return sources


def read_text_list(path: Path, place: Place, options: ReadOptions | None = None) -> list[Source]:
    """A plain list (.txt, .list): one link or path a line; each line is one source."""
    return line_sources(decode_text(read_bytes(path, place)), place)


def read_guessed_list(path: Path, place: Place, options: ReadOptions | None = None) -> list[Source]:
    """A text file without an extension read as a list; refused when no line is a link or path."""
    sources = read_text_list(path, place)
    if sources and not any(_looks_like_entry(s.raw, place) for s in sources):
        raise UsageError(
            f"{place.label} is text but not a list of links: expected one URL or path per line "
            f"(line {sources[0].row} reads '{shorten(sources[0].raw, 60)}')",
            hint="put one link or media file path on each line; lines starting with # are ignored",
        )
    return sources


def read_markdown_list(
    path: Path, place: Place, options: ReadOptions | None = None
) -> list[Source]:
    """Links in a Markdown file: ``[title](url)`` (the text becomes the title) and bare URLs."""
    text = decode_text(read_bytes(path, place))
    sources: list[Source] = []
    for number, line in enumerate(_LINE_BREAK.split(text.removeprefix("\ufeff")), 1):
        if len(line) > MAX_LINE_CHARS:
            sources.append(_long_line(line.strip(), place, number))
            continue
        for title, target in markdown_links(line):
            sources.append(entry_source(target, place, number, title=title))
    if not sources:
        raise UsageError(
            f"{place.label} has no links: expected Markdown links like [Title](https://...) "
            "or bare URLs",
            hint="or save the links as a .txt list, one a line",
        )
    return sources


def markdown_links(line: str) -> list[tuple[str | None, str]]:
    """(title or None, target) for each link in one Markdown line, in order."""
    found: list[tuple[int, str | None, str]] = []
    taken: list[tuple[int, int]] = []
    taken.extend(match.span() for match in _MD_IMAGE.finditer(line))
    for match in _MD_LINK.finditer(line):
        title = " ".join(match.group(1).split()) or None
        found.append((match.start(), title, match.group(2)))
        taken.append(match.span())
    for match in _BARE_URL.finditer(line):
        if any(a <= match.start() < b for a, b in taken):
            continue
        found.append((match.start(), None, match.group(1).rstrip(_TRAILING_PUNCTUATION)))
    return [(title, target) for _, title, target in sorted(found, key=lambda f: f[0])]


def _looks_like_entry(text: str, place: Place) -> bool:
    if looks_like_url(text) or Path(text).suffix.lower() in MEDIA_EXTENSIONS:
        return True
    if "/" in text or "\\" in text:
        return True
    try:
        return any((base / text).exists() for base in place.bases)
    except (OSError, ValueError):  # a NUL byte or a name too long for the file system
        return False


def _long_line(entry: str, place: Place, number: int) -> Source:
    reason = (
        f"entry is {len(entry) // 1024} KB long, over the {MAX_LINE_CHARS // 1024} KB limit "
        "for one line; check for a pasting mistake"
    )
    return invalid_source(shorten(entry), place, number, reason)


def read_json_list(path: Path, place: Place, options: ReadOptions | None = None) -> list[Source]:
    """A JSON list of strings, or of objects with url/path/link and optional title and extras."""
    text = decode_text(read_bytes(path, place))
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"{place.label} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
            hint="fix the file, or use a .txt list with one link per line",
        ) from None
    except RecursionError:
        raise UsageError(f"{place.label} is nested too deeply to read") from None
    if not isinstance(data, list):
        raise UsageError(
            f"{place.label} must hold a JSON list of links or objects, not {_json_type(data)}",
            hint='e.g. ["https://youtu.be/ID", {"url": "talk.mp3", "title": "Talk"}]',
        )
    sources = []
    for number, item in enumerate(data, 1):
        sources.extend(_item_sources(item, place, number, options.columns if options else None))
    return sources


def _item_sources(
    item: Any, place: Place, number: int, columns: Mapping[str, str] | None
) -> list[Source]:
    broken = _unpaired_surrogate(item)
    if broken is not None:
        # JSON allows "\\ud800" on its own, but it is no character: nothing can store or print it.
        shown = json.dumps(item)[:80]
        reason = f"{broken} holds an unpaired surrogate (not valid Unicode); fix the text"
        return [invalid_source(shown, place, number, reason)]
    if isinstance(item, str):
        if len(item) > MAX_LINE_CHARS:
            return [_long_line(item.strip(), place, number)]
        return [entry_source(item.strip(), place, number)] if item.strip() else []
    if isinstance(item, dict):
        values = [_json_text(v) for v in item.values()]
        if any(len(v) > MAX_CELL_CHARS for v in values):
            big = max(len(v) for v in values) // 1024
            reason = (
                f"a field holds {big} KB, over the {MAX_CELL_CHARS // 1024} KB limit for one field"
            )
            return [invalid_source(shorten(json.dumps(item)[:200]), place, number, reason)]
        keys = [str(key) for key in item]
        plan = plan_columns(keys, columns, label=place.label, strict=False)
        return row_sources([_json_text(v) for v in item.values()], plan, place, number)
    shown = json.dumps(item)[:80]
    reason = f'expected a link (text) or an object with a "url" field, found {_json_type(item)}'
    return [invalid_source(shown, place, number, reason)]


def _unpaired_surrogate(item: Any) -> str | None:
    """Which part of a JSON entry holds a lone surrogate ("the title", "the entry"), if any."""
    if isinstance(item, str):
        return "the entry" if has_surrogates(item) else None
    if isinstance(item, dict):
        for key, value in item.items():
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            if has_surrogates(str(key)) or has_surrogates(text):
                return f"the field {json.dumps(key)}"
    return None


def _json_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False)


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "text", bool: "true/false", type(None): "null"}
    return names.get(type(value), "a number")
