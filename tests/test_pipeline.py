"""The pipeline's tiers and outputs through the headless command: chunking, captions, formats, names."""

from __future__ import annotations

import csv
import json
import math
import os
import re
import threading
from array import array
from fractions import Fraction
from pathlib import Path

import av
import pytest

from tests.mediagen import write_tone
from tests.servers.media_host import MediaHost, Track
from tests.servers.openai_api import OpenAIServer
from tests.test_headless_e2e import api_flags, assert_no_traceback, run_cli, tone_text

pytestmark = pytest.mark.timeout(60)
SRT_TIME = re.compile(r"^(\d\d):(\d\d):(\d\d),(\d{3}) --> (\d\d):(\d\d):(\d\d),(\d{3})$")
VTT_TIME = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d{3}) --> (\d\d):(\d\d):(\d\d)\.(\d{3})$")
CAPTIONS_VTT = (
    "WEBVTT\n\n"
    "00:00:00.000 --> 00:00:01.500\nWelcome to the local talk.\n\n"
    "00:00:01.500 --> 00:00:03.000\nEverything here is a test.\n"
)


def write_long_tone(path: Path, seconds: int, freq: int = 400, rate: int = 8000) -> Path:
    """A long FLAC tone made fast: one second of samples, computed once and encoded repeatedly."""
    second = array("h", (int(12000 * math.sin(2 * math.pi * freq * i / rate)) for i in range(rate)))
    data = second.tobytes()
    with av.open(str(path), "w") as out:
        stream = out.add_stream("flac", rate=rate, layout="mono", format="s16")
        for index in range(seconds):
            frame = av.AudioFrame(format="s16", layout="mono", samples=rate)
            frame.planes[0].update(data)
            frame.sample_rate, frame.time_base, frame.pts = rate, Fraction(1, rate), index * rate
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


class InFlight:
    """A latency function for the server: each request waits until ``target`` are in flight at once.

    The peak it records proves requests overlapped; if they never do, each gives up after
    ``patience`` seconds and the peak stays low, so the test fails instead of hanging.
    """

    def __init__(self, target: int, patience: float = 10.0) -> None:
        self.target, self.patience = target, patience
        self.peak = self.now = 0
        self._changed = threading.Condition()

    def __call__(self, index: int) -> float:
        with self._changed:
            self.now += 1
            self.peak = max(self.peak, self.now)
            self._changed.notify_all()
            self._changed.wait_for(lambda: self.peak >= self.target, timeout=self.patience)
            self.now -= 1
        return 0.0


def cue_seconds(match: re.Match[str]) -> tuple[float, float]:
    h1, m1, s1, ms1, h2, m2, s2, ms2 = (int(g) for g in match.groups())
    return h1 * 3600 + m1 * 60 + s1 + ms1 / 1000, h2 * 3600 + m2 * 60 + s2 + ms2 / 1000


def srt_cues(text: str) -> list[tuple[float, float, str]]:
    """Parse SubRip strictly: counter, timing line, text lines, blank line."""
    cues = []
    for number, block in enumerate(text.strip("\n").split("\n\n"), start=1):
        lines = block.split("\n")
        assert lines[0] == str(number), block
        timing = SRT_TIME.match(lines[1])
        assert timing, block
        assert lines[2:] and all(lines[2:]), block
        cues.append((*cue_seconds(timing), " ".join(lines[2:])))
    return cues


# -- long media: chunks in parallel, one timeline ----------------------------------------------


def test_thirty_minutes_become_parallel_chunks_on_one_timeline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    long = write_long_tone(tmp_path / "lecture.flac", 1800)
    gate = InFlight(target=6)
    with OpenAIServer(latency=gate) as api:
        argv = [str(long), *api_flags(api, 8), "--chunk-seconds", "300", "--formats", "md,srt"]
        run = run_cli(argv, tmp_path, monkeypatch)
        arrivals = api.arrivals

    assert run.code == 0, run.stderr
    assert_no_traceback(run)
    # 1800 s in 300 s chunks: six requests (a tail under a quarter chunk would join the last one).
    assert len(arrivals) == 6
    assert all(a.status == 200 and a.freq == 400 for a in arrivals)
    assert sum(a.audio_seconds or 0 for a in arrivals) == pytest.approx(1800 + 5 * 2, abs=1)
    assert gate.peak == 6  # all six were at the server at once, not one after another
    (item,) = run.items
    assert (item["status"], item["chunks"], item["attempts"]) == ("done", 6, 1)

    cues = srt_cues((run.out / item["outputs"]["srt"]).read_text(encoding="utf-8"))
    starts = [start for start, _, _ in cues]
    assert starts == sorted(set(starts))  # strictly increasing
    assert all(start < end for start, end, _ in cues)
    assert all(end <= next_start for (_, end, _), next_start in zip(cues, starts[1:], strict=False))
    assert starts[0] < 1.0
    assert 1795 <= cues[-1][1] <= 1801
    # The tone never stops, so the subtitles run on too. The server says the same words in every
    # segment, so at a seam the stitcher may take the next chunk's first segment for a repeat of
    # what the overlap already heard and drop it: a gap there is shorter than one segment (5 s).
    # With word timings the cut falls between two words, which may leave the pause between them
    # as a second, shorter gap at the same seam.
    gaps = [(end, nxt) for (_, end, _), nxt in zip(cues, starts[1:], strict=False) if nxt > end]
    assert len(gaps) <= 2 * 5, gaps
    for end, nxt in gaps:
        assert nxt - end < 5.0 and abs(end - 300 * round(end / 300)) <= 2.0, (end, nxt)
    # At a seam the words both chunks heard are kept once, so a cue there may hold only part of
    # the phrase; every cue is the tone's own words, and whole phrases make up the rest.
    assert all(text in tone_text(400) for _, _, text in cues)
    assert sum(text == tone_text(400) for _, _, text in cues) >= len(cues) - 2 * 5


# -- captions first, ASR when told --------------------------------------------------------------


@pytest.fixture
def talk_site(tmp_path: Path) -> MediaHost:
    site = tmp_path / "site"
    site.mkdir()
    write_tone(site / "talk.mp4", 3.0, 330, video=True)
    (site / "talk.en.vtt").write_text(CAPTIONS_VTT, encoding="utf-8")
    return MediaHost(site)


def test_a_page_with_subtitles_is_transcribed_from_them_without_asr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, talk_site: MediaHost
) -> None:
    with OpenAIServer() as api, talk_site as host:
        page = host.add_page(
            "talk", "talk.mp4", title="A Local Talk", tracks=[Track("talk.en.vtt")]
        )
        run = run_cli([page, *api_flags(api, 2), "--formats", "md,json"], tmp_path, monkeypatch)
        asr_requests = len(api.arrivals)
        media_fetched = [r for r in host.requests if r.path.endswith("talk.mp4")]

    assert run.code == 0, run.stderr
    assert asr_requests == 0
    assert media_fetched == []  # captions are enough: the video itself is never downloaded
    item = run.item(page)
    assert (item["status"], item["method"], item["language"]) == ("done", "captions", "en")
    assert run.segments(item) == [
        {"start": 0.0, "end": 1.5, "text": "Welcome to the local talk."},
        {"start": 1.5, "end": 3.0, "text": "Everything here is a test."},
    ]
    fields, body = run.note(item)
    assert (fields["title"], fields["method"], fields["url"]) == ("A Local Talk", "captions", page)
    assert "Welcome to the local talk. Everything here is a test." in body


def test_no_captions_sends_the_same_page_to_asr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, talk_site: MediaHost
) -> None:
    with OpenAIServer() as api, talk_site as host:
        page = host.add_page(
            "talk", "talk.mp4", title="A Local Talk", tracks=[Track("talk.en.vtt")]
        )
        argv = [page, *api_flags(api, 2), "--no-captions", "--formats", "md,json"]
        run = run_cli(argv, tmp_path, monkeypatch)
        arrivals = api.arrivals

    assert run.code == 0, run.stderr
    assert [(a.status, a.freq) for a in arrivals] == [(200, 330)]
    item = run.item(page)
    assert (item["status"], item["method"], item["engine"]) == ("done", "asr", "openai")
    assert [s["text"] for s in run.segments(item)] == [tone_text(330)]
    assert "Welcome" not in (run.out / item["outputs"]["md"]).read_text(encoding="utf-8")


# -- output formats, timestamps and hostile titles ----------------------------------------------


def test_every_format_is_written_and_valid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_tone(tmp_path / "talk.wav", 12.0, 440)
    with OpenAIServer() as api:
        argv = ["talk.wav", *api_flags(api, 1), "--formats", "md,txt,srt,vtt,json", "--timestamps"]
        run = run_cli(argv, tmp_path, monkeypatch)

    assert run.code == 0, run.stderr
    (item,) = run.items
    assert set(item["outputs"]) == {"md", "txt", "srt", "vtt", "json"}
    assert sorted(p.name for p in run.out.iterdir()) == sorted(
        [f"talk.{ext}" for ext in ("md", "txt", "srt", "vtt", "json")]
        + ["items.csv", "manifest.json"]
    )
    expected = [(0.0, 5.0), (5.0, 10.0), (10.0, 12.0)]  # the server speaks in 5 s segments

    cues = srt_cues((run.out / "talk.srt").read_text(encoding="utf-8"))
    assert [(start, end) for start, end, _ in cues] == expected
    vtt = (run.out / "talk.vtt").read_text(encoding="utf-8").split("\n")
    assert vtt[0] == "WEBVTT" and vtt[1] == ""
    timings = [cue_seconds(m) for line in vtt if (m := VTT_TIME.match(line))]
    assert timings == expected
    doc = json.loads((run.out / "talk.json").read_text(encoding="utf-8"))
    assert (doc["title"], doc["method"], doc["duration"]) == ("talk", "asr", 12.0)
    assert [(s["start"], s["end"], s["text"]) for s in doc["segments"]] == [
        (start, end, tone_text(440)) for start, end in expected
    ]
    txt = (run.out / "talk.txt").read_text(encoding="utf-8")
    assert txt.startswith("[00:00] tone 440 hertz")  # --timestamps marks each paragraph
    fields, body = run.note(item)
    assert fields["duration"] == 12 and fields["duration_hms"] == "0:00:12"
    assert "\n[00:00] tone 440 hertz" in body


HOSTILE_TITLES = (
    'He said "hi": part 1',
    "../../escape/attempt",
    "line one\nline two",
    "CON",
    "..",
    "---\nkey: value\n---",
    "a/b\\c|d*e?f<g>h",
    "'quoted' & #tagged: yes",
)


def test_hostile_titles_give_safe_names_and_clean_frontmatter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    with (ws / "titles.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "title", "note: extra"])
        for index, title in enumerate(HOSTILE_TITLES):
            write_tone(ws / f"t{index}.wav", 1.0, 300 + 10 * index)
            writer.writerow([f"t{index}.wav", title, f'x: "{index}"\n- y'])
    before = {p for p in tmp_path.rglob("*")}

    with OpenAIServer() as api:
        run = run_cli(["titles.csv", *api_flags(api, 4), "--formats", "md,txt"], ws, monkeypatch)

    assert run.code == 0, run.stderr
    assert_no_traceback(run)
    created = {p for p in tmp_path.rglob("*")} - before
    assert all(p.parent == run.out or p == run.out for p in created), sorted(map(str, created))
    names = [p.name for p in run.out.iterdir()]
    assert len(names) == len(HOSTILE_TITLES) * 2 + 2
    for name in names:
        assert not set(name) & set('/\\:*?"<>|\n'), name
        assert not name.startswith(".") and os.path.splitext(name)[0].upper() != "CON"
    for index, title in enumerate(HOSTILE_TITLES):
        item = run.item(f"t{index}.wav")
        fields, body = run.note(item)
        assert fields["title"] == title
        assert fields["note: extra"] == f'x: "{index}"\n- y'
        assert set(fields) >= {"source", "method", "engine", "duration"}
        assert tone_text(300 + 10 * index) in body


# -- podcast feeds ------------------------------------------------------------------------------

FEED = """<?xml version="1.0"?>
<rss version="2.0"><channel><title>Local Pod</title>
<item><title>Episode 1: Hello</title><guid>ep-1</guid>
<enclosure url="{base}/media/ep1.mp3" type="audio/mpeg"/></item>
<item><title>Episode 2</title><guid>ep-2</guid>
<enclosure url="{base}/media/ep2.m4a" type="audio/mp4"/></item>
</channel></rss>"""


def test_a_podcast_feed_becomes_one_transcript_per_episode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    write_tone(site / "ep1.mp3", 1.0, 440)
    write_tone(site / "ep2.m4a", 1.0, 550)
    with OpenAIServer() as api, MediaHost(site) as host:
        feed = host.media_url("feed.xml")
        (site / "feed.xml").write_text(FEED.format(base=host.base_url), encoding="utf-8")
        run = run_cli([feed, *api_flags(api, 2), "--formats", "md,json"], tmp_path, monkeypatch)

    assert run.code == 0, run.stderr
    assert run.manifest["counts"] == {"done": 3}
    parent = run.item(feed)
    assert (parent["title"], parent["method"], parent["outputs"]) == ("Local Pod", "playlist", {})
    for name, title, freq in (("ep1.mp3", "Episode 1: Hello", 440), ("ep2.m4a", "Episode 2", 550)):
        episode = run.item(host.media_url(name))
        assert (episode["origin"], episode["title"], episode["method"]) == (feed, title, "asr")
        assert [s["text"] for s in run.segments(episode)] == [tone_text(freq)]
    assert sorted(p.name for p in run.out.glob("*.md")) == ["Episode 1 - Hello.md", "Episode 2.md"]
