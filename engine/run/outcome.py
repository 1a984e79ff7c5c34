"""How an item's run ends, from what its work raised: done, failed, cancelled, or back to the queue."""

from __future__ import annotations

from dataclasses import dataclass

from engine import lifecycle
from engine.errors import Cancelled, describe
from engine.items import State
from engine.lifecycle import Transition


@dataclass(frozen=True, slots=True)
class Outcome:
    transition: Transition
    error_class: str | None = None
    error: str | None = None
    blocks: bool = False  # the error would meet every item: the engine pauses itself
    failed: bool = False  # worth an event of its own

    @property
    def facts(self) -> dict[str, str | None]:
        if self.transition.to is State.DONE:
            return {}
        if self.error is None and self.error_class is None:
            return {}
        if self.error_class is None:
            return {"error": self.error}
        return {"error_class": self.error_class, "error": self.error}


def outcome(error: BaseException | None, *, stopping: bool) -> Outcome:
    """``stopping``: the engine was stopped, so an interruption is not the item's fault."""
    if error is None:
        return Outcome(lifecycle.finish(State.DONE))
    if isinstance(error, Cancelled):
        if stopping:
            return Outcome(lifecycle.requeue())
        return Outcome(lifecycle.finish(State.CANCELLED), error=str(error))
    if isinstance(error, KeyboardInterrupt):
        # An interrupt is a stop, never the item's fault: back to the queue for a resume.
        return Outcome(lifecycle.requeue())
    kind, text, transient = describe(error)
    if stopping and transient:
        # A stop signal that reached a decoding process kills it mid-chunk; that is the stop's
        # doing, so the item waits for the resume instead of failing.
        return Outcome(lifecycle.requeue())
    if getattr(error, "blocks", False):
        # A bad key or an unwritable output folder would fail every item the same way: keep this
        # one queued, pause, and say so once.
        return Outcome(lifecycle.requeue(), kind, text, blocks=True)
    return Outcome(lifecycle.finish(State.FAILED), kind, text, failed=True)
