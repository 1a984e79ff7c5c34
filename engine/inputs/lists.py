"""Plain lists of links and paths: .txt/.list files, stdin, and JSON lists."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.errors import UsageError
from engine.inputs.columns import plan_columns, row_source
from engine.inputs.source import Place, Source, entry_source, invalid_source

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_LIST_HINT = "check the path, or pass links directly as arguments"


def read_bytes(path: Path, place: Place) -> bytes:
    """The whole list file, or a UsageError naming it and saying why it cannot be read."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"list file not found: {place.label}", hint=_LIST_HINT) from None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise UsageError(
            f"cannot read list file {place.label}: {reason}", hint=_LIST_HINT
        ) from None


def decode_text(data: bytes) -> str:
    """Decode as UTF-16 when it says so, else UTF-8 (BOM or not), then Windows-1252, then Latin-1."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")  # every byte is valid Latin-1, so this always succeeds


def line_sources(text: str, place: Place) -> list[Source]:
    """One source per non-blank line; lines starting with '#' are comments."""
    sources = []
    for number, line in enumerate(_LINE_BREAK.split(text.removeprefix("\ufeff")), 1):
        entry = line.strip()
        # Only whole-line comments: a '#' later in the line may be a URL fragment.
        if entry and not entry.startswith("#"):
            sources.append(entry_source(entry, place, number))
    return sources


def read_text_list(
    path: Path, place: Place, columns: Mapping[str, str] | None = None
) -> list[Source]:
    return line_sources(decode_text(read_bytes(path, place)), place)


def read_json_list(
    path: Path, place: Place, columns: Mapping[str, str] | None = None
) -> list[Source]:
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
        source = _item_source(item, place, number, columns)
        if source is not None:
            sources.append(source)
    return sources


def _item_source(
    item: Any, place: Place, number: int, columns: Mapping[str, str] | None
) -> Source | None:
    broken = _unpaired_surrogate(item)
    if broken is not None:
        # JSON allows "\\ud800" on its own, but it is no character: nothing can store or print it.
        shown = json.dumps(item)[:80]
        reason = f"{broken} holds an unpaired surrogate (not valid Unicode); fix the text"
        return invalid_source(shown, place, number, reason)
    if isinstance(item, str):
        return entry_source(item.strip(), place, number) if item.strip() else None
    if isinstance(item, dict):
        keys = [str(key) for key in item]
        plan = plan_columns(keys, columns, label=place.label, strict=False)
        return row_source([_json_text(v) for v in item.values()], plan, place, number)
    shown = json.dumps(item)[:80]
    reason = f'expected a link (text) or an object with a "url" field, found {_json_type(item)}'
    return invalid_source(shown, place, number, reason)


def _unpaired_surrogate(item: Any) -> str | None:
    """Which part of a JSON entry holds a lone surrogate ("the title", "the entry"), if any."""
    if isinstance(item, str):
        return "the entry" if _has_surrogate(item) else None
    if isinstance(item, dict):
        for key, value in item.items():
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            if _has_surrogate(str(key)) or _has_surrogate(text):
                return f"the field {json.dumps(key)}"
    return None


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _json_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False)


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "text", bool: "true/false", type(None): "null"}
    return names.get(type(value), "a number")
