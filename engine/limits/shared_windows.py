"""The Redis window back end: a shared quota seen from one limiter, with offline back-off and presence."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from engine.errors import QuotaUnavailable
from engine.limits.history import Entry
from engine.limits.pacing import Rules
from engine.limits.ratespec import RateRule
from engine.limits.shared import Counts, Decision, SharedQuota
from engine.limits.windows import Admission

# What the engine line adds while the quota holds permits back for a reason of its own.
_NOTES = {
    "restarted": "shared quota restarted empty: waiting one window",
    "offline": "the service is unreachable from a process on this quota: holding off",
}


class SharedWindows:
    """A limiter's view of its shared quota: offline back-off, presence heartbeat, cached totals.

    Redis being unreachable is never an item's failure: ``admit`` says to wait ``retry_in()``
    (growing to a few seconds) before asking again, so the batch pauses by itself and
    carries on when Redis answers. A call that timed out may have been admitted: its permit is lost,
    never sent, which errs on the safe side.

    What 429s teach is everyone's: a process follows the shared factor down and the shared guard
    out when a 429 moved them since it last looked (``Counts``), never because an answer that left
    Redis before a later change arrived after it. Each process steps back up on its own quiet
    periods, as one limiter alone does, and writes its step to the quota unless a 429 came between.
    An outage of the service is everyone's too: while one process waits for its next probe, the
    others hold off.
    """

    HEARTBEAT = 5.0
    # Each admission is a round trip: the limiter makes it outside its lock.
    remote = True

    def __init__(self, quota: SharedQuota) -> None:
        self.quota = quota
        self._lock = threading.Lock()
        self._note = ""
        self._backoff = 0.0
        # The shared factor and guard as last seen, and the counts of 429s' cuts and widenings
        # seen; whether this process holds everyone off for an outage (or was held off).
        self._factor = 1.0
        self._guard = 0.0
        self._seen = Counts("", -1, -1)
        self._unreachable = False
        self._peers: int | None = None
        self._total: int | None = None
        self._beat: threading.Thread | None = None
        self._stop = threading.Event()

    def admit(
        self, pool: str, rules: Callable[[], Rules], factor: float, guard: float, now: float
    ) -> Admission:
        """One attempt on the shared log; ``factor`` and ``guard`` are ours, after any recovery.

        The answer carries the shared factor and guard only when a 429 moved them since we last
        looked (1.0 and 0.0 otherwise, which move nothing).
        """
        answer = self._decide(pool, rules(), factor, guard)
        if answer is None:
            return Admission(False, self.retry_in())
        decision, cut, widened = answer
        return Admission(
            decision.admitted,
            max(0.001, decision.wait),
            decision.member,
            decision.factor if cut else 1.0,
            decision.guard if widened else 0.0,
        )

    def reset(self) -> None:
        """Nothing to rebuild: the rules travel with every admission."""

    def _decide(
        self, pool: str, rules: Rules, factor: float, guard: float
    ) -> tuple[Decision, bool, bool] | None:
        """The quota's decision, and whether a 429 cut its factor, widened its guard, since."""
        self._ensure_heartbeat()
        with self._lock:
            shared_factor, shared_guard, seen = self._factor, self._guard, self._seen
        try:
            # Our quiet periods raised the rate or narrowed the guard: so does the quota's.
            if factor > shared_factor + 1e-9 and seen.gen:
                self.quota.recover(factor, seen.cuts)
            if guard < shared_guard - 1e-9 and seen.gen:
                self.quota.narrow(guard, seen.widenings)
            decision = self.quota.admit(pool, rules)
        except QuotaUnavailable as exc:
            self._offline(exc)
            return None
        with self._lock:
            self._backoff = 0.0
            self._factor, self._guard = decision.factor, decision.guard
            cut, widened = self._learn(decision.counts)
            self._unreachable = self._unreachable or decision.reason == "offline"
            self._note = _NOTES.get(decision.reason, "")
        return decision, cut, widened

    def _learn(self, counts: Counts) -> tuple[bool, bool]:
        """Whether ``counts`` say a 429 cut the factor, widened the guard, since we last looked."""
        seen = self._seen
        if counts.gen != seen.gen:
            self._seen = counts
            return True, True
        cut, widened = counts.cuts > seen.cuts, counts.widenings > seen.widenings
        self._seen = Counts(
            seen.gen, max(seen.widenings, counts.widenings), max(seen.cuts, counts.cuts)
        )
        return cut, widened

    def sent(self, pool: str, entry: Entry, token: object) -> None:
        try:
            self.quota.sent(pool, str(token))
        except QuotaUnavailable as exc:
            # The permit stays counted from its grant: a little early, never an extra request.
            self._offline(exc)

    def throttle(self, pause: float, factor: float, guard: float) -> None:
        try:
            shared, moved = self.quota.share_throttle(pause, factor, guard)
        except QuotaUnavailable as exc:
            self._offline(exc)
            return
        with self._lock:
            self._factor = shared
            if moved.widenings:
                self._guard = guard
            if moved.gen == self._seen.gen:
                # Our own 429 is no news to us (any cut or widening before it was smaller).
                self._learn(Counts(moved.gen, moved.widenings, moved.cuts))

    def offline(self, seconds: float) -> None:
        with self._lock:
            self._unreachable = True
        try:
            self.quota.offline(seconds)
        except QuotaUnavailable as exc:
            self._offline(exc)

    def online(self) -> None:
        with self._lock:
            if not self._unreachable:
                return
            self._unreachable = False
        try:
            self.quota.online()
        except QuotaUnavailable as exc:
            self._offline(exc)

    def recent(
        self, rules: Sequence[RateRule], cap: Callable[[RateRule], float]
    ) -> list[int] | None:
        """Everyone's permits over each rule's window plus two widest guards; None if unreachable.

        The log of all pools keeps one minute, so a longer window is counted over its last minute.
        """
        try:
            return [self.quota.recent(min(60.0, r.interval + 2 * cap(r))) for r in rules]
        except QuotaUnavailable as exc:
            self._offline(exc)
            return None

    @property
    def state(self) -> str:
        """A short phrase for the head of the engine line, or "" when the quota answers normally."""
        with self._lock:
            if self._note.startswith("shared quota offline"):
                return "quota offline"
            return "quota restarted" if self._note.startswith("shared quota restarted") else ""

    def retry_in(self) -> float:
        with self._lock:
            return self._backoff

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "shared_with": self._peers,
                "quota_last_minute": self._total,
                "quota_note": self._note,
            }

    def close(self) -> None:
        self._stop.set()
        self.quota.leave()

    def _offline(self, exc: QuotaUnavailable) -> None:
        with self._lock:
            self._backoff = min(5.0, max(0.25, self._backoff * 2))
            self._note = f"shared quota offline: {exc.message}; waiting"

    def _ensure_heartbeat(self) -> None:
        with self._lock:
            if self._beat is not None:
                return
            self._beat = threading.Thread(
                target=self._heartbeat, name="quota-heartbeat", daemon=True
            )
        self._beat.start()

    def _heartbeat(self) -> None:
        while not self._stop.is_set():
            try:
                peers = self.quota.heartbeat()
                total = self.quota.last_minute()
            except QuotaUnavailable as exc:
                self._offline(exc)
            else:
                with self._lock:
                    self._peers, self._total = peers, total
            self._stop.wait(self.HEARTBEAT)
