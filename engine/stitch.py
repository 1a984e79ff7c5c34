"""Join per-chunk transcripts into one timeline, so words at chunk seams appear exactly once."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from engine.providers.base import Chunk
from engine.segments import Segment, Word

_PUNCT = re.compile(r"[^\w']+")
# Both chunks heard a word only if it lies in their shared audio. Engines place the same word
# within ~0.2 s in two recognitions; times spread evenly over a segment's text are rougher.
_TIMED = (0.25, 0.5)  # (slack around the shared audio, largest gap between the two copies), s
_SPREAD = (2.0, 3.0)
MIN_SEGMENT = 0.2  # seconds a segment is given when an engine reports it with no length


@dataclass(frozen=True, slots=True)
class _Token:
    """One word of a chunk's transcript on the source timeline."""

    start: float
    end: float
    text: str  # as written, punctuation included
    norm: str
    segment: int  # index of the segment it came from, within its chunk
    word: Word | None  # the engine's own word timing, when it gave one

    @property
    def mid(self) -> float:
        return (self.start + self.end) / 2


@dataclass(slots=True)
class _Piece:
    chunk: Chunk
    segments: list[Segment]
    tokens: list[_Token]
    keep_from: int = 0
    keep_to: int = 0


def _norm(token: str) -> str:
    return _PUNCT.sub("", token.lower())


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


def _place(chunk: Chunk, segments: Sequence[Segment]) -> list[Segment]:
    """Segments on the source timeline, inside the chunk's own audio, in order, none empty."""
    placed = []
    for seg in sorted(segments, key=lambda s: s.start):
        text = " ".join(seg.text.split())
        if not text:
            continue
        start = min(max(chunk.start, chunk.start + seg.start), chunk.end)
        end = min(max(start, chunk.start + seg.end), chunk.end)
        words = tuple(
            Word(w_start, max(w_start, min(chunk.end, chunk.start + w.end)), w.text)
            for w in seg.words
            for w_start in [min(max(chunk.start, chunk.start + w.start), chunk.end)]
        )
        placed.append(Segment(start, end, text, words))
    return placed


def _tokens(segments: Sequence[Segment]) -> list[_Token]:
    """Each segment's written words, timed by the engine's words or spread over the segment."""
    tokens: list[_Token] = []
    for index, seg in enumerate(segments):
        parts = seg.text.split()
        if seg.words:
            for n, part in enumerate(parts):
                # Written words and engine words usually pair one to one; if not, share them out.
                word = seg.words[min(len(seg.words) - 1, n * len(seg.words) // len(parts))]
                tokens.append(_Token(word.start, word.end, part, _norm(part), index, word))
            continue
        total = sum(len(p) + 1 for p in parts)
        at = 0
        for part in parts:
            start = seg.start + (seg.end - seg.start) * at / total
            at += len(part) + 1
            end = seg.start + (seg.end - seg.start) * at / total
            tokens.append(_Token(start, end, part, _norm(part), index, None))
    return tokens


def _splice(a: _Piece, b: _Piece, seam: float) -> None:
    """Decide which of chunk a's last words and chunk b's first words stay.

    The words both chunks heard in their shared audio are aligned; the splice is made at
    the matched word nearest the seam, so what both heard is kept once. Without a match,
    each word is kept by the chunk that owns its midpoint.
    """
    a_cut = next((i for i, t in enumerate(a.tokens) if t.mid >= seam), len(a.tokens))
    b_cut = next((j for j, t in enumerate(b.tokens) if t.mid >= seam), len(b.tokens))
    timed = all(t.word is not None for t in (*a.tokens[-40:], *b.tokens[:40]))
    slack, gap = _TIMED if timed else _SPREAD
    low, high = b.chunk.start - slack, a.chunk.end + slack
    a_idx = [i for i in range(a.keep_from, len(a.tokens)) if low <= a.tokens[i].mid <= high]
    b_idx = [j for j, t in enumerate(b.tokens) if low <= t.mid <= high]
    best = None if timed else _same_segment(a, b, a_idx, b_idx, seam, gap)
    whole = best is not None
    if best is None:
        best = _same_words(a, b, a_idx, b_idx, seam, gap, timed)
    if best is not None:
        _, i, j = best
        # One copy of the matched word: the one on the side of the seam that owns it.
        a_cut, b_cut = (i, j) if b.tokens[j].mid >= seam else (i + 1, j + 1)
        if whole:
            # Whole segments alike: the copy not kept goes whole, not just its first word.
            a_cut = _segment_end(a.tokens, i) if a_cut > i else a_cut
            b_cut = _segment_end(b.tokens, j) if b_cut > j else b_cut
    a.keep_to = max(a.keep_from, a_cut)
    b.keep_from = b_cut


def _same_words(
    a: _Piece, b: _Piece, a_idx: list[int], b_idx: list[int], seam: float, gap: float, timed: bool
) -> tuple[float, int, int] | None:
    """The aligned word pair both chunks heard nearest the seam, as (distance, token, token)."""
    if not a_idx or not b_idx:
        return None
    a_words = [a.tokens[i].norm or f"\0a{i}" for i in a_idx]
    b_words = [b.tokens[j].norm or f"\0b{j}" for j in b_idx]
    best: tuple[float, int, int] | None = None
    matcher = SequenceMatcher(None, a_words, b_words, autojunk=False)
    for block in matcher.get_matching_blocks():
        # One short word alike in two rough timelines is as likely chance as the same audio.
        if block.size == 0 or (not timed and block.size == 1 and len(a_words[block.a]) < 4):
            continue
        for k in range(block.size):
            i, j = a_idx[block.a + k], b_idx[block.b + k]
            ta, tb = a.tokens[i], b.tokens[j]
            if abs(ta.mid - tb.mid) > gap:
                continue
            distance = abs((ta.mid + tb.mid) / 2 - seam)
            if best is None or distance < best[0]:
                best = (distance, i, j)
    return best


def _same_segment(
    a: _Piece, b: _Piece, a_idx: list[int], b_idx: list[int], seam: float, gap: float
) -> tuple[float, int, int] | None:
    """Segments of the same text on both sides of the seam, as (distance, first token, first token).

    Without word timings, a segment both chunks wrote alike is one segment heard twice.
    """
    best: tuple[float, int, int] | None = None
    a_firsts = [i for i in a_idx if i == 0 or a.tokens[i - 1].segment != a.tokens[i].segment]
    b_firsts = [j for j in b_idx if j == 0 or b.tokens[j - 1].segment != b.tokens[j].segment]
    for i in a_firsts:
        sa = a.segments[a.tokens[i].segment]
        for j in b_firsts:
            sb = b.segments[b.tokens[j].segment]
            if _norm(sa.text.replace(" ", "")) != _norm(sb.text.replace(" ", "")):
                continue
            mid_a, mid_b = (sa.start + sa.end) / 2, (sb.start + sb.end) / 2
            if abs(mid_a - mid_b) > max(gap, sa.end - sa.start, sb.end - sb.start):
                continue
            distance = abs((mid_a + mid_b) / 2 - seam)
            if best is None or distance < best[0]:
                best = (distance, i, j)
    return best


def _segment_end(tokens: list[_Token], index: int) -> int:
    """Index just past the last token of the segment holding ``tokens[index]``."""
    end = index
    while end < len(tokens) and tokens[end].segment == tokens[index].segment:
        end += 1
    return end


def _rebuild(piece: _Piece) -> list[Segment]:
    """The chunk's segments holding only its kept words."""
    kept = piece.tokens[piece.keep_from : piece.keep_to]
    counts: dict[int, int] = {}
    for token in piece.tokens:
        counts[token.segment] = counts.get(token.segment, 0) + 1
    result: list[Segment] = []
    for index, seg in enumerate(piece.segments):
        mine = [t for t in kept if t.segment == index]
        if not mine:
            continue
        if len(mine) == counts[index]:
            result.append(seg)
            continue
        words = tuple(dict.fromkeys(t.word for t in mine if t.word is not None))
        text = " ".join(t.text for t in mine)
        result.append(Segment(mine[0].start, max(mine[0].start, mine[-1].end), text, words))
    return result


def stitch(pieces: Sequence[tuple[Chunk, Sequence[Segment]]], overlap: float) -> list[Segment]:
    """Shift chunk-relative segments onto the source timeline and resolve the overlaps.

    Each chunk owns the time from the middle of its overlap with the previous chunk
    to the middle of its overlap with the next. Inside an overlap the two chunks' words
    are aligned (on the engines' word timings when given, else on segment text) and
    what both heard is kept once. The result has strictly increasing starts, positive
    lengths, no overlaps, no empty texts, and never runs past the end of the audio.
    """
    ordered = sorted(pieces, key=lambda piece: (piece[0].start, piece[0].index))
    if not ordered:
        return []
    seams = _seams([chunk for chunk, _ in ordered], overlap)
    parts = []
    for chunk, segments in ordered:
        placed = _place(chunk, segments)
        tokens = _tokens(placed)
        parts.append(_Piece(chunk, placed, tokens, 0, len(tokens)))
    for i in range(1, len(parts)):
        _splice(parts[i - 1], parts[i], seams[i])
    kept = [seg for part in parts for seg in _rebuild(part)]
    media_end = max(chunk.end for chunk, _ in ordered)
    return _tidy(kept, media_end)


def _tidy(segments: list[Segment], media_end: float) -> list[Segment]:
    """Sort (stably, so engines' order breaks ties), merge equal starts, clip ends to the next start.

    Every segment gets a positive length where there is room, so subtitle players (which
    stretch empty cues) and the JSON output show the same times.
    """
    media_end = round(media_end, 3)
    merged: list[Segment] = []
    for seg in sorted(segments, key=lambda s: s.start):
        start = min(round(seg.start, 3), max(0.0, round(media_end - 0.001, 3)))
        seg = Segment(start, min(round(seg.end, 3), media_end), seg.text, seg.words)
        if merged and seg.start <= merged[-1].start:
            last = merged[-1]
            merged[-1] = Segment(
                last.start,
                max(last.end, seg.end),
                f"{last.text} {seg.text}",
                last.words + seg.words,
            )
        else:
            merged.append(seg)
    result = []
    for i, seg in enumerate(merged):
        limit = media_end if i + 1 == len(merged) else merged[i + 1].start
        end = min(seg.end, limit)
        if end <= seg.start:
            end = min(round(seg.start + MIN_SEGMENT, 3), limit)
        result.append(Segment(seg.start, max(seg.start, end), seg.text, seg.words))
    return result
