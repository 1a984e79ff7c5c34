"""The window bookkeeping a limiter grants from: one interface, an in-memory and a Redis back end."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from engine.limits.history import Entry
from engine.limits.pacing import Rules
from engine.limits.ratespec import RateRule


@dataclass(frozen=True, slots=True)
class Admission:
    """One answer of a back end: admitted (with a token for ``sent``), or how long to wait."""

    admitted: bool
    wait: float
    token: object = None
    # A shared quota's rate factor and guard when 429s elsewhere moved them since its last answer
    # (1.0 and 0.0 when not); factor None for a back end of one process.
    factor: float | None = None
    guard: float = 0.0


class Windows(Protocol):
    """Sliding windows per pool: admit a permit under every rule at once, or say how long to wait."""

    # True when ``admit`` is a round trip, made outside the limiter's lock.
    remote: bool

    def admit(
        self, pool: str, rules: Callable[[], Rules], factor: float, guard: float, now: float
    ) -> Admission:
        """Take one permit from ``pool`` under every window ``rules()`` names (asked only when needed).

        ``factor`` and ``guard`` are the limiter's own, for a back end that shares them.
        """
        ...

    def sent(self, pool: str, entry: Entry, token: object) -> None:
        """The permit's request left: count it from now."""
        ...

    def reset(self) -> None:
        """The rules changed: rebuild the pools from the permit log on their next use."""
        ...

    def recent(
        self, rules: Sequence[RateRule], cap: Callable[[RateRule], float]
    ) -> list[int] | None:
        """Everyone's permits per rule when others share the windows; None to count our own log."""
        ...

    def throttle(self, pause: float, factor: float, guard: float) -> None:
        """Tell everyone on the windows of a 429: pause, slow down, widen the guard."""
        ...

    def offline(self, seconds: float) -> None:
        """The service is unreachable: everyone on the windows holds off for ``seconds``."""
        ...

    def online(self) -> None:
        """The service answered: lift any hold ``offline`` set."""
        ...

    @property
    def state(self) -> str:
        """A short phrase when the back end itself holds permits back, else ""."""
        ...

    def stats(self) -> dict[str, Any]: ...
