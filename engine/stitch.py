"""Join per-chunk transcripts into one timeline, so words at chunk seams appear exactly once."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from engine.providers.base import Chunk
from engine.segments import Segment

_PUNCT = re.compile(r"[^\w']+")


def _seams(chunks: Sequence[Chunk], overlap: float) -> list[float]:
    """Where ownership passes from chunk i-1 to chunk i: the middle of their shared audio.

    The chunks' own spans are the truth (a chunk cut again to fit an upload limit
    still overlaps its neighbours); ``overlap`` is used only when spans do not overlap.
    """
    seams = [-math.inf]
    for prev, cur in zip(chunks, chunks[1:], strict=False):
        shared = prev.end - cur.start
        if shared <= 0:
            shared = min(overlap, cur.duration)
            seams.append(cur.start + shared / 2 if shared > 0 else cur.start)
        else:
            seams.append(cur.start + shared / 2)
    seams.append(math.inf)
    return seams


def _norm(token: str) -> str:
    return _PUNCT.sub("", token.lower())


def _drop_repeat(prev: Segment, nxt: Segment) -> Segment | None:
    """Remove from ``nxt`` the words that repeat the end of ``prev`` (both chunks heard them)."""
    before = [_norm(t) for t in prev.text.split()]
    tokens = nxt.text.split()
    after = [_norm(t) for t in tokens]
    for n in range(min(len(before), len(after)), 0, -1):
        if before[-n:] == after[:n]:
            rest = " ".join(tokens[n:])
            if not rest:
                return None
            return Segment(max(nxt.start, prev.end), max(nxt.end, prev.end), rest)
    return nxt


def stitch(pieces: Sequence[tuple[Chunk, Sequence[Segment]]], overlap: float) -> list[Segment]:
    """Shift chunk-relative segments onto the source timeline and resolve the overlaps.

    Each chunk owns the time from the middle of its overlap with the previous chunk
    to the middle of its overlap with the next; a segment is kept by the chunk that
    owns its midpoint. Words heard on both sides of a seam are kept once. The result
    is sorted, with strictly increasing starts, no overlaps, and no empty texts.
    """
    ordered = sorted(pieces, key=lambda piece: (piece[0].start, piece[0].index))
    seams = _seams([chunk for chunk, _ in ordered], overlap)
    kept: list[Segment] = []
    for i, (chunk, segments) in enumerate(ordered):
        first_of_chunk = True
        for seg in sorted(segments, key=lambda s: s.start):
            text = " ".join(seg.text.split())
            if not text:
                continue
            start = chunk.start + max(0.0, seg.start)
            end = max(start, chunk.start + seg.end)
            if not seams[i] <= (start + end) / 2 < seams[i + 1]:
                continue
            candidate: Segment | None = Segment(start, end, text)
            if first_of_chunk and kept and kept[-1].end > start and candidate is not None:
                candidate = _drop_repeat(kept[-1], candidate)
            first_of_chunk = False
            if candidate is not None:
                kept.append(candidate)
    return _tidy(kept)


def _tidy(segments: list[Segment]) -> list[Segment]:
    """Sort (stably, so engines' order breaks ties), merge equal starts, clip ends to the next start."""
    merged: list[Segment] = []
    for seg in sorted(segments, key=lambda s: s.start):
        seg = Segment(round(seg.start, 3), round(seg.end, 3), seg.text)
        if merged and seg.start <= merged[-1].start:
            last = merged[-1]
            merged[-1] = Segment(last.start, max(last.end, seg.end), f"{last.text} {seg.text}")
        else:
            merged.append(seg)
    result = []
    for i, seg in enumerate(merged):
        end = seg.end if i + 1 == len(merged) else min(seg.end, merged[i + 1].start)
        result.append(Segment(seg.start, max(seg.start, end), seg.text))
    return result
