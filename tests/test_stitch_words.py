"""Stitching on word timings and on text alone: one copy of what both chunks heard, inside the audio."""

from __future__ import annotations

import json
import re
from pathlib import Path

from engine.outputs import TranscriptDoc, render
from engine.providers.base import Chunk
from engine.segments import Segment, Word
from engine.stitch import stitch
from tests.seam_metrics import timeline_faults


def _chunk(index: int, start: float, end: float) -> Chunk:
    return Chunk(index, start, end, Path(f"chunk-{index:04d}.flac"))


def _timed(start: float, text: str, step: float = 0.4, offset: float = 0.0) -> Segment:
    """A segment whose words are ``step`` seconds apart from ``start`` (chunk-relative)."""
    words = tuple(
        Word(start + n * step + offset, start + n * step + offset + step * 0.8, w)
        for n, w in enumerate(text.split())
    )
    return Segment(words[0].start, words[-1].end, text, words)


def _text(segments: list[Segment]) -> str:
    return " ".join(s.text for s in segments)


def test_words_heard_by_both_chunks_are_kept_once_at_their_own_times() -> None:
    first, second = _chunk(0, 0.0, 30.0), _chunk(1, 28.0, 60.0)
    # The sentence runs through the 2 s overlap (28-30 s); the second recognition times it 60 ms
    # earlier, and the first chunk, cut off mid-word, misheard its last word.
    said = "it would be worth the trouble of getting to know them"
    first_heard = _timed(26.0, said.replace("to know them", "tuna"))  # "of" at 28.4 s
    second_heard = _timed(0.34, "of getting to know them")  # "of" at 28.34 s
    out = stitch([(first, [first_heard]), (second, [second_heard])], 2.0)
    assert _text(out) == said
    words = [w for seg in out for w in seg.words]
    assert [w.text for w in words] == said.split()
    assert all(a.start < b.start for a, b in zip(words, words[1:], strict=False))
    assert timeline_faults(out, 60.0) == []


def test_the_same_word_said_twice_across_a_silent_seam_is_not_merged() -> None:
    # A pause cut: the chunks share 0.4 s of silence, and "that" ends one phrase and opens the next.
    first, second = _chunk(0, 0.0, 30.2), _chunk(1, 29.8, 60.0)
    pieces = [
        (first, [_timed(28.0, "he said that")]),
        (second, [_timed(0.5, "that was all")]),
    ]
    assert _text(stitch(pieces, 2.0)) == "he said that that was all"


def test_text_alone_aligns_a_repeat_that_is_not_word_for_word() -> None:
    # The repeat from the field, through an API answering segments without word timings.
    first, second = _chunk(0, 0.0, 30.0), _chunk(1, 28.0, 60.0)
    pieces = [
        (
            first,
            [Segment(22.0, 30.0, "the question whether it would be worth the trouble is that")],
        ),
        (second, [Segment(0.0, 6.0, "getting would be worth the trouble of getting there at all")]),
    ]
    text = _text(stitch(pieces, 2.0))
    assert text.count("worth the trouble") == 1
    assert text.startswith("the question whether it would be")
    assert text.endswith("of getting there at all")


def test_a_reply_running_past_the_end_of_the_audio_is_clamped() -> None:
    # A service answered 21.5 s for a 20.0 s file; a second segment starts after the end.
    chunk = _chunk(0, 0.0, 20.0)
    out = stitch([(chunk, [Segment(15.0, 21.5, "last words"), Segment(20.4, 22.0, "ghost")])], 2.0)
    assert out[-1].end <= 20.0
    assert all(0.0 <= s.start < s.end <= 20.0 for s in out)
    assert "ghost" in _text(out)  # text is never dropped, only its time is corrected
    assert timeline_faults(out, 20.0) == []


def test_instant_segments_get_a_length_so_every_format_shows_the_same_times() -> None:
    chunk = _chunk(0, 0.0, 20.0)
    pieces = [
        (
            chunk,
            [
                Segment(1.0, 1.0, "blink"),
                Segment(1.1, 3.0, "then more"),
                Segment(19.99, 19.99, "end"),
            ],
        )
    ]
    out = stitch(pieces, 2.0)
    assert timeline_faults(out, 20.0) == []
    doc = TranscriptDoc(source="x.wav", url=None, title="x", duration=20.0, segments=tuple(out))
    data = json.loads(render(doc, "json"))
    json_times = [(round(s["start"] * 1000), round(s["end"] * 1000)) for s in data["segments"]]
    for fmt, sep in (("srt", ","), ("vtt", ".")):
        stamp = rf"(\d\d):(\d\d):(\d\d){re.escape(sep)}(\d\d\d)"
        found = re.findall(rf"{stamp} --> {stamp}", render(doc, fmt))
        cue_times = [
            (
                ((int(a) * 60 + int(b)) * 60 + int(c)) * 1000 + int(d),
                ((int(e) * 60 + int(f)) * 60 + int(g)) * 1000 + int(h),
            )
            for a, b, c, d, e, f, g, h in found
        ]
        assert cue_times == json_times, fmt


def test_words_travel_with_their_segment_onto_the_source_timeline() -> None:
    first, second = _chunk(0, 0.0, 12.0), _chunk(1, 10.0, 24.0)
    pieces = [(first, [_timed(1.0, "one two")]), (second, [_timed(5.0, "three four")])]
    out = stitch(pieces, 2.0)
    assert [(w.text, w.start) for s in out for w in s.words] == [
        ("one", 1.0), ("two", 1.4), ("three", 15.0), ("four", 15.4),
    ]  # fmt: skip
    for seg in out:
        assert seg.start <= seg.words[0].start and seg.words[-1].end <= seg.end
