"""Values as the database keeps them: JSON that keeps tuples, Items as rows, chunks' segments."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from engine.items import Item, State
from engine.redact import redact_text
from engine.segments import Segment, Word
from engine.storable import loaded_path, shown, stored_path
from sessions.schema import ITEM_COLUMNS

_TUPLE = "__tuple__"


def plain(value: Any) -> Any:
    """JSON-ready copy of a value; JSON has no tuples, so they are tagged to come back as tuples."""
    if isinstance(value, tuple):
        return {_TUPLE: [plain(v) for v in value]}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    return value


def revive(obj: dict[str, Any]) -> Any:
    """``json`` object hook that undoes ``plain``'s tuple tags."""
    if len(obj) == 1 and _TUPLE in obj:
        return tuple(obj[_TUPLE])
    return obj


def unplain(value: Any) -> Any:
    """Undo ``plain`` on data that was loaded without ``revive`` (an export file, say)."""
    if isinstance(value, list):
        return [unplain(v) for v in value]
    if isinstance(value, dict):
        return revive({k: unplain(v) for k, v in value.items()})
    return value


# Built once: json.dumps/loads with options would build a new coder on every call.
_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str).encode
_MAP_AT = tuple(ITEM_COLUMNS.index(name) for name in ("stage_times", "outputs", "meta"))
_PREVIEW_AT = ITEM_COLUMNS.index("preview")
_REDACTED_AT = tuple(ITEM_COLUMNS.index(name) for name in ("source", "title", "error", "meta"))
_LOCATION_AT = ITEM_COLUMNS.index("location")
_STATE_AT = ITEM_COLUMNS.index("state")


def dump_json(value: Any) -> str:
    """Compact JSON that keeps tuples; odd leaf values are saved as text rather than failing."""
    return _ENCODE(plain(value))


def load_json(text: str) -> Any:
    if text == "{}":
        return {}
    value = json.loads(text)
    return unplain(value) if _TUPLE in text else value


def item_record(item: Item) -> tuple[Any, ...]:
    """An Item's values in ITEM_COLUMNS order, ready for the items table."""
    values = [getattr(item, name) for name in ITEM_COLUMNS]
    for at in _MAP_AT:
        values[at] = dump_json(values[at]) if values[at] else "{}"
    values[_PREVIEW_AT] = _ENCODE(list(values[_PREVIEW_AT]))
    values[_STATE_AT] = values[_STATE_AT].value
    # No secret is stored: a signed link's token lives in memory for this run only.
    for at in _REDACTED_AT:
        if values[at]:
            values[at] = shown(redact_text(values[at]))
    # A file whose name is not UTF-8 must still be found on resume: its exact bytes are kept.
    values[_LOCATION_AT] = stored_path(redact_text(item.location)) if item.location else ""
    return tuple(values)


# Fields before the first JSON column are passed to Item positionally (Item's own order, which
# a test keeps equal to ITEM_COLUMNS); scalar fields after it go by name.
_POSITIONAL = ITEM_COLUMNS[: ITEM_COLUMNS.index("stage_times")]
_JSON_COLUMNS = ("stage_times", "outputs", "meta", "preview")
_BY_NAME = tuple(c for c in ITEM_COLUMNS if c not in _POSITIONAL and c not in _JSON_COLUMNS)
# SQLite joins the four JSON columns into one array, so loading an item costs one parse, not four.
ITEM_SELECT = (
    ", ".join(f'"{c}"' for c in (*_POSITIONAL, *_BY_NAME))
    + ", json_array(json(stage_times), json(outputs), json(meta), json(preview))"
)
_STATE_IN_ROW = _POSITIONAL.index("state")


def item_from_row(row: Sequence[Any]) -> Item:
    """Rebuild an Item from a row selected with ITEM_SELECT."""
    blob = row[-1]
    stage_times, outputs, meta, preview = json.loads(blob)
    if _TUPLE in blob:
        meta = unplain(meta)
    first = list(row[: len(_POSITIONAL)])
    first[_STATE_IN_ROW] = State(first[_STATE_IN_ROW])
    first[_LOCATION_AT] = loaded_path(first[_LOCATION_AT])
    rest: dict[str, Any] = dict(zip(_BY_NAME, row[len(_POSITIONAL) : -1], strict=True))
    rest["stage_times"] = MappingProxyType(stage_times)
    rest["outputs"] = MappingProxyType(outputs)
    rest["meta"] = MappingProxyType(meta)
    rest["preview"] = tuple(preview)
    return Item(*first, **rest)


def segments_json(segments: Sequence[Segment]) -> str:
    """Finished chunks' segments; word timings ride along as a fourth field when there are any,
    so a resumed item's chunks can still be aligned at their seams."""
    rows: list[list[Any]] = []
    for s in segments:
        row: list[Any] = [s.start, s.end, s.text]
        if s.words:
            row.append([[w.start, w.end, w.text] for w in s.words])
        rows.append(row)
    return json.dumps(rows, ensure_ascii=False)


def segments_from_json(text: str) -> list[Segment]:
    """Rows of three fields (written before word timings were kept) or four."""
    return [
        Segment(
            float(row[0]),
            float(row[1]),
            str(row[2]),
            tuple(Word(float(a), float(b), str(t)) for a, b, t in row[3]) if len(row) > 3 else (),
        )
        for row in json.loads(text)
    ]
