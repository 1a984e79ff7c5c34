"""Retries: back-off between attempts, what counts as one, and how the run reacts to a 429 or an outage."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TypeVar

from engine import lifecycle
from engine.board import Board
from engine.errors import Cancelled, RateLimited, Unreachable, describe
from engine.events import EventKind
from engine.limits.limiter import Limiter
from engine.limits.registry import Registry
from engine.run.job import Job

T = TypeVar("T")


class Retry:
    """Runs a call again after transient errors, up to ``retries`` more times."""

    def __init__(
        self, board: Board, services: Registry, retries: int, backoff: float, backoff_cap: float
    ) -> None:
        self.board, self.services = board, services
        self.retries, self.backoff, self.backoff_cap = retries, backoff, backoff_cap

    def run(self, job: Job, call: Callable[[], T], *, count_attempts: bool) -> T:
        """``count_attempts``: each retry counts as an attempt of the item (whole items, not chunks)."""
        attempt = 1
        while True:
            try:
                return call()
            except Cancelled:
                raise
            except BaseException as exc:  # noqa: BLE001 - classified below
                if job.settled(exc):
                    raise  # a sub-task's error: retried where it happened
                kind, text, transient = describe(exc)
                service = job.last_service
                limiter = self.services.get(service) if service is not None else None
                pause = None
                if isinstance(exc, Unreachable) and limiter is not None:
                    self._offline(limiter, text, job.item_id)
                    continue
                if isinstance(exc, RateLimited) and limiter is not None:
                    pause = self._rate_limited(limiter, exc, job.item_id)
                if not transient or attempt > self.retries:
                    raise
                delay = pause if pause is not None else self.delay(attempt)
                self.board.post(
                    EventKind.RETRY,
                    f"attempt {attempt} failed ({text}); retrying in {delay:.1f}s",
                    job.item_id,
                    delay=delay,
                )
                job.sleep(delay)
                attempt += 1
                if count_attempts:
                    self.board.apply(job.item_id, lifecycle.retry_wait())

    def delay(self, attempt: int) -> float:
        """Exponential back-off with jitter, capped."""
        return min(self.backoff_cap, self.backoff * (2 ** (attempt - 1))) * random.uniform(0.5, 1.0)

    def _offline(self, limiter: Limiter, text: str, item_id: int) -> None:
        # An outage is nobody's failure: hold the request, let the limiter probe the service with
        # backoff, and go on when it answers. Attempts are not spent.
        first, probe = limiter.offline()
        if first:
            self.board.post(
                EventKind.OFFLINE,
                f"{limiter.service}: {text}. Paused; probing again in {probe:.0f}s, "
                "then less and less often until it answers",
                item_id,
            )

    def _rate_limited(self, limiter: Limiter, exc: RateLimited, item_id: int) -> float:
        """Pause the service for everyone, slow it down, and say how; returns the pause."""
        factor, guard = limiter.factor, limiter.guard
        pause = limiter.throttle(exc.retry_after)
        if limiter.factor < factor:
            reaction = f" and slowing down to {limiter.effective_spec()}"
        elif limiter.guard > guard:
            reaction = f" and stretching its window by {limiter.guard:.2g}s"
        else:
            reaction = ""
        if exc.retry_after is not None and exc.retry_after > pause + 1:
            reaction += f" (it asked for {exc.retry_after:.0f}s; capped)"
        self.board.post(
            EventKind.RATE_LIMITED,
            f"{limiter.service}: 429, pausing {pause:.1f}s{reaction}",
            item_id,
        )
        return pause
