"""The engine's run state: where it is in its life (phase) and whether it holds new work back (hold)."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType


class Phase(StrEnum):
    IDLE = "idle"  # built, not started
    RUNNING = "running"
    DRAINING = "draining"  # nothing new starts; the workers exit once running items finish
    STOPPED = "stopped"  # stopped or drained; start() carries on with the queue

    @property
    def live(self) -> bool:
        """Workers are (or may be) taking work."""
        return self in (Phase.RUNNING, Phase.DRAINING)


class Hold(StrEnum):
    NONE = "none"
    PAUSED = "paused"  # by the person: running items finish, nothing new starts
    BLOCKED = "blocked"  # by the engine: a problem every item would meet (bad key, full store)


# Which phases each engine verb may move from; any other call leaves the phase as it is.
PHASES: Mapping[str, tuple[frozenset[Phase], Phase]] = MappingProxyType(
    {
        "start": (frozenset({Phase.IDLE, Phase.STOPPED}), Phase.RUNNING),
        "drain": (frozenset({Phase.RUNNING}), Phase.DRAINING),
        "drained": (frozenset({Phase.DRAINING}), Phase.STOPPED),
        "stop": (frozenset(Phase), Phase.STOPPED),
    }
)


def moved(phase: Phase, verb: str) -> Phase:
    """The phase after ``verb``, or the same phase when the verb does not apply to it."""
    allowed, to = PHASES[verb]
    return to if phase in allowed else phase
