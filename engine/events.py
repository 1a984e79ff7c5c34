"""Event kinds and what each one means to its readers: kept in the session, shown as it happens, coloured."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType


class EventKind(StrEnum):
    """Every kind of lifecycle event. The value is what sessions store and export.

    ``persist``: kept in the session's event log. ``notify``: printed as it happens by a headless
    run. ``alert``: needs the person (a problem to fix, a batch to collect), so the app raises a
    message for it. ``style``: the colour word readers show its name in ("" for plain).
    """

    BLOCKED = "blocked"
    FAILED = "failed"
    RATE_LIMITED = "429"
    RETRY = "retry"
    RECHUNK = "rechunk"
    PLAYLIST = "playlist"
    WORKERS = "workers"
    RATE = "rate"
    PAUSE = "pause"
    FINISHED = "finished"
    NO_SPEECH = "no-speech"
    STORE = "store"
    DAILY_LIMIT = "daily-limit"
    BALANCE = "balance"
    CAPTIONS = "captions"
    HOST = "host"  # a distributed batch's host lost or back
    OFFLINE = "offline"
    ONLINE = "online"
    LEARNT = "learnt"
    FORMAT = "format"
    METADATA = "metadata"
    PATH = "path"

    @property
    def persist(self) -> bool:
        return _FLAGS[self].persist

    @property
    def notify(self) -> bool:
        return _FLAGS[self].notify

    @property
    def alert(self) -> bool:
        return _FLAGS[self].alert

    @property
    def style(self) -> str:
        return _FLAGS[self].style

    @classmethod
    def read(cls, value: str) -> EventKind | None:
        """The kind a stored or exported session names, or None for one this version does not know."""
        try:
            return cls(value)
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class Flags:
    persist: bool = False
    notify: bool = False
    style: str = ""
    alert: bool = False


_K = EventKind
_FLAGS: Mapping[EventKind, Flags] = MappingProxyType(
    {
        _K.BLOCKED: Flags(persist=True, alert=True),
        _K.FAILED: Flags(persist=True, notify=True, style="red"),
        _K.RATE_LIMITED: Flags(persist=True, notify=True, style="yellow"),
        _K.RETRY: Flags(persist=True, notify=True, style="yellow"),
        _K.RECHUNK: Flags(persist=True, notify=True),
        _K.PLAYLIST: Flags(persist=True, notify=True),
        _K.WORKERS: Flags(persist=True, style="cyan"),
        _K.RATE: Flags(persist=True, style="cyan"),
        _K.PAUSE: Flags(persist=True),
        _K.FINISHED: Flags(persist=True, style="green", alert=True),
        _K.NO_SPEECH: Flags(persist=True, notify=True),
        _K.STORE: Flags(persist=True),
        _K.DAILY_LIMIT: Flags(persist=True, notify=True),
        _K.BALANCE: Flags(persist=True, notify=True),
        _K.CAPTIONS: Flags(notify=True),
        _K.HOST: Flags(notify=True),
        _K.OFFLINE: Flags(),
        _K.ONLINE: Flags(),
        _K.LEARNT: Flags(),
        _K.FORMAT: Flags(),
        _K.METADATA: Flags(),
        _K.PATH: Flags(),
    }
)


@dataclass(frozen=True, slots=True)
class Event:
    """A rare lifecycle event: retries, 429 back-offs, failures, mode changes, pool resizes.

    A kind given as its string value is read as that EventKind; an unknown one raises ValueError.
    """

    t: float
    kind: EventKind
    text: str
    item_id: int | None = None
    delay: float | None = None  # a retry's back-off in seconds, so a reader can count it down

    def __post_init__(self) -> None:
        if not isinstance(self.kind, EventKind):
            object.__setattr__(self, "kind", EventKind(self.kind))
