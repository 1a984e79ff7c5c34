"""What a finished transcript is, independent of any file format, and how it reads as paragraphs."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from engine.segments import Segment

PARAGRAPH_SENTENCES = 5  # a paragraph closes at the first sentence end once it holds this many
PARAGRAPH_CHARS = 900  # some engines and captions have no punctuation at all; cap paragraphs anyway
PARAGRAPH_GAP = 2.0  # seconds of silence that start a new paragraph

_CLOSERS = "\"'\u201d\u2019)\\]"
# Latin stops count only before a space ("3.5" is no sentence end); CJK stops need no space after.
_SENTENCE_END = re.compile(rf"[.!?\u2026]+[{_CLOSERS}]*(?=\s|$)|[\u3002\uff01\uff1f]+[{_CLOSERS}]*")
_ENDS_SENTENCE = re.compile(rf"[.!?\u2026\u3002\uff01\uff1f]+[{_CLOSERS}]*$")


@dataclass(frozen=True)
class Chapter:
    """A titled span of the media; end is None when it runs to the end."""

    start: float
    end: float | None
    title: str


@dataclass(frozen=True)
class TranscriptDoc:
    """One item's transcript with the metadata every output format draws on."""

    source: str
    url: str | None
    title: str
    channel: str | None = None
    upload_date: str | None = None  # YYYY-MM-DD
    duration: float | None = None  # seconds
    method: str = "asr"  # "captions" | "asr"
    engine: str | None = None
    language: str | None = None
    processed_at: str = ""  # ISO 8601
    tags: tuple[str, ...] = ()
    description: str | None = None
    show: str | None = None  # a podcast's name, for feed episodes
    date: str | None = None  # YYYY-MM-DD the episode was published
    episode: int | None = None  # the feed's episode number
    link: str | None = None  # the episode's own web page
    chapters: tuple[Chapter, ...] = ()
    extras: Mapping[str, str] = field(default_factory=dict)
    segments: tuple[Segment, ...] = ()
    # "approximate" when the service gave text only and each chunk's text spans the whole chunk.
    timing: str | None = None

    def length(self) -> float:
        """How long the media runs: the stated duration, or where the last segment ends."""
        ends = [s.end for s in self.segments if math.isfinite(s.end)]
        known = self.duration if self.duration is not None and math.isfinite(self.duration) else 0.0
        return max([known, *ends])


@dataclass(frozen=True)
class Paragraph:
    """Consecutive segments read as one block; chapter is set on the first paragraph of a chapter."""

    start: float
    text: str
    chapter: str | None = None


def one_line(text: str) -> str:
    """Collapse every run of whitespace, newlines included, to one space."""
    return " ".join(text.split())


def _chapter_at(chapters: Sequence[Chapter], t: float) -> int | None:
    found = None
    for index, chapter in enumerate(chapters):
        if chapter.start <= t + 1e-6:
            found = index
    return found


def _sentences(text: str) -> tuple[int, bool]:
    ends = _SENTENCE_END.findall(text)
    return len(ends), _ENDS_SENTENCE.search(text) is not None


def paragraphs(doc: TranscriptDoc) -> list[Paragraph]:
    """Group segments into paragraphs of about five sentences, breaking on pauses and chapters."""
    chapters = sorted(doc.chapters, key=lambda c: c.start)
    result: list[Paragraph] = []
    parts: list[str] = []
    start = 0.0
    sentences = chars = 0
    previous_end: float | None = None
    current_chapter: int | None = None
    heading: str | None = None

    def close() -> None:
        nonlocal parts, sentences, chars, heading
        if parts:
            result.append(Paragraph(start, " ".join(parts), heading))
            heading = None
        parts, sentences, chars = [], 0, 0

    for segment in doc.segments:
        text = one_line(segment.text)
        if not text:
            continue
        chapter = _chapter_at(chapters, segment.start)
        if chapter is not None and chapter != current_chapter:
            close()
            current_chapter = chapter
            heading = one_line(chapters[chapter].title) or None
        elif previous_end is not None and segment.start - previous_end > PARAGRAPH_GAP:
            close()
        if not parts:
            start = segment.start
        parts.append(text)
        count, ends_sentence = _sentences(text)
        sentences += count
        chars += len(text) + 1
        previous_end = segment.end
        if (ends_sentence and sentences >= PARAGRAPH_SENTENCES) or chars >= PARAGRAPH_CHARS:
            close()
    close()
    return result
