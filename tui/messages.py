"""App-wide messages: the engine events that need the person (EventKind.alert) as Textual Messages."""

from __future__ import annotations

from textual.message import Message

from engine.events import Event, EventKind


class EngineAlert(Message):
    """An engine event the person has to see: something to fix, or a batch to collect."""

    def __init__(self, event: Event, elapsed: float) -> None:
        super().__init__()
        self.event = event
        self.elapsed = elapsed  # the batch's elapsed time when the event was pulled

    @property
    def text(self) -> str:
        return self.event.text


class Blocked(EngineAlert):
    """The engine paused itself: a bad key or a full disk to fix, then resume."""


class BatchFinished(EngineAlert):
    """Every item has finished."""


ALERTS: dict[EventKind, type[EngineAlert]] = {
    EventKind.BLOCKED: Blocked,
    EventKind.FINISHED: BatchFinished,
}


def alert_for(event: Event, elapsed: float) -> EngineAlert | None:
    """The message for an event that needs the person, or None for one that does not."""
    if not event.kind.alert:
        return None
    return ALERTS[event.kind](event, elapsed)
