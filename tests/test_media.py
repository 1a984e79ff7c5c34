"""Probing and chunking real media written by PyAV: containers, broken files, chunk timing and sizes."""

from __future__ import annotations

import os
from pathlib import Path

import av
import pytest

from engine.audio.decode import probe, read_pcm
from engine.audio.media import split_audio
from engine.errors import InputError, MediaError
from tests.mediagen import write_tone

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
BPS = 32000  # bytes per second of s16 mono 16 kHz


@pytest.fixture(scope="module")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="module")
def long_tone(media_dir: Path) -> Path:
    return write_tone(media_dir / "long.flac", seconds=95.0, freq=330.0)


def _video_without_audio(path: Path) -> Path:
    with av.open(str(path), mode="w") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(10):
            frame = av.VideoFrame(64, 48, "yuv420p")
            for plane in frame.planes:
                plane.update(bytes(plane.buffer_size))
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


@pytest.mark.parametrize(
    ("suffix", "video"),
    [(".wav", False), (".mp3", False), (".flac", False), (".ogg", False), (".m4a", False),
     (".mp4", True), (".mkv", True)],
)  # fmt: skip
def test_probe_reads_each_container(media_dir: Path, suffix: str, video: bool) -> None:
    path = write_tone(media_dir / f"tone{suffix}", seconds=1.5, video=video)
    info = probe(path)
    assert info.has_audio
    assert info.has_video is video
    assert info.duration == pytest.approx(1.5, abs=0.1)
    assert info.size == path.stat().st_size
    assert info.format_name
    # Every container decodes to the same 16 kHz mono timeline.
    assert len(read_pcm(path)) / BPS == pytest.approx(1.5, abs=0.05)


def test_probe_reads_title_and_artist_tags() -> None:
    podcast = probe(EXAMPLES / "podcast.mp3")
    assert (podcast.title, podcast.artist) == ("Counting to Ten", "Bulkscribe Examples")
    assert not podcast.has_video
    lecture = probe(EXAMPLES / "lecture.mp4")
    assert lecture.has_video and lecture.title == "A Very Short Lecture"
    assert probe(EXAMPLES / "hello.wav").title is None


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        probe(tmp_path / "nope.mp3")
    with pytest.raises(InputError):
        split_audio(tmp_path / "nope.mp3", tmp_path / "work")


def test_broken_inputs_say_what_is_wrong(media_dir: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp3"
    empty.write_bytes(b"")
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(os.urandom(40_000))
    text = tmp_path / "notes.bin"
    text.write_bytes(bytes(range(256)) * 64)
    good = write_tone(tmp_path / "good.mp4", seconds=1.0, video=True).read_bytes()
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(good[: len(good) // 2])
    silent_video = _video_without_audio(tmp_path / "silent.mp4")

    cases = {
        empty: "empty file",
        junk: "not a media file or corrupt",
        text: "not a media file or corrupt",
        truncated: "not a media file or corrupt",
        silent_video: "no audio track",
    }
    for path, message in cases.items():
        with pytest.raises(MediaError, match=message) as caught:
            probe(path)
        assert path.name in caught.value.message
        with pytest.raises(MediaError):
            split_audio(path, tmp_path / "work")


def test_audio_track_with_no_samples_decodes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "hollow.wav"
    with av.open(str(path), mode="w") as out:
        stream = out.add_stream("pcm_s16le", rate=16000)
        out.start_encoding()
        out.mux(stream.encode(None))
    with pytest.raises(MediaError, match="no audio decoded"):
        split_audio(path, tmp_path / "work")


def _chunk_pcm(chunks: list) -> list[bytes]:
    return [read_pcm(chunk.path) for chunk in chunks]


def test_split_times_overlap_and_tail_merge(long_tone: Path, tmp_path: Path) -> None:
    chunks = split_audio(long_tone, tmp_path, chunk_seconds=30.0, overlap=2.0)
    # 95 s of a steady tone: no moment is quieter than another, so the seams stay at 30 and 60 s
    # with the overlap around them; the 5 s tail is under a quarter chunk and joins the last one.
    assert [(c.index, c.start, c.end) for c in chunks] == [
        (0, 0.0, 31.0),
        (1, 29.0, 61.0),
        (2, 59.0, 95.0),
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"chunk-000{i}.flac" for i in range(3)]
    pcm = _chunk_pcm(chunks)
    for chunk, data in zip(chunks, pcm, strict=True):
        assert len(data) == round(chunk.duration * BPS)
    # The overlap holds the same audio in both neighbours.
    assert pcm[0][-2 * BPS :] == pcm[1][: 2 * BPS]
    assert pcm[1][-2 * BPS :] == pcm[2][: 2 * BPS]
    # Dropping the overlaps gives back the source exactly.
    joined = pcm[0] + pcm[1][2 * BPS :] + pcm[2][2 * BPS :]
    assert joined == read_pcm(long_tone)


def test_split_keeps_a_long_tail_as_its_own_chunk(long_tone: Path, tmp_path: Path) -> None:
    chunks = split_audio(long_tone, tmp_path, chunk_seconds=25.0, overlap=1.0)
    # The 20 s tail is more than a quarter chunk, so it stands alone.
    assert [(c.start, c.end) for c in chunks] == [(0, 25.5), (24.5, 50.5), (49.5, 75.5), (74.5, 95)]


def test_split_short_file_is_one_chunk_and_clears_old_chunks(
    media_dir: Path, tmp_path: Path
) -> None:
    (tmp_path / "chunk-0007.flac").write_bytes(b"left over from an earlier run")
    chunks = split_audio(write_tone(media_dir / "short.mp3", seconds=3.0), tmp_path)
    assert len(chunks) == 1 and chunks[0].start == 0.0
    assert chunks[0].end == pytest.approx(3.0, abs=0.05)
    assert [p.name for p in tmp_path.iterdir()] == ["chunk-0000.flac"]


def test_max_bytes_splits_again_until_every_chunk_fits(long_tone: Path, tmp_path: Path) -> None:
    whole = split_audio(long_tone, tmp_path / "whole", chunk_seconds=30.0, overlap=2.0)
    limit = max(c.path.stat().st_size for c in whole) // 3
    chunks = split_audio(
        long_tone, tmp_path / "fit", chunk_seconds=30.0, overlap=2.0, max_bytes=limit
    )
    assert len(chunks) > 3 * len(whole) - 1
    assert all(c.path.stat().st_size <= limit for c in chunks)
    assert [c.index for c in chunks] == list(range(len(chunks)))
    assert chunks[0].start == 0.0 and chunks[-1].end == 95.0
    for prev, cur in zip(chunks, chunks[1:], strict=False):
        assert cur.start < prev.end  # no gap in the timeline
        assert cur.start > prev.start
    for chunk in chunks:
        assert len(read_pcm(chunk.path)) == round(chunk.duration * BPS)


def test_max_bytes_too_small_to_hold_anything_is_a_media_error(
    long_tone: Path, tmp_path: Path
) -> None:
    with pytest.raises(MediaError, match="cannot fit"):
        split_audio(long_tone, tmp_path, chunk_seconds=30.0, overlap=2.0, max_bytes=2_000)


def test_split_rejects_nonsense_sizes(long_tone: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        split_audio(long_tone, tmp_path, chunk_seconds=10.0, overlap=6.0)


def test_stream_that_changes_sample_rate_midway_decodes_fully(tmp_path: Path) -> None:
    # Two MP3s glued together, as some podcast hosts serve ads: 16 kHz, then 44.1 kHz.
    first = write_tone(tmp_path / "a.mp3", seconds=2.0, rate=16000).read_bytes()
    second = write_tone(tmp_path / "b.mp3", seconds=2.0, rate=44100).read_bytes()
    glued = tmp_path / "glued.mp3"
    glued.write_bytes(first + second)
    assert len(read_pcm(glued)) / BPS == pytest.approx(4.0, abs=0.15)


def test_cuts_at_once_never_exceed_the_encode_slots(
    media_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sixteen threads cutting at once keep at most ENCODE_SLOTS FLAC encoders (~7 MB each) open."""
    import threading

    import engine.audio.media as media

    slots = threading.BoundedSemaphore(2)
    monkeypatch.setattr(media, "ENCODE_SLOTS", slots)
    lock = threading.Lock()
    open_now, most = 0, 0
    real = media._FlacWriter

    class CountingWriter(real):  # type: ignore[misc, valid-type]
        def __init__(self, path: Path) -> None:
            nonlocal open_now, most
            super().__init__(path)
            with lock:
                open_now += 1
                most = max(most, open_now)

        def close(self) -> None:
            nonlocal open_now
            super().close()
            with lock:
                open_now -= 1

    monkeypatch.setattr(media, "_FlacWriter", CountingWriter)
    source = write_tone(media_dir / "cap.flac", seconds=3.0, freq=550.0)
    results: list[int] = []
    threads = [
        threading.Thread(
            target=lambda i=i: results.append(len(split_audio(source, tmp_path / f"w{i}")))
        )
        for i in range(16)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [1] * 16  # every cut finished with its one chunk
    assert 1 <= most <= 2


def test_the_app_caps_malloc_arenas_on_glibc() -> None:
    import platform

    from tui.memory import cap_malloc_arenas

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("mallopt is a glibc call")
    assert cap_malloc_arenas(2) is True


def test_local_engines_get_a_multiple_of_their_processes_in_chunks() -> None:
    from engine.audio.media import balanced_chunk_seconds

    # 200 s at 30 s is 7 chunks: on 2 processes the last one runs alone. 8 of 25 s do not.
    assert balanced_chunk_seconds(200.0, 30.0, 2) == 25.0
    assert balanced_chunk_seconds(240.0, 30.0, 2) == 30.0  # 8 already
    assert balanced_chunk_seconds(200.0, 30.0, 1) == 30.0
    assert (
        balanced_chunk_seconds(35.0, 30.0, 2) == 30.0
    )  # fits one chunk with its tail: stays whole
    assert balanced_chunk_seconds(None, 30.0, 2) == 30.0
