"""Seams on real speech: cuts land in pauses, and chunked runs of the bundled engine match one chunk."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from engine.audio.decode import read_pcm
from engine.audio.media import split_audio
from engine.audio.quiet import FRAME, PAUSE_DB, speech_spans
from engine.providers.base import Chunk
from engine.providers.sphinx import SphinxTranscriber
from engine.segments import Segment
from engine.stitch import stitch
from tests.seam_metrics import SeamReport, compare
from tests.speech import NoSynthesiser, human_recording, read_passages

pytestmark = pytest.mark.timeout(300)
OVERLAP = 2.0


@pytest.fixture(scope="module")
def declaration(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Kept beside pytest's numbered run folders, so later runs reuse the audio.
    cache = tmp_path_factory.getbasetemp().parent / "speech-cache"
    try:
        return read_passages(["declaration"], cache)
    except NoSynthesiser as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def sphinx() -> Iterator[SphinxTranscriber]:
    with SphinxTranscriber(workers=2) as transcriber:
        yield transcriber


def _run(engine: SphinxTranscriber, chunks: list[Chunk]) -> list[Segment]:
    with ThreadPoolExecutor(2) as threads:
        transcripts = list(threads.map(engine.transcribe, chunks))
    return stitch([(c, t.segments) for c, t in zip(chunks, transcripts, strict=True)], OVERLAP)


def _chunked_vs_whole(
    engine: SphinxTranscriber, audio: Path, work: Path, chunk_seconds: float
) -> tuple[SeamReport, list[Chunk]]:
    whole = split_audio(audio, work / "whole", chunk_seconds=3600.0, overlap=OVERLAP)
    chunks = split_audio(audio, work / "chunks", chunk_seconds=chunk_seconds, overlap=OVERLAP)
    report = compare(_run(engine, whole), _run(engine, chunks), chunks, whole[-1].end)
    return report, chunks


def test_cuts_in_synthesised_speech_fall_in_its_pauses(declaration: Path, tmp_path: Path) -> None:
    chunks = split_audio(declaration, tmp_path, chunk_seconds=10.0, overlap=OVERLAP)
    source = np.frombuffer(read_pcm(declaration), dtype=np.int16)
    frames = source[: len(source) // FRAME * FRAME].astype(np.float64).reshape(-1, FRAME)
    loud = float(np.percentile((frames**2).mean(axis=1), 95))
    assert len(chunks) >= 3
    pauses, last_seam = 0, 0.0
    for prev, cur in zip(chunks, chunks[1:], strict=False):
        seam = (prev.end + cur.start) / 2
        assert abs(seam - (last_seam + 10.0)) <= 1.0 + 0.01  # within 10% of the nominal cut
        last_seam = seam
        if prev.end - cur.start < OVERLAP:  # cut in a pause: what both chunks hold is quiet
            pauses += 1
            shared = source[round(cur.start * 16000) : round(prev.end * 16000)]
            power = (shared[: len(shared) // FRAME * FRAME].astype(np.float64) ** 2).reshape(
                -1, FRAME
            )
            assert shared.size and power.mean(axis=1).max() <= loud * 10 ** (-PAUSE_DB / 10)
    assert pauses >= 2  # espeak-ng pauses between clauses; the cut finds them
    # Dropping what each chunk shares with the one before gives back the source exactly.
    pieces = [read_pcm(c.path) for c in chunks]
    joined = pieces[0] + b"".join(
        piece[round((prev.end - cur.start) * 16000) * 2 :]
        for prev, cur, piece in zip(chunks, chunks[1:], pieces[1:], strict=False)
    )
    assert joined == source.tobytes()
    assert all(round(c.start * 16000) % FRAME == 0 for c in chunks)


def test_speech_stretches_are_the_same_in_a_chunk_as_in_the_whole(
    declaration: Path, tmp_path: Path
) -> None:
    whole = np.frombuffer(read_pcm(declaration), dtype=np.int16)
    spans = {(a, b) for a, b in speech_spans(whole, 16000)}
    inner = []
    for chunk in split_audio(declaration, tmp_path, chunk_seconds=10.0, overlap=OVERLAP):
        offset = round(chunk.start * 16000)
        pcm = np.frombuffer(read_pcm(chunk.path), dtype=np.int16)
        # The first and last stretch of a chunk may run over a cut made where nobody paused.
        inner += [(a + offset, b + offset) for a, b in speech_spans(pcm, 16000)[1:-1]]
    assert len(inner) >= 3
    assert [span for span in inner if span not in spans] == []


def _assert_seams_clean(report: SeamReport) -> None:
    assert report.seams >= 2
    assert report.added_per_seam <= 0.5, report
    assert report.lost_per_seam <= 0.5, report
    assert report.repeated == (), report
    assert report.timeline_faults == (), report
    assert report.max_shift <= 0.5, report  # words both runs agree on sit at the same time


def test_bundled_engine_chunked_matches_one_chunk_on_synthesised_speech(
    declaration: Path, sphinx: SphinxTranscriber, tmp_path: Path
) -> None:
    report, _ = _chunked_vs_whole(sphinx, declaration, tmp_path, 10.0)
    _assert_seams_clean(report)


def test_bundled_engine_chunked_matches_one_chunk_on_two_people_reading(
    sphinx: SphinxTranscriber, tmp_path: Path
) -> None:
    audio = human_recording("endgame_nagg_nell.wav")  # 28 s, two voices, a room's noise floor
    if audio is None:
        pytest.skip("moonshine-voice (dev dependency with human recordings) is not installed")
    report, chunks = _chunked_vs_whole(sphinx, audio, tmp_path, 10.0)
    assert len(chunks) >= 3
    _assert_seams_clean(report)
