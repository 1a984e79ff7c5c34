"""Bounded replies: a body over the cap, a trickling server and a gzip bomb each stop with a clear error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from engine.errors import ReplyTooLarge, ReplyTooSlow, describe
from engine.http_bounds import MB, Deadline, ReplyBounds, read_chunks
from engine.providers.base import Chunk
from engine.providers.openai import OpenAITranscriber
from engine.sources.caption_tracks import fetch_captions, try_captions
from engine.sources.remote import RemoteInfo
from tests.mediagen import write_tone
from tests.servers.hostile_http import Behaviour, HostileServer

pytestmark = pytest.mark.timeout(60)
SMALL = ReplyBounds(max_bytes=1 * MB, base_seconds=1.5, min_bytes_per_second=10 * MB)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("upload", "seconds"), [(0, 180.0), (32 * 1024, 181.0), (25 * MB, 180.0 + 800.0)]
)
def test_the_deadline_grows_with_the_upload(upload: int, seconds: float) -> None:
    assert ReplyBounds().seconds_for(upload) == pytest.approx(seconds)


def test_no_single_wait_is_longer_than_the_whole_request() -> None:
    clipped = SMALL.timeout(httpx.Timeout(300.0, connect=30.0), upload_bytes=0)
    assert (clipped.read, clipped.write, clipped.connect, clipped.pool) == (1.5, 1.5, 1.5, 1.5)


def test_a_deadline_passes_on_its_own_clock() -> None:
    clock = FakeClock()
    deadline = Deadline(10.0, clock=clock)
    deadline.check("the server")
    clock.now += 10.5
    with pytest.raises(ReplyTooSlow, match="within 10 s") as slow:
        deadline.check("the server")
    assert describe(slow.value)[0::2] == ("network", True)


@pytest.mark.parametrize(("pieces", "fits"), [(15, True), (16, True), (17, False), (1000, False)])
def test_a_body_is_read_up_to_its_cap_and_no_further(pieces: int, fits: bool) -> None:
    read = 0

    def chunks() -> Iterator[bytes]:
        nonlocal read
        for _ in range(pieces):
            read += 1
            yield b"x" * (64 * 1024)

    deadline = Deadline(60.0)
    if fits:
        assert len(read_chunks(chunks(), max_bytes=1 * MB, deadline=deadline, what="s")) == (
            pieces * 64 * 1024
        )
    else:
        with pytest.raises(ReplyTooLarge, match="larger than 1 MB"):
            read_chunks(chunks(), max_bytes=1 * MB, deadline=deadline, what="s")
        assert read == 17  # stopped at the first piece past the cap


@pytest.fixture
def chunk(tmp_path: Path) -> Chunk:
    path = write_tone(tmp_path / "c.wav", 1.0, 440)
    return Chunk(0, 0.0, 1.0, path)


def _transcriber(server: HostileServer) -> OpenAITranscriber:
    transcriber = OpenAITranscriber(f"{server.base_url}/v1", ["sk-local"])
    transcriber.bounds = SMALL
    return transcriber


@pytest.mark.parametrize(
    "behaviour",
    [
        Behaviour("huge", size=100 * MB, declare=True),
        Behaviour("huge", size=100 * MB, declare=False),  # chunked: no length to refuse early
        Behaviour("gzip-bomb", size=200 * MB),  # 200 KB on the wire
    ],
    ids=["declared", "chunked", "gzip-bomb"],
)
def test_the_api_provider_stops_reading_a_huge_reply(chunk: Chunk, behaviour: Behaviour) -> None:
    with HostileServer(behaviour) as server:
        transcriber = _transcriber(server)
        with pytest.raises(ReplyTooLarge) as big:
            transcriber.transcribe(chunk)
        transcriber.close()
        sent = server.sent
    assert (
        big.value.message == "the transcription API sent a reply larger than 1 MB; stopped reading"
    )
    assert not big.value.transient
    if behaviour.name == "huge":
        assert sent < 60 * MB  # the client hung up long before the end of the 100 MB


def test_the_api_provider_cuts_off_a_trickling_reply(chunk: Chunk) -> None:
    # One byte every 0.3 s never trips httpx's per-read timeout (300 s here).
    with HostileServer(Behaviour("trickle", size=1000, interval=0.3)) as server:
        transcriber = _transcriber(server)
        with pytest.raises(ReplyTooSlow) as slow:
            transcriber.transcribe(chunk)
        transcriber.close()
    assert "the transcription API sent no complete reply within 2 s" in slow.value.message
    assert slow.value.transient  # the engine retries it later like any network fault


def test_a_well_behaved_reply_still_reads(chunk: Chunk) -> None:
    with HostileServer(Behaviour("ok")) as server:
        transcriber = _transcriber(server)
        transcript = transcriber.transcribe(chunk)
        transcriber.close()
    assert [s.text for s in transcript.segments] == ["hello"]


def _track_info(url: str) -> RemoteInfo:
    return RemoteInfo(
        url=url, webpage_url=url, extractor="generic", id="talk", title="Talk",
        subtitles={"en": (("vtt", url),)},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("behaviour", "error", "text"),
    [
        (Behaviour("huge", size=100 * MB, declare=True), ReplyTooLarge, "larger than 1 MB"),
        (Behaviour("huge", size=100 * MB, declare=False), ReplyTooLarge, "larger than 1 MB"),
        (Behaviour("trickle", size=1000, interval=0.3), ReplyTooSlow, "within 2 s"),
    ],
    ids=["declared", "chunked", "trickle"],
)
def test_caption_downloads_are_bounded(
    monkeypatch: pytest.MonkeyPatch, behaviour: Behaviour, error: type[Exception], text: str
) -> None:
    monkeypatch.setattr("engine.sources.caption_fetch.CAPTION_BOUNDS", SMALL)
    with HostileServer(behaviour) as server:
        attempt = try_captions(_track_info(server.url("talk.en.vtt")), ["en"])
        sent = server.sent
    # The rendition is passed over with the bound's own words (the item then falls back to ASR).
    assert attempt.result is None and attempt.tried == 1
    assert text in attempt.failures[0] and "the caption server sent" in attempt.failures[0]
    if behaviour.name == "huge":
        assert sent < 60 * MB


def test_a_normal_caption_track_still_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("engine.sources.caption_fetch.CAPTION_BOUNDS", SMALL)
    with HostileServer(Behaviour("ok")) as server:
        found = fetch_captions(_track_info(server.url("talk.en.vtt")), ["en"])
    assert found is not None and [s.text for s in found.segments] == ["hello"]
