"""Timed transcript segments, the currency between ASR engines, captions and output writers."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Word:
    """One recognised word with its own timing (seconds, same origin as its segment)."""

    start: float
    end: float
    text: str

    def shifted(self, offset: float) -> Word:
        return Word(self.start + offset, self.end + offset, self.text)


@dataclass(frozen=True, slots=True)
class Segment:
    """One timed piece of transcript; times are seconds from the start of the media.

    ``words`` holds word timings when the engine gives them (empty otherwise); the
    stitcher aligns chunks on them at seams. Writers use ``text``.
    """

    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()

    def shifted(self, offset: float) -> Segment:
        return Segment(
            self.start + offset,
            self.end + offset,
            self.text,
            tuple(word.shifted(offset) for word in self.words),
        )
