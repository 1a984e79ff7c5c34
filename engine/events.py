"""Event kinds and what each one means to its readers: kept in the session, shown as it happens, coloured."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class Flags:
    """What an event kind means to its readers (see EventKind)."""

    persist: bool = False
    notify: bool = False
    style: str = ""
    alert: bool = False


_PLAIN = Flags()


class EventKind(StrEnum):
    """Every kind of lifecycle event. The value is what sessions store and export.

    Each kind names its flags beside its value. ``persist``: kept in the session's event log.
    ``notify``: printed as it happens by a headless run. ``alert``: needs the person (a problem to
    fix, a batch to collect), so the app raises a message for it. ``style``: the colour word readers
    show its name in ("" for plain).
    """

    _value_: str
    persist: bool
    notify: bool
    alert: bool
    style: str

    def __new__(cls, value: str, flags: Flags = _PLAIN) -> EventKind:
        kind = str.__new__(cls, value)
        kind._value_ = value
        kind.persist = flags.persist
        kind.notify = flags.notify
        kind.alert = flags.alert
        kind.style = flags.style
        return kind

    BLOCKED = "blocked", Flags(persist=True, alert=True)
    FAILED = "failed", Flags(persist=True, notify=True, style="red")
    RATE_LIMITED = "429", Flags(persist=True, notify=True, style="yellow")
    RETRY = "retry", Flags(persist=True, notify=True, style="yellow")
    RECHUNK = "rechunk", Flags(persist=True, notify=True)
    PLAYLIST = "playlist", Flags(persist=True, notify=True)
    WORKERS = "workers", Flags(persist=True, style="cyan")
    RATE = "rate", Flags(persist=True, style="cyan")
    PAUSE = "pause", Flags(persist=True)
    FINISHED = "finished", Flags(persist=True, style="green", alert=True)
    NO_SPEECH = "no-speech", Flags(persist=True, notify=True)
    STORE = "store", Flags(persist=True)
    DAILY_LIMIT = "daily-limit", Flags(persist=True, notify=True)
    BALANCE = "balance", Flags(persist=True, notify=True)
    CAPTIONS = "captions", Flags(notify=True)
    HOST = "host", Flags(notify=True)  # a distributed batch's host lost or back
    OFFLINE = "offline"
    ONLINE = "online"
    LEARNT = "learnt"
    FORMAT = "format"
    METADATA = "metadata"
    PATH = "path"

    @classmethod
    def read(cls, value: str) -> EventKind | None:
        """The kind a stored or exported session names, or None for one this version does not know."""
        try:
            return cls(value)
        except ValueError:
            return None


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
