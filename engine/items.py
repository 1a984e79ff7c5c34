"""Items and their states: what the engine works on and what every consumer sees."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from operator import attrgetter
from types import MappingProxyType
from typing import Any


class State(StrEnum):
    """Lifecycle of an item. Terminal states never change without an explicit retry."""

    QUEUED = "queued"
    RUNNING = "running"
    WAITING = "waiting"  # waiting for a rate-limit permit
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL

    @property
    def active(self) -> bool:
        return self in (State.RUNNING, State.WAITING)


TERMINAL = frozenset({State.DONE, State.FAILED, State.SKIPPED, State.CANCELLED})

# Glyphs let state read without colour (NO_COLOR, screen readers, copy-paste).
GLYPH = {
    State.QUEUED: "·",
    State.RUNNING: "▶",
    State.WAITING: "⏳",
    State.DONE: "✓",
    State.FAILED: "✗",
    State.SKIPPED: "↷",
    State.CANCELLED: "⊘",
}

_EMPTY: Mapping[str, Any] = MappingProxyType({})


def _empty() -> Mapping[str, Any]:
    return _EMPTY


@dataclass(frozen=True, slots=True)
class Item:
    """The latest known state of one unit of work; replaced, never mutated.

    ``id`` is the item's position in its session and never changes.
    """

    id: int
    source: str
    kind: str = "file"
    location: str = ""
    row: int | None = None
    origin: str = ""
    title: str | None = None
    duration: float | None = None
    state: State = State.QUEUED
    stage: str | None = None
    attempts: int = 0
    error_class: str | None = None
    error: str | None = None
    worker: int | None = None
    method: str | None = None
    engine: str | None = None
    language: str | None = None
    chunks_total: int = 0
    chunks_done: int = 0
    queued_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    stage_times: Mapping[str, float] = field(default_factory=_empty)
    outputs: Mapping[str, str] = field(default_factory=_empty)
    meta: Mapping[str, Any] = field(default_factory=_empty)
    preview: tuple[str, ...] = ()
    version: int = 0

    @property
    def label(self) -> str:
        """What a person calls this item: its title once known, else its source."""
        return self.title or self.source

    @property
    def elapsed(self) -> float | None:
        if self.started_at is None:
            return None
        end = self.finished_at if self.finished_at is not None else time.time()
        return max(0.0, end - self.started_at)

    @property
    def progress(self) -> float | None:
        """Share of chunks finished, when the item has been cut into chunks."""
        if self.chunks_total <= 0:
            return 1.0 if self.state is State.DONE else None
        return self.chunks_done / self.chunks_total

    def evolve(self, **changes: Any) -> Item:
        """A copy with ``changes``; mappings are frozen on the way in, as everywhere on an Item.

        Every state change of every item makes one, so it is built field by field from the slots
        (about three times as fast as dataclasses.replace, which goes through ``__init__``).
        """
        values = list(_values(self))
        for key, value in changes.items():
            position = _POSITION.get(key)
            if position is None:
                raise TypeError(f"Item has no field {key!r}")
            if key in _MAPPINGS and not isinstance(value, MappingProxyType):
                value = MappingProxyType(dict(value))
            values[position] = value
        new = object.__new__(type(self))
        for put, value in zip(_SETTERS, values, strict=True):
            put(new, value)
        return new


_NAMES = tuple(f.name for f in fields(Item))
_POSITION = {name: position for position, name in enumerate(_NAMES)}
_values = attrgetter(*_NAMES)
# The slots' own descriptors: what a frozen dataclass's __init__ writes through, minus the call.
_SETTERS = tuple(getattr(Item, name).__set__ for name in _NAMES)
_MAPPINGS = frozenset({"stage_times", "outputs", "meta"})
