"""A permit: proof of one admitted request, told when its request is on the wire."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Permit:
    """Proof of one admitted request; ``key`` is the pool it was drawn from.

    Call ``sent()`` once the request is on the wire: the limiter then counts it from that
    instant, the one the server's clock sees, rather than from the grant.
    """

    service: str
    key: str
    waited: float
    _on_sent: Callable[[], None] | None = field(default=None, repr=False, compare=False)

    def sent(self) -> None:
        if self._on_sent is not None:
            self._on_sent()
