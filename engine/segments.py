"""Timed transcript segments, the currency between ASR engines, captions and output writers."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Segment:
    """One timed piece of transcript; times are seconds from the start of the media."""

    start: float
    end: float
    text: str

    def shifted(self, offset: float) -> Segment:
        return Segment(self.start + offset, self.end + offset, self.text)
