"""What the session store hands out and takes in: session info, events, chunks, ids, no secrets."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

from engine.errors import UsageError
from engine.items import TERMINAL, State
from engine.redact import redact_text
from engine.segments import Segment
from sessions import codec

STATUSES = ("running", "paused", "finished", "cancelled")
# Any settings key containing one of these words is dropped before it reaches the disk.
SECRET_WORDS = ("api_key", "key", "token", "password", "secret", "authorization")
_KEPT_NAMES = frozenset({"api_key_source"})  # says where a key came from, never the key
Chunk = tuple[float, float, list[Segment], str | None]
SESSION_COLUMNS = "id, name, created, updated, status, inputs, settings, output_dir, totals"


def new_session_id(now: float | None = None) -> str:
    """Short, sortable by creation time, and unique enough: ``20261128-153012-ab12``."""
    stamp = datetime.fromtimestamp(time.time() if now is None else now)
    return f"{stamp:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def scrub_secrets(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Settings without anything that looks like a secret, at any depth."""
    clean: dict[str, Any] = {}
    for key, value in settings.items():
        name = str(key).lower()
        if name not in _KEPT_NAMES and any(word in name for word in SECRET_WORDS):
            continue
        if isinstance(value, Mapping):
            value = scrub_secrets(value)
        elif isinstance(value, str):
            value = redact_text(value)  # a URL setting keeps its place, minus its password
        clean[str(key)] = value
    return clean


@dataclass(frozen=True)
class SessionInfo:
    """What the session list and the resume prompt show about one session."""

    id: str
    name: str
    created: datetime
    updated: datetime
    status: str
    counts: Mapping[str, int]
    total: int
    output_dir: str
    settings: Mapping[str, Any]
    inputs: tuple[str, ...]
    totals: Mapping[str, Any]

    def count(self, state: State) -> int:
        return self.counts.get(state.value, 0)

    @property
    def finished_items(self) -> int:
        return sum(self.count(s) for s in TERMINAL)

    @property
    def resumable(self) -> bool:
        return self.status in ("running", "paused") and self.finished_items < self.total


@dataclass(frozen=True, slots=True)
class SessionEvent:
    t: float
    kind: str
    text: str


def _stamp(ts: float) -> datetime:
    return datetime.fromtimestamp(ts).astimezone()


def session_info(row: Sequence[Any], counts: Mapping[str, int]) -> SessionInfo:
    """A row of the sessions table (SESSION_COLUMNS) and its items' counts by state."""
    sid, name, created, updated, status, inputs, settings, output_dir, totals = row
    return SessionInfo(
        id=sid,
        name=name,
        created=_stamp(created),
        updated=_stamp(updated),
        status=status,
        counts=MappingProxyType(dict(counts)),
        total=sum(counts.values()),
        output_dir=output_dir,
        settings=MappingProxyType(codec.load_json(settings)),
        inputs=tuple(json.loads(inputs)),
        totals=MappingProxyType(codec.load_json(totals)),
    )


def unknown_session(session_id: str) -> UsageError:
    return UsageError(f"no session {session_id}; see 'bulkscribe sessions list'")
