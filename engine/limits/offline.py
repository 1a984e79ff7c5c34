"""The unreachable-service probe: hold every permit, let one probe through, back off while it fails."""

from __future__ import annotations

from typing import NamedTuple

# An unreachable service is probed again after these many seconds, doubling up to the last.
_PROBE_FIRST = 1.0
_PROBE_MAX = 60.0


class Claim(NamedTuple):
    """An attempt taken as the one probe: the pause end it set, and what it replaced."""

    until: float
    before: float
    sent: bool


class Outage:
    """Whether a service is unreachable and when to probe it next; the owner's lock guards it."""

    def __init__(self) -> None:
        # Probe delay in seconds (0 while the service answers); whether a probe went out.
        self.probe = 0.0
        self._probe_sent = False

    @property
    def active(self) -> bool:
        return self.probe > 0

    def failed(self, now: float, paused_until: float) -> tuple[bool, float]:
        """A request could not reach the service: (whether this starts an outage, the new pause end)."""
        first = self.probe == 0.0
        if first:
            self.probe = _PROBE_FIRST
            paused_until = max(paused_until, now + self.probe)
        elif self._probe_sent:
            # Only a probe that failed moves the backoff on, not workers failing alongside it.
            self._probe_sent = False
            self.probe = min(_PROBE_MAX, self.probe * 2)
            paused_until = max(paused_until, now + self.probe)
        return first, paused_until

    def claim(self, now: float, paused_until: float) -> Claim | None:
        """An attempt at a permit during an outage is the one probe; None outside an outage.

        Taken before the windows are asked, so the other workers wait for it even while a shared
        quota's round trip is under way; ``unclaim`` gives it back when no permit comes of it.
        """
        if self.probe <= 0:
            return None
        claim = Claim(now + self.probe, paused_until, self._probe_sent)
        self._probe_sent = True
        return claim

    def unclaim(self, claim: Claim, paused_until: float) -> float:
        """The windows refused the probe's permit: the next attempt probes instead; the pause end.

        Left as it is when anything moved the pause meanwhile (a 429, a failure, a reply).
        """
        if self.probe <= 0 or paused_until != claim.until:
            return paused_until
        self._probe_sent = claim.sent
        return claim.before

    def answered(self) -> bool:
        """A reply came; True when that ends an outage."""
        if self.probe <= 0:
            return False
        self.probe = 0.0
        self._probe_sent = False
        return True
