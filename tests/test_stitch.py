"""Stitching chunk transcripts: seam duplicates, straddling segments, empty chunks, tidy output."""

from __future__ import annotations

from pathlib import Path

from engine.providers.base import Chunk
from engine.segments import Segment
from engine.stitch import stitch

OVERLAP = 2.0


def _chunk(index: int, start: float, end: float) -> Chunk:
    return Chunk(index, start, end, Path(f"chunk-{index:04d}.flac"))


def _text(segments: list[Segment]) -> str:
    return " ".join(s.text for s in segments)


def _well_formed(segments: list[Segment]) -> None:
    for seg in segments:
        assert seg.end >= seg.start
        assert seg.text and seg.text == " ".join(seg.text.split())
    for prev, cur in zip(segments, segments[1:], strict=False):
        assert cur.start > prev.start
        assert prev.end <= cur.start


def test_single_chunk_is_shifted_and_cleaned() -> None:
    chunk = _chunk(0, 10.0, 40.0)
    out = stitch(
        [(chunk, [Segment(0.0, 2.0, "  hello \n world "), Segment(3.0, 4.0, "   ")])], OVERLAP
    )
    assert out == [Segment(10.0, 12.0, "hello world")]


def test_segment_heard_by_both_chunks_appears_once() -> None:
    first, second = _chunk(0, 0.0, 30.0), _chunk(1, 28.0, 60.0)
    pieces = [
        (first, [Segment(0.5, 5.0, "one two"), Segment(28.5, 29.5, "three")]),
        # Same word, seen by the next chunk at its own 0.5 s, i.e. 28.5 s in the source.
        (second, [Segment(0.5, 1.5, "three"), Segment(3.0, 6.0, "four five")]),
    ]
    out = stitch(pieces, OVERLAP)
    assert _text(out) == "one two three four five"
    assert [s.start for s in out] == [0.5, 28.5, 31.0]
    _well_formed(out)


def test_each_chunk_owns_from_the_middle_of_the_overlap() -> None:
    first, second = _chunk(0, 0.0, 30.0), _chunk(1, 28.0, 60.0)
    # Seam at 29 s. "early" (midpoint 28.6) belongs to the first chunk, "late" (29.4) to the second.
    pieces = [
        (first, [Segment(28.4, 28.8, "early"), Segment(29.2, 29.6, "late-first-copy")]),
        (second, [Segment(0.4, 0.8, "early-second-copy"), Segment(1.2, 1.6, "late")]),
    ]
    assert _text(stitch(pieces, OVERLAP)) == "early late"


def test_segment_cut_short_at_a_chunk_end_is_replaced_by_the_whole_one() -> None:
    first, second = _chunk(0, 0.0, 30.0), _chunk(1, 28.0, 60.0)
    pieces = [
        # The first chunk ends mid-sentence: it heard only the start of it.
        (first, [Segment(20.0, 25.0, "a full sentence"), Segment(29.5, 30.0, "the quick")]),
        (second, [Segment(1.5, 5.0, "the quick brown fox")]),
    ]
    out = stitch(pieces, OVERLAP)
    assert _text(out) == "a full sentence the quick brown fox"
    _well_formed(out)


def test_repeated_words_across_a_straddling_seam_are_kept_once() -> None:
    first, second = _chunk(0, 0.0, 30.0), _chunk(1, 28.0, 60.0)
    pieces = [
        # A long segment runs to the end of the first chunk (midpoint 26 s: first owns it).
        (first, [Segment(22.0, 30.0, "we count to ten one two")]),
        # The second chunk starts inside it and repeats its last words (midpoint 30 s).
        (second, [Segment(0.0, 4.0, "one two three four")]),
    ]
    out = stitch(pieces, OVERLAP)
    assert _text(out) == "we count to ten one two three four"
    _well_formed(out)


def test_distinct_words_at_a_seam_are_not_dropped() -> None:
    first, second = _chunk(0, 0.0, 30.0), _chunk(1, 28.0, 60.0)
    pieces = [
        (first, [Segment(25.0, 29.0, "one two")]),
        (second, [Segment(0.8, 3.0, "three four")]),
    ]
    out = stitch(pieces, OVERLAP)
    assert _text(out) == "one two three four"
    _well_formed(out)


def test_empty_chunks_and_out_of_order_pieces() -> None:
    chunks = [_chunk(0, 0.0, 30.0), _chunk(1, 28.0, 60.0), _chunk(2, 58.0, 80.0)]
    pieces = [
        (chunks[2], [Segment(5.0, 7.0, "end")]),
        (chunks[1], []),
        (chunks[0], [Segment(1.0, 2.0, "start")]),
    ]
    out = stitch(pieces, OVERLAP)
    assert out == [Segment(1.0, 2.0, "start"), Segment(63.0, 65.0, "end")]
    assert stitch([], OVERLAP) == []
    assert stitch([(chunks[0], [])], OVERLAP) == []


def test_overlapping_and_same_start_segments_are_tidied() -> None:
    chunk = _chunk(0, 0.0, 30.0)
    pieces = [
        (
            chunk,
            [
                Segment(5.0, 9.0, "second"),
                Segment(1.0, 6.0, "first"),
                Segment(5.0, 6.0, "also"),
                Segment(12.0, 11.0, "backwards"),
            ],
        )
    ]
    out = stitch(pieces, OVERLAP)
    assert _text(out) == "first second also backwards"
    assert out[0] == Segment(1.0, 5.0, "first")
    _well_formed(out)


def test_chunks_cut_again_to_fit_an_upload_limit_stitch_cleanly() -> None:
    # A 30 s chunk split into three 10 s pieces, each overlapping the one before by 2 s.
    chunks = [_chunk(0, 0.0, 10.0), _chunk(1, 8.0, 20.0), _chunk(2, 18.0, 30.0)]
    words = [(t, f"w{t}") for t in range(0, 30)]  # one word a second, 0.5 s long
    pieces = []
    for chunk in chunks:
        heard = [
            Segment(t - chunk.start, t - chunk.start + 0.5, w)
            for t, w in words
            if chunk.start <= t and t + 0.5 <= chunk.end
        ]
        pieces.append((chunk, heard))
    out = stitch(pieces, OVERLAP)
    assert [s.text for s in out] == [w for _, w in words]
    _well_formed(out)
