"""Sessions as portable JSON: export one session whole, import it into any store."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

from engine.errors import UsageError
from engine.items import Item, State
from engine.segments import Segment
from sessions import codec, schema
from sessions.store import STATUSES, Chunk, SessionEvent, SessionInfo, Store

FORMAT = "bulkscribe-session"
FORMAT_VERSION = 1
_MAPS = ("stage_times", "outputs", "meta")


def export_session(store: Store, session_id: str) -> dict[str, Any]:
    """Everything about one session (id or unique prefix) as JSON-safe data."""
    info = store.session(session_id)
    chunks = store.load_all_chunks(info.id)
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "exported": datetime.now().astimezone().isoformat(),
        "session": {
            "id": info.id,
            "name": info.name,
            "created": info.created.isoformat(),
            "updated": info.updated.isoformat(),
            "status": info.status,
            "inputs": list(info.inputs),
            "settings": codec.plain(info.settings),
            "output_dir": info.output_dir,
            "totals": codec.plain(info.totals),
        },
        "items": [_item_data(item) for item in store.load_items(info.id)],
        "chunks": [
            {
                "item_id": item_id,
                "idx": idx,
                "start": start,
                "end": end,
                "language": language,
                "segments": [[s.start, s.end, s.text] for s in segments],
            }
            for item_id, by_idx in chunks.items()
            for idx, (start, end, segments, language) in by_idx.items()
        ],
        "events": [{"t": e.t, "kind": e.kind, "text": e.text} for e in store.load_events(info.id)],
    }


def import_session(store: Store, data: Mapping[str, Any]) -> str:
    """Add an exported session to ``store``; returns its id (a new one if the old id is taken)."""
    if not isinstance(data, Mapping) or data.get("format") != FORMAT:
        raise UsageError(
            "this is not a bulkscribe session export",
            hint="make one with 'bulkscribe sessions export ID --json FILE'",
        )
    version = data.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise UsageError(f"the export has no valid format version ({version!r})")
    if version > FORMAT_VERSION:
        raise UsageError(
            f"the export was made by a newer bulkscribe (format {version}; "
            f"this one reads up to {FORMAT_VERSION})",
            hint="upgrade bulkscribe to import it",
        )
    try:
        info = _session_info(data["session"])
        items = [_item_from_data(d) for d in data["items"]]
        chunks = [_chunk_from_data(d) for d in data["chunks"]]
        events = [
            SessionEvent(float(d["t"]), str(d["kind"]), str(d["text"])) for d in data["events"]
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(
            f"the export file is damaged ({type(exc).__name__}: {exc})",
            hint="export the session again",
        ) from None
    return store.restore(info, items, chunks, events)


def read_export(path: Path) -> dict[str, Any]:
    """Load an export file, with errors a person can act on."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise UsageError(f"no such file: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"cannot read {path} as JSON: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path} is not a bulkscribe session export")
    return data


def write_export(data: Mapping[str, Any], path: Path) -> None:
    """Write atomically: a crash leaves either the old file or the whole new one."""
    path = path.expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _item_data(item: Item) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name in schema.ITEM_COLUMNS:
        value = getattr(item, name)
        if name in _MAPS:
            value = codec.plain(value)
        elif name == "preview":
            value = list(value)
        elif name == "state":
            value = value.value
        data[name] = value
    return data


def _item_from_data(data: Mapping[str, Any]) -> Item:
    fields = {name: data[name] for name in schema.ITEM_COLUMNS if name in data}
    for name in _MAPS:
        if name in fields:
            fields[name] = MappingProxyType(dict(codec.unplain(fields[name])))
    fields["preview"] = tuple(str(line) for line in fields.get("preview", ()))
    fields["state"] = State(fields.get("state", State.QUEUED))
    return Item(**fields)


def _chunk_from_data(data: Mapping[str, Any]) -> tuple[int, int, Chunk]:
    segments = [Segment(float(a), float(b), str(t)) for a, b, t in data["segments"]]
    chunk: Chunk = (float(data["start"]), float(data["end"]), segments, data.get("language"))
    return int(data["item_id"]), int(data["idx"]), chunk


def _session_info(data: Mapping[str, Any]) -> SessionInfo:
    if data["status"] not in STATUSES:
        raise ValueError(f"unknown session status {data['status']!r}")
    return SessionInfo(
        id=str(data["id"]),
        name=str(data["name"]),
        created=datetime.fromisoformat(data["created"]),
        updated=datetime.fromisoformat(data["updated"]),
        status=str(data["status"]),
        counts=MappingProxyType({}),
        total=0,
        output_dir=str(data["output_dir"]),
        settings=MappingProxyType(dict(codec.unplain(data.get("settings") or {}))),
        inputs=tuple(str(i) for i in data["inputs"]),
        totals=MappingProxyType(dict(codec.unplain(data.get("totals") or {}))),
    )
