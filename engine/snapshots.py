"""What readers see of the run: one worker, the engine's settings, the statistics, a pull's changes."""

from __future__ import annotations

from dataclasses import dataclass

from engine.events import Event
from engine.items import Item, State
from engine.limits.stats import LimiterStats


@dataclass(frozen=True, slots=True)
class WorkerView:
    """What one worker is doing right now."""

    id: int
    item_id: int | None = None
    stage: str | None = None
    waiting: bool = False
    since: float = 0.0
    retiring: bool = False


@dataclass(frozen=True, slots=True)
class EngineView:
    """Engine settings as readers should show them."""

    workers: int = 1
    parallel: bool = False
    last_parallel: int = 2
    paused: bool = False
    running: bool = False
    finished: bool = False
    order: str = "input"


@dataclass(frozen=True, slots=True)
class Stats:
    total: int
    counts: dict[str, int]
    items_per_min: float
    eta: float | None
    elapsed: float
    services: tuple[LimiterStats, ...]
    engine: EngineView
    throughput: tuple[int, ...] = ()

    @property
    def finished(self) -> int:
        return sum(
            self.counts.get(s.value, 0)
            for s in (State.DONE, State.FAILED, State.SKIPPED, State.CANCELLED)
        )

    def count(self, state: State) -> int:
        return self.counts.get(state.value, 0)


@dataclass(frozen=True, slots=True)
class Changes:
    items: tuple[Item, ...]
    events: tuple[Event, ...]
    workers: tuple[WorkerView, ...]
    stats: Stats
    dropped_events: int = 0
