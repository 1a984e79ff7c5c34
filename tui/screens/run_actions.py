"""The main screen's keys for the run: parallel, workers, rate limit and mode, order, pause."""

from __future__ import annotations

from engine.limits.pools import INDEPENDENT, SHARED
from engine.limits.ratespec import parse_rate
from engine.run.workers import MAX_WORKERS, MIN_WORKERS
from tui.screens.batch_screen import BatchScreen
from tui.screens.prompt import PromptScreen


class RunActions(BatchScreen):
    """Steer the engine: every verb here is the engine's; the screen only asks and says."""

    def action_toggle_parallel(self) -> None:
        n = self.engine.set_parallel(not self.engine.parallel)
        self.bulkscribe.toast(
            "workers", f"Parallel {'on' if n > 1 else 'off'}: {n} worker{'s' if n > 1 else ''}"
        )

    def action_workers(self, delta: int) -> None:
        target = max(MIN_WORKERS, min(MAX_WORKERS, self.engine.workers + delta))
        if target == self.engine.workers:
            self.app.bell()
            return
        self.engine.set_workers(target)
        self.bulkscribe.toast("workers", f"{target} worker{'s' if target > 1 else ''}", timeout=1.5)

    def action_set_workers(self) -> None:
        def validate(value: str) -> None:
            if not value.isdigit() or not MIN_WORKERS <= int(value) <= MAX_WORKERS:
                raise ValueError(f"enter a whole number from {MIN_WORKERS} to {MAX_WORKERS}")

        def done(value: str | None) -> None:
            if value:
                self.engine.set_workers(int(value))
                self.app.notify(f"{self.engine.workers} workers", timeout=1.5)

        self.app.push_screen(
            PromptScreen(
                "Number of workers",
                value=str(self.engine.workers),
                validate=validate,
                help=f"{MIN_WORKERS}-{MAX_WORKERS}; 1 turns parallel off.",
            ),
            done,
        )

    def action_toggle_rate_mode(self) -> None:
        limiters = list(self.engine.limiters.values())
        if not limiters:
            return
        # The transcription API's limiter (the last one) is what keys and quotas are about; a media
        # site is one host seen from one address, so its limit stays shared by everyone.
        target = limiters[-1]
        mode = INDEPENDENT if target.mode == SHARED else SHARED
        self.engine.set_rate_mode(mode, target.service)
        self.bulkscribe.toast("rate-mode", f"Rate mode: {mode}")

    def action_set_rate(self, service: str = "asr") -> None:
        limiter = self.engine.limiters.get(service) or next(
            iter(self.engine.limiters.values()), None
        )
        if limiter is None:
            return

        def done(value: str | None) -> None:
            if value:
                self.engine.set_rate_spec(value, limiter.service)
                self.app.notify(f"{limiter.service} limit {limiter.spec}", timeout=2)

        self.app.push_screen(
            PromptScreen(
                f"Rate limit for {limiter.service}",
                value=str(limiter.spec),
                validate=parse_rate,
                help="requests/period, e.g. 300/min, 50/s or 5/s,300/min",
            ),
            done,
        )

    def action_set_order(self, order: str) -> None:
        self.engine.set_order(order)
        self.app.notify(f"Order: {order}", timeout=2)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "toggle_pause":
            # One of the two space bindings at a time, so the footer says what space will do.
            return (parameters == ("resume",)) == self.engine.paused
        return True

    def action_toggle_pause(self, _shown_as: str = "") -> None:
        if self.engine.paused:
            self.engine.resume()
            self.bulkscribe.toast("pause", "Resumed", timeout=1.5)
        else:
            self.engine.pause()
            self.bulkscribe.toast("pause", "Paused: running items finish, nothing new starts")
