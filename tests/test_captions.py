"""Caption parsers on YouTube-shaped json3 and WebVTT, plain SRT, and rolling auto-caption de-duplication."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.errors import MediaError
from engine.segments import Segment
from engine.sources.captions import dedupe_rolling, parse_json3, parse_srt, parse_vtt

# Shaped like YouTube's json3 for an automatic (ASR) track: a window-definition event
# without segs, word segs with offsets, and aAppend events that only add a line break.
ASR_JSON3 = {
    "wireMagic": "pb3",
    "pens": [{}],
    "wsWinStyles": [{}, {"mhModeHint": 2, "juJustifCode": 0}],
    "wpWinPositions": [{}, {"apPoint": 6, "ahHorPos": 20, "avVerPos": 100}],
    "events": [
        {"tStartMs": 0, "dDurationMs": 9000, "id": 1, "wpWinPosId": 1, "wsWinStyleId": 1},
        {
            "tStartMs": 160,
            "dDurationMs": 4790,
            "wWinId": 1,
            "segs": [
                {"utf8": "so", "acAsrConf": 0},
                {"utf8": " today", "tOffsetMs": 320, "acAsrConf": 0},
                {"utf8": " we're", "tOffsetMs": 800, "acAsrConf": 0},
                {"utf8": " going", "tOffsetMs": 1120, "acAsrConf": 0},
            ],
        },
        {
            "tStartMs": 2310,
            "dDurationMs": 2640,
            "wWinId": 1,
            "aAppend": 1,
            "segs": [{"utf8": "\n"}],
        },
        {
            "tStartMs": 2320,
            "dDurationMs": 4680,
            "wWinId": 1,
            "segs": [
                {"utf8": "to", "acAsrConf": 0},
                {"utf8": " talk", "tOffsetMs": 320, "acAsrConf": 0},
                {"utf8": " about", "tOffsetMs": 720, "acAsrConf": 0},
            ],
        },
        {"tStartMs": 4950, "wWinId": 1, "aAppend": 1, "segs": [{"utf8": "\n"}]},
        {
            "tStartMs": 4960,
            "dDurationMs": 2040,
            "wWinId": 1,
            "segs": [{"utf8": "captions &amp; more"}],
        },
    ],
}

# Shaped like YouTube's WebVTT for automatic captions: every cue shows the previous line
# again above the new words (with <c> tags and inline word timestamps), and a 10 ms cue
# holds the finished line between them. "~" marks YouTube's lines holding a single space
# (written that way so editors keep them).
ROLLING_VTT = """WEBVTT
Kind: captions
Language: en

00:00:00.160 --> 00:00:02.310 align:start position:0%
~
so<00:00:00.480><c> today</c><00:00:00.960><c> we're</c><00:00:01.280><c> going</c><00:00:01.520><c> to</c>

00:00:02.310 --> 00:00:02.320 align:start position:0%
so today we're going to
~

00:00:02.320 --> 00:00:04.950 align:start position:0%
so today we're going to
talk<00:00:02.640><c> about</c><00:00:03.040><c> no</c>

00:00:04.950 --> 00:00:04.960 align:start position:0%
talk about no
~

00:00:04.960 --> 00:00:07.000 align:start position:0%
talk about no
no<00:00:05.200><c> more</c><00:00:05.500><c> repeats</c>

00:00:07.000 --> 00:00:07.010 align:start position:0%
no more repeats
~
""".replace("\n~\n", "\n \n")


def test_json3_asr_track_gives_one_segment_per_line_without_markup() -> None:
    segments = parse_json3(json.dumps(ASR_JSON3).encode())
    assert segments == [
        Segment(0.16, 4.95, "so today we're going"),
        Segment(2.32, 7.0, "to talk about"),
        Segment(4.96, 7.0, "captions & more"),
    ]


def test_json3_manual_track_joins_lines_inside_a_cue() -> None:
    data = {
        "events": [
            {"tStartMs": 1500, "dDurationMs": 2000, "segs": [{"utf8": "first line\nsecond"}]}
        ]
    }
    assert parse_json3(json.dumps(data)) == [Segment(1.5, 3.5, "first line second")]


def test_json3_dedupe_clips_overlapping_windows_so_times_are_monotonic() -> None:
    segments = dedupe_rolling(parse_json3(json.dumps(ASR_JSON3)))
    assert [s.text for s in segments] == [
        "so today we're going",
        "to talk about",
        "captions & more",
    ]
    assert [(s.start, s.end) for s in segments] == [(0.16, 2.32), (2.32, 4.96), (4.96, 7.0)]


@pytest.mark.parametrize("bad", ["not json", "[1, 2]", '{"no": "events"}'])
def test_json3_rejects_files_that_are_not_json3(bad: str) -> None:
    with pytest.raises(MediaError, match="json3"):
        parse_json3(bad)


def test_rolling_vtt_dedupes_to_each_word_once_with_monotonic_times() -> None:
    raw = parse_vtt(ROLLING_VTT)
    assert len(raw) == 6  # the leading " " line did not end the first cue
    segments = dedupe_rolling(raw)
    text = " ".join(s.text for s in segments)
    # "no no" is real speech across the line break and must survive.
    assert text == "so today we're going to talk about no no more repeats"
    assert [s.start for s in segments] == [0.16, 2.32, 4.96]
    for earlier, later in zip(segments, segments[1:], strict=False):
        assert earlier.start <= earlier.end <= later.start


def test_manual_vtt_skips_header_note_style_and_markup() -> None:
    text = (
        "\ufeffWEBVTT - talk\r\nKind: captions\r\n\r\n"
        "STYLE\r\n::cue { color: yellow }\r\n\r\n"
        "NOTE written by hand\r\nover two lines\r\n\r\n"
        "intro\r\n00:01.000 --> 00:03.500 line:0 position:20% align:start\r\n"
        "<v Ann>Hello &amp; <i>welcome</i></v>\r\nto the show\r\n\r\n"
        "01:00:00.250 --> 01:00:02.000\r\n<c.yellow>Last</c> words&nbsp;here\r\n"
    )
    assert parse_vtt(text) == [
        Segment(1.0, 3.5, "Hello & welcome to the show"),
        Segment(3600.25, 3602.0, "Last words here"),
    ]


def test_vtt_without_header_is_rejected() -> None:
    with pytest.raises(MediaError, match="WebVTT"):
        parse_vtt("00:00:01.000 --> 00:00:02.000\nhi\n")


def test_srt_with_crlf_tags_and_loose_formatting() -> None:
    text = (
        "\ufeff1\r\n00:00:01,000 --> 00:00:02,500\r\n{\\an8}<i>Hello</i> there\r\nfriend\r\n\r\n"
        "2\r\n00:00:03.000 --> 00:00:04,000\r\nsecond &lt;cue&gt;\r\n   \r\n"
        "00:00:05,000 --> 00:00:06,000\r\nno counter\r\n"
    )
    assert parse_srt(text) == [
        Segment(1.0, 2.5, "Hello there friend"),
        Segment(3.0, 4.0, "second <cue>"),
        Segment(5.0, 6.0, "no counter"),
    ]


def test_non_rolling_track_keeps_a_word_repeated_across_cues() -> None:
    segments = [
        Segment(0.0, 2.0, "and I said no"),
        Segment(2.0, 3.0, "no way"),
        Segment(3.0, 5.0, "really"),
        Segment(5.0, 5.01, "really"),  # a transition cue holding the line
    ]
    assert [s.text for s in dedupe_rolling(segments)] == ["and I said no", "no way", "really"]


def _rolling_cues(lines: list[list[str]]) -> list[Segment]:
    """Cues laid out the way YouTube's auto-caption WebVTT rolls lines up."""
    cues, t, previous = [], 0.0, ""
    for line in lines:
        words = " ".join(line)
        cues.append(Segment(t, t + 2.0, f"{previous} {words}".strip()))
        cues.append(Segment(t + 2.0, t + 2.01, words))
        t, previous = t + 2.01, words
    return cues


@given(
    st.lists(
        st.lists(st.sampled_from(["a", "b", "no", "the"]), min_size=1, max_size=5),
        min_size=1,
        max_size=8,
    )
)
def test_dedupe_keeps_every_spoken_word_exactly_once(lines: list[list[str]]) -> None:
    segments = dedupe_rolling(_rolling_cues(lines))
    assert " ".join(s.text for s in segments) == " ".join(w for line in lines for w in line)
    for earlier, later in zip(segments, segments[1:], strict=False):
        assert earlier.start <= earlier.end <= later.start
