"""pocketsphinx on the bundled example speech: words come back, timed, from threads and processes."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from engine.audio.decode import probe
from engine.audio.media import split_audio
from engine.errors import MediaError, ProviderError
from engine.providers.base import Chunk, Transcriber
from engine.providers.sphinx import SphinxTranscriber, Word, group_words
from engine.stitch import stitch

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _whole(name: str) -> Chunk:
    path = EXAMPLES / name
    return Chunk(0, 0.0, probe(path).duration or 0.0, path)


def _words(transcript_text: str) -> set[str]:
    return set(transcript_text.lower().split())


@pytest.fixture(scope="module")
def pool() -> Iterator[SphinxTranscriber]:
    with SphinxTranscriber(workers=2) as transcriber:
        yield transcriber


def test_meets_the_transcriber_contract() -> None:
    engine: Transcriber = SphinxTranscriber(in_process=True)
    assert (engine.name, engine.service, engine.max_upload_bytes) == ("sphinx", None, None)


def test_recognises_hello_world_in_process() -> None:
    chunk = _whole("hello.wav")
    result = SphinxTranscriber(in_process=True).transcribe(chunk, language="en")
    text = " ".join(s.text for s in result.segments)
    assert {"hello", "world", "three"} <= _words(text)
    assert result.language == "en"
    for seg in result.segments:
        assert 0.0 <= seg.start <= seg.end <= chunk.duration + 0.1


def test_process_pool_serves_several_threads_at_once(pool: SphinxTranscriber) -> None:
    chunks = [_whole("podcast.mp3"), _whole("lecture.mp4")]
    with ThreadPoolExecutor(2) as threads:
        podcast, lecture = threads.map(pool.transcribe, chunks)
    podcast_text = " ".join(s.text for s in podcast.segments)
    lecture_text = " ".join(s.text for s in lecture.segments)
    assert "five six seven eight nine ten" in podcast_text
    assert {"quick", "brown", "fox"} <= _words(lecture_text)


def test_chunked_then_stitched_keeps_the_words_in_order(
    pool: SphinxTranscriber, tmp_path: Path
) -> None:
    chunks = split_audio(EXAMPLES / "podcast.mp3", tmp_path, chunk_seconds=5.0, overlap=1.0)
    assert len(chunks) == 2
    pieces = [(chunk, pool.transcribe(chunk).segments) for chunk in chunks]
    segments = stitch(pieces, overlap=1.0)
    words = " ".join(s.text for s in segments).split()
    assert "welcome" in words and "nine" in words
    assert words.index("welcome") < words.index("nine")
    assert all(a.start < b.start for a, b in zip(segments, segments[1:], strict=False))


def test_bad_chunk_raises_a_media_error_through_the_pool(
    pool: SphinxTranscriber, tmp_path: Path
) -> None:
    broken = tmp_path / "chunk-0000.flac"
    broken.write_bytes(b"not audio at all" * 100)
    with pytest.raises(MediaError, match="chunk-0000.flac") as caught:
        pool.transcribe(Chunk(0, 0.0, 1.0, broken))
    assert caught.value.hint  # the hint survives the trip back from the worker process


def test_other_languages_are_refused_with_a_way_out() -> None:
    with pytest.raises(ProviderError, match="only knows English") as caught:
        SphinxTranscriber(in_process=True).transcribe(_whole("hello.wav"), language="fr")
    assert "whisper" in caught.value.hint


def test_resize_follows_the_worker_count(pool: SphinxTranscriber) -> None:
    pool.resize(1)
    assert pool.processes == 1
    assert "hello" in pool.transcribe(_whole("hello.wav")).segments[0].text
    pool.resize(2)
    assert pool.processes == 2


def test_words_are_grouped_at_pauses_and_length() -> None:
    words = [Word(0.0, 0.4, "one"), Word(0.5, 0.9, "two"), Word(2.0, 2.4, "three")]
    words += [Word(3.0 + i, 3.5 + i, f"w{i}") for i in range(12)]
    segments = group_words(words, pause=0.5, longest=10.0)
    assert [s.text for s in segments][:2] == ["one two", "three"]
    assert all(s.end - s.start <= 10.0 for s in segments)
    assert " ".join(s.text for s in segments).split() == [w.text for w in words]


SCRIPT_UNDER_THE_APP = """
import sys
from pathlib import Path
from engine.audio.media import split_audio
from engine.providers.sphinx import SphinxTranscriber


class AppStderr:
    # What the full-screen app puts in place of sys.stderr while it runs: no real descriptor.
    def write(self, text): return len(text)
    def flush(self): pass
    def fileno(self): return -1


chunk = split_audio(Path(sys.argv[1]), Path(sys.argv[2]))[0]
with SphinxTranscriber(workers=2) as sphinx:  # made before the app starts, as the batch is
    real, sys.stderr = sys.stderr, AppStderr()
    try:
        text = " ".join(s.text for s in sphinx.transcribe(chunk).segments)
    finally:
        sys.stderr = real
print(text)
"""


def test_worker_processes_start_while_the_app_holds_stderr(tmp_path: Path) -> None:
    """Under the full-screen app every chunk once failed: 'bad value(s) in fds_to_keep'."""
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", SCRIPT_UNDER_THE_APP, str(EXAMPLES / "hello.wav"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert {"hello", "world"} <= set(result.stdout.split())


def test_segments_carry_their_word_timings_inside_the_audio() -> None:
    chunk = _whole("hello.wav")
    segments = SphinxTranscriber(in_process=True).transcribe(chunk).segments
    assert segments
    for seg in segments:
        assert [w.text for w in seg.words] == seg.text.split()
        assert seg.start == seg.words[0].start and seg.end == seg.words[-1].end
        assert all(a.end <= b.start for a, b in zip(seg.words, seg.words[1:], strict=False))
        assert all(0.0 <= w.start < w.end <= chunk.duration + 0.05 for w in seg.words)
