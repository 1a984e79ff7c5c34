"""What travels through Redis: key names, items as stream fields, finished transcripts as JSON."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.items import Item
from engine.segments import Segment, Word

PREFIX = "bulkscribe:dist"
LATEST = f"{PREFIX}:latest"
GROUP = "workers"  # consumer group of the items streams
COORDINATOR_GROUP = "coordinator"  # consumer group of the events stream
COORDINATOR = "coordinator"  # the coordinator's one consumer name, the same after a restart


@dataclass(frozen=True, slots=True)
class Keys:
    """The Redis keys of one distributed session."""

    session: str

    def _key(self, name: str) -> str:
        return f"{PREFIX}:{self.session}:{name}"

    @property
    def items(self) -> str:  # items any worker may take
        return self._key("items")

    @property
    def local(self) -> str:  # items only the coordinator's host can read
        return self._key("local")

    @property
    def events(self) -> str:  # state changes and results, read by the coordinator
        return self._key("events")

    @property
    def control(self) -> str:  # pause, resume, drain, cancel, retry; read by every worker
        return self._key("control")

    @property
    def done(self) -> str:  # item id -> the worker whose terminal outcome was accepted
        return self._key("done")

    @property
    def published(self) -> str:  # item id -> stream entry, so a resume never publishes twice
        return self._key("published")

    @property
    def workers(self) -> str:  # consumer -> heartbeat JSON (host, pid, threads, time)
        return self._key("workers")

    @property
    def settings(self) -> str:  # the session's saved settings (no secrets), for workers
        return self._key("settings")

    @property
    def status(self) -> str:  # running | finished
        return self._key("status")

    def chunks(self, item_id: int) -> str:  # chunk index -> finished chunk (segments)
        return self._key(f"chunks:{item_id}")

    def requests(self, item_id: int) -> str:  # part -> a service's job id (deAPI), for a redo
        return self._key(f"requests:{item_id}")


def host_name() -> str:
    return os.environ.get("BULKSCRIBE_HOST") or socket.gethostname()


def item_fields(item: Item, host: str) -> dict[str, str]:
    """An item as a stream entry: what a worker needs to run it, nothing of its state."""
    data = {
        "id": item.id,
        "source": item.source,
        "kind": item.kind,
        "location": item.location,
        "row": item.row,
        "origin": item.origin,
        "title": item.title,
        "duration": item.duration,
        "meta": dict(item.meta),
    }
    size = None
    if item.kind == "file":
        try:
            size = os.path.getsize(item.location)
        except OSError:
            size = None
    return {"item": json.dumps(data), "host": host, "size": json.dumps(size)}


def item_from_fields(fields: Mapping[str, str]) -> tuple[int, Item, str, int | None]:
    data = json.loads(fields["item"])
    item = Item(
        -1,
        source=data["source"],
        kind=data["kind"],
        location=data["location"],
        row=data["row"],
        origin=data["origin"],
        title=data["title"],
        duration=data["duration"],
        meta=data["meta"] or {},
    )
    return int(data["id"]), item, fields.get("host", ""), json.loads(fields.get("size", "null"))


@dataclass(frozen=True, slots=True)
class Result:
    """A finished transcript as the worker made it; the coordinator writes the files from it."""

    title: str | None
    duration: float | None
    meta: Mapping[str, Any]
    segments: tuple[Segment, ...]
    method: str
    engine: str | None
    language: str | None
    approximate: bool

    def to_json(self) -> str:
        return json.dumps(
            {
                "title": self.title,
                "duration": self.duration,
                "meta": dict(self.meta),
                "segments": [_segment(s) for s in self.segments],
                "method": self.method,
                "engine": self.engine,
                "language": self.language,
                "approximate": self.approximate,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Result:
        data = json.loads(text)
        return cls(
            title=data["title"],
            duration=data["duration"],
            meta=data["meta"] or {},
            segments=tuple(
                Segment(s[0], s[1], s[2], tuple(Word(*w) for w in s[3])) for s in data["segments"]
            ),
            method=data["method"],
            engine=data["engine"],
            language=data["language"],
            approximate=bool(data["approximate"]),
        )


def _segment(s: Segment) -> list[Any]:
    return [s.start, s.end, s.text, [[w.start, w.end, w.text] for w in s.words]]


def path_mapped(location: str, path_map: Sequence[tuple[str, str]]) -> str:
    """The worker's own path for a coordinator's file (``--path-map /data=/mnt/data``)."""
    for theirs, mine in path_map:
        if location == theirs or location.startswith(theirs.rstrip("/") + "/"):
            return mine.rstrip("/") + location[len(theirs.rstrip("/")) :]
    return location


def can_read(same_host: bool, path: str, size: int | None) -> bool:
    """A coordinator's file is readable here: same host, or the same file (size) at ``path``."""
    if same_host:
        return True
    try:
        return os.path.isfile(path) and (size is None or os.path.getsize(path) == size)
    except OSError:
        return False
