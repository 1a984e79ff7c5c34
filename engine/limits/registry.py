"""The registry of rate-limited services: each one's limiter, API key count and pool keys, by name."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping

from engine.limits.limiter import Limiter
from engine.limits.permit import Permit
from engine.limits.pools import SHARED, key_index, pool_key


class Registry(dict[str, Limiter]):
    """The limiters of one batch, found by service name (``registry[Service.ASR]``), never by position.

    A service without a limiter is not limited: ``acquire`` admits it at once.
    """

    def __init__(self) -> None:
        super().__init__()
        self._keys: dict[str, int] = {}

    @classmethod
    def of(
        cls, limiters: Iterable[Limiter], key_counts: Mapping[str, int] | None = None
    ) -> Registry:
        """A registry of ``limiters``, with ``key_counts`` API keys per service (1 if not given)."""
        registry = cls()
        for limiter in limiters:
            registry.add(limiter, keys=(key_counts or {}).get(limiter.service, 1))
        return registry

    def add(self, limiter: Limiter, *, keys: int = 1) -> Limiter:
        """Register ``limiter`` under its service; ``keys`` API keys share it (one pool each)."""
        self[limiter.service] = limiter
        self._keys[limiter.service] = max(1, keys)
        return limiter

    @property
    def key_counts(self) -> dict[str, int]:
        """API keys per service."""
        return dict(self._keys)

    def key_count(self, service: str) -> int:
        return self._keys.get(service, 1)

    def key_index(self, service: str, worker: int) -> int:
        """Which of the service's API keys ``worker`` spends."""
        return key_index(worker, self.key_count(service))

    def pool_key(self, service: str, worker: int, key: int | None = None) -> str:
        """The pool ``worker`` draws from in independent mode (shared mode has one for all)."""
        return pool_key(worker, self.key_count(service), key)

    def acquire(
        self,
        service: str,
        worker: int,
        key: int | None = None,
        *,
        cancel: threading.Event | None = None,
        on_wait: Callable[[bool], None] | None = None,
    ) -> Permit:
        """Wait for a permit for one request of ``worker`` to ``service`` (API key ``key``)."""
        limiter = self.get(service)
        if limiter is None:
            return Permit(service, SHARED, 0.0)
        return limiter.acquire(self.pool_key(service, worker, key), cancel=cancel, on_wait=on_wait)

    def select(self, service: str | None) -> list[Limiter]:
        """Every limiter, or the named service's (KeyError for one without a limiter)."""
        return list(self.values()) if service is None else [self[service]]

    def throttle(self, service: str, retry_after: float | None) -> float | None:
        """Pause the service after a 429; None for a service without a limiter."""
        limiter = self.get(service)
        return None if limiter is None else limiter.throttle(retry_after)
