"""Cutting media into FLAC chunks for ASR: 16 kHz mono, cut where it is quietest, sized to fit."""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from engine.audio.decode import SAMPLE_RATE, iter_pcm
from engine.audio.quiet import FRAME, find_cut
from engine.errors import MediaError
from engine.providers.base import Chunk

_WRITE_BLOCK = 8192  # samples per encoded frame
SEARCH_SHARE = 0.1  # a cut may move this share of a chunk either way to land where nobody speaks


def _encode_slots() -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 2
    return max(2, min(8, cores))


# Cutting is CPU-bound, and each open FLAC encoder holds about 7 MB of native memory. More cuts at
# once than there are cores add memory, not speed: with 64 workers, 64 encoders cost ~450 MB.
ENCODE_SLOTS = threading.BoundedSemaphore(_encode_slots())


class _FlacWriter:
    """One FLAC file being written from s16 mono PCM bytes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.samples = 0
        self._out = av.open(str(path), mode="w", format="flac")
        self._stream = self._out.add_stream("flac", rate=SAMPLE_RATE, layout="mono", format="s16")

    def write(self, pcm: bytes | bytearray | memoryview) -> None:
        step = _WRITE_BLOCK * 2
        for at in range(0, len(pcm), step):
            block = pcm[at : at + step]
            n = len(block) // 2
            frame = av.AudioFrame(format="s16", layout="mono", samples=n)
            frame.planes[0].update(bytes(block).ljust(frame.planes[0].buffer_size, b"\0"))
            frame.sample_rate = SAMPLE_RATE
            frame.time_base = Fraction(1, SAMPLE_RATE)
            frame.pts = self.samples
            self.samples += n
            for packet in self._stream.encode(frame):
                self._out.mux(packet)

    def close(self) -> None:
        for packet in self._stream.encode(None):
            self._out.mux(packet)
        self._out.close()


def _cut(
    blocks: Iterator[bytes], workdir: Path, stem: str, chunk_seconds: float, overlap: float
) -> list[tuple[int, int, Path]]:
    """Write chunk files from a PCM stream, cut where it is quietest; return sample spans and paths.

    Around each nominal boundary (one chunk length after the last seam) the audio is held
    back until the cut is chosen within ``SEARCH_SHARE`` of a chunk either side: in a pause
    the neighbours share only silence, elsewhere ``overlap`` seconds around the quietest
    moment. A tail of under a quarter chunk joins the last chunk instead of standing alone.
    """
    # Whole 10 ms frames (the overlap in pairs of them), so every cut keeps the frame grid.
    size = max(1, round(chunk_seconds * SAMPLE_RATE / FRAME)) * FRAME
    lap = round(overlap * SAMPLE_RATE / (2 * FRAME)) * 2 * FRAME
    reach = round(SEARCH_SHARE * size / FRAME) * FRAME
    tail_limit = max(size // 4, reach)
    spans: list[tuple[int, int, Path]] = []
    writer = _FlacWriter(workdir / f"{stem}-{0:04d}.flac")
    start = 0  # first sample of the open chunk
    boundary = size  # nominal end of the open chunk
    held = bytearray()  # audio from `held_from` on, waiting for the cut near `boundary`
    held_from = 0
    total = 0
    for block in blocks:
        view = memoryview(block)
        while view:
            hold_at = boundary - reach - lap
            if total < hold_at:
                take = min(len(view), (hold_at - total) * 2)
                writer.write(view[:take])
                held_from = total + take // 2
            else:
                take = min(len(view), (boundary + tail_limit - total) * 2)
                held += view[:take]
            total += take // 2
            view = view[take:]
            if total == boundary + tail_limit:
                cut = find_cut(
                    np.frombuffer(bytes(held), dtype=np.int16),
                    lo=boundary - reach - held_from,
                    hi=boundary + reach - held_from,
                    nominal=boundary - held_from,
                    lap=lap,
                    rate=SAMPLE_RATE,
                )
                writer.write(held[: cut.end * 2])
                writer.close()
                spans.append((start, held_from + cut.end, writer.path))
                writer = _FlacWriter(workdir / f"{stem}-{len(spans):04d}.flac")
                start = held_from + cut.start
                # Everything held is shorter than a chunk, so it all opens the next one.
                writer.write(held[cut.start * 2 :])
                boundary = held_from + cut.seam + size
                held = bytearray()
                held_from = total
    writer.write(held)
    writer.close()
    if total > start:
        spans.append((start, total, writer.path))
    else:
        writer.path.unlink(missing_ok=True)
    return spans


def balanced_chunk_seconds(duration: float | None, chunk_seconds: float, parallel: int) -> float:
    """A chunk length near ``chunk_seconds`` that cuts ``duration`` into a multiple of ``parallel``.

    A CPU-bound engine decoding 7 equal chunks on 2 processes runs 4 after 3: the last
    quarter of the run uses one core. 8 slightly shorter chunks keep both busy to the end.
    Media that fits in one chunk stays whole.
    """
    if not duration or parallel <= 1 or duration <= chunk_seconds * 1.25:
        return chunk_seconds
    count = parallel * math.ceil(math.ceil(duration / chunk_seconds) / parallel)
    return duration / count


def split_audio(
    path: Path | str,
    workdir: Path | str,
    chunk_seconds: float = 600.0,
    overlap: float = 2.0,
    max_bytes: int | None = None,
) -> list[Chunk]:
    """Decode ``path`` once, streaming, into ``workdir/chunk-NNNN.flac`` files.

    Chunks are about ``chunk_seconds`` long, cut at the quietest moment near each
    nominal boundary and timed by decoded samples; neighbours share silence at a pause,
    or ``overlap`` seconds where nobody stops speaking. A chunk file over ``max_bytes``
    is cut again the same way into smaller pieces until each fits.
    """
    if chunk_seconds <= 0 or not 0 <= overlap < chunk_seconds / 2:
        raise ValueError("need chunk_seconds > 0 and 0 <= overlap < chunk_seconds / 2")
    path, workdir = Path(path), Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    for stale in [*workdir.glob("chunk-*.flac"), *workdir.glob("raw*.flac")]:
        stale.unlink()
    with ENCODE_SLOTS:
        spans = _cut(iter_pcm(path), workdir, "raw", chunk_seconds, overlap)
        if not spans:
            raise MediaError(
                f"no audio decoded: {path.name}", hint="the audio track is empty or damaged"
            )
        if max_bytes is not None:
            spans = [piece for span in spans for piece in _fit(span, max_bytes, overlap)]
    chunks = []
    for index, (start, end, raw) in enumerate(spans):
        final = raw.rename(workdir / f"chunk-{index:04d}.flac")
        chunks.append(Chunk(index, start / SAMPLE_RATE, end / SAMPLE_RATE, final))
    return chunks


def _fit(
    span: tuple[int, int, Path], max_bytes: int, overlap: float
) -> list[tuple[int, int, Path]]:
    """Cut one chunk file into pieces of at most ``max_bytes``, keeping source sample times."""
    start, end, raw = span
    size = raw.stat().st_size
    if size <= max_bytes:
        return [span]
    seconds = (end - start) / SAMPLE_RATE
    per_second = size / seconds
    # Each piece carries the overlap too; aim a little under the limit since FLAC size varies.
    piece_seconds = 0.9 * max_bytes / per_second - overlap
    if piece_seconds < max(1.0, 2 * overlap + 0.5):
        raise MediaError(
            f"cannot fit audio into {max_bytes} bytes per upload",
            hint="raise the provider's upload limit or lower the overlap",
        )
    pieces = max(2, math.ceil(seconds / piece_seconds))
    piece_seconds = seconds / pieces
    parts = _cut(iter_pcm(raw), raw.parent, raw.stem, piece_seconds, overlap)
    raw.unlink()
    result = []
    for part_start, part_end, part in parts:
        result.extend(_fit((start + part_start, start + part_end, part), max_bytes, overlap))
    return result
