"""Event kinds and what each one means to its readers: kept in the session, shown as it happens, coloured."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class EventKind(StrEnum):
    """Every kind of lifecycle event. The value is what sessions store and export.

    ``persist``: kept in the session's event log. ``notify``: printed as it happens by a headless
    run. ``alert``: needs the person (a problem to fix, a batch to collect), so the app raises a
    message for it. ``style``: the colour word readers show its name in ("" for plain).
    """

    persist: bool
    notify: bool
    alert: bool
    style: str

    def __new__(
        cls, value: str, persist: bool, notify: bool, style: str = "", alert: bool = False
    ) -> EventKind:
        member = str.__new__(cls, value)
        member._value_ = value
        member.persist = persist
        member.notify = notify
        member.alert = alert
        member.style = style
        return member

    #                         persist notify  style
    BLOCKED = "blocked", True, False, "", True
    FAILED = "failed", True, True, "red"
    RATE_LIMITED = "429", True, True, "yellow"
    RETRY = "retry", True, True, "yellow"
    RECHUNK = "rechunk", True, True
    PLAYLIST = "playlist", True, True
    WORKERS = "workers", True, False, "cyan"
    RATE = "rate", True, False, "cyan"
    PAUSE = "pause", True, False
    FINISHED = "finished", True, False, "green", True
    NO_SPEECH = "no-speech", True, True
    STORE = "store", True, False
    DAILY_LIMIT = "daily-limit", True, True
    BALANCE = "balance", True, True
    CAPTIONS = "captions", False, True
    HOST = "host", False, True  # a distributed batch's host lost or back
    OFFLINE = "offline", False, False
    ONLINE = "online", False, False
    LEARNT = "learnt", False, False
    FORMAT = "format", False, False
    METADATA = "metadata", False, False
    PATH = "path", False, False

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
