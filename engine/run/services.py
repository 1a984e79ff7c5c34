"""The engine's limiters by service name: which pool and which API key a worker uses, and its permits."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from engine.limiter import SHARED, Limiter, Permit


class Services:
    """Rate limits of the named services a run uses; a service without one is never held back."""

    def __init__(
        self, limiters: Iterable[Limiter], key_counts: dict[str, int] | None = None
    ) -> None:
        self.limiters = {limiter.service: limiter for limiter in limiters}
        self.key_counts = dict(key_counts or {})

    def get(self, service: str | None) -> Limiter | None:
        return None if service is None else self.limiters.get(service)

    def select(self, service: str | None) -> list[Limiter]:
        """Every limiter, or the named service's (KeyError for one without a limiter)."""
        if service is None:
            return list(self.limiters.values())
        return [self.limiters[service]]

    def acquire(
        self, service: str, worker: int, cancel: threading.Event, on_wait: Callable[[bool], None]
    ) -> Permit:
        limiter = self.limiters.get(service)
        if limiter is None:
            return Permit(service, SHARED, 0.0)
        return limiter.acquire(self.pool_key(service, worker), cancel=cancel, on_wait=on_wait)

    def throttle(self, service: str, retry_after: float | None) -> float | None:
        """Pause the service after a 429; None for a service without a limiter."""
        limiter = self.limiters.get(service)
        return None if limiter is None else limiter.throttle(retry_after)

    def pool_key(self, service: str, worker: int) -> str:
        keys = self.key_counts.get(service, 1)
        return f"key-{worker % keys}" if keys > 1 else f"worker-{worker}"

    def key_index(self, service: str, worker: int) -> int:
        return worker % max(1, self.key_counts.get(service, 1))
