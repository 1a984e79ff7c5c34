"""Subtitle cues (SubRip and WebVTT) that any player parses the way we meant."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from engine.outputs.timecodes import cue_time, millis
from engine.segments import Segment

MIN_CUE_MS = 500  # a cue with no length is never shown; give it time to be read
_ARROW = re.compile(r"-{2,}>")


@dataclass(frozen=True)
class Cue:
    start_ms: int
    end_ms: int
    lines: tuple[str, ...]


def cue_lines(text: str) -> tuple[str, ...]:
    """Non-blank lines of a segment: a blank line inside a cue would end it early."""
    lines = (" ".join(line.split()) for line in text.splitlines())
    return tuple(_ARROW.sub("->", line) for line in lines if line)


def cues(segments: Sequence[Segment]) -> list[Cue]:
    """Cues with positive lengths; empty segments are dropped, inverted or instant ones lengthened."""
    kept = [(s, cue_lines(s.text)) for s in segments]
    kept = [(s, lines) for s, lines in kept if lines]
    result: list[Cue] = []
    for index, (segment, lines) in enumerate(kept):
        start, end = millis(segment.start), millis(segment.end)
        if end <= start:
            end = start + MIN_CUE_MS
            if index + 1 < len(kept):
                # Stop where the next cue starts, so the fix does not create an overlap.
                next_start = millis(kept[index + 1][0].start)
                if next_start > start:
                    end = min(end, next_start)
        result.append(Cue(start, end, lines))
    return result


def render_srt(segments: Sequence[Segment]) -> str:
    """SubRip: 1-based index, HH:MM:SS,mmm --> HH:MM:SS,mmm, text, blank line."""
    blocks = [
        f"{number}\n{cue_time(cue.start_ms, ',')} --> {cue_time(cue.end_ms, ',')}\n"
        + "\n".join(cue.lines)
        for number, cue in enumerate(cues(segments), start=1)
    ]
    return "".join(block + "\n\n" for block in blocks)


def _vtt_escape(line: str) -> str:
    # "<" would open a tag and "&" an entity; escaping ">" too makes "-->" impossible in cue text.
    return line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_vtt(segments: Sequence[Segment]) -> str:
    """WebVTT: header, then HH:MM:SS.mmm --> HH:MM:SS.mmm and text per cue."""
    blocks = [
        f"{cue_time(cue.start_ms, '.')} --> {cue_time(cue.end_ms, '.')}\n"
        + "\n".join(_vtt_escape(line) for line in cue.lines)
        for cue in cues(segments)
    ]
    return "WEBVTT\n\n" + "".join(block + "\n\n" for block in blocks)
