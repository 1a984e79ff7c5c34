"""The unreachable-service probe: hold every permit, let one probe through, back off while it fails."""

from __future__ import annotations

# An unreachable service is probed again after these many seconds, doubling up to the last.
_PROBE_FIRST = 1.0
_PROBE_MAX = 60.0


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

    def granted(self, now: float) -> float | None:
        """A permit went out: during an outage it is the one probe, and the pause end is returned."""
        if self.probe <= 0:
            return None
        # Unreachable: this permit is the one probe; the rest wait for it.
        self._probe_sent = True
        return now + self.probe

    def answered(self) -> bool:
        """A reply came; True when that ends an outage."""
        if self.probe <= 0:
            return False
        self.probe = 0.0
        self._probe_sent = False
        return True
