"""Regenerate the bundled example clips from text with the flite synthesiser and PyAV.

Run once from the repository root: ``uv run python examples/make_examples.py``.
Needs the ``flite`` program (``apt-get install flite``); the outputs are committed,
so nothing else ever needs it.
"""

from __future__ import annotations

import subprocess
import tempfile
from fractions import Fraction
from pathlib import Path

import av

HERE = Path(__file__).resolve().parent
RATE = 16000
PAD_SECONDS = 0.4  # quiet lead-in and tail, as real recordings have

# (file, flite voice, spoken text, container tags)
CLIPS = [
    ("hello.wav", "awb", "Hello world. This is a test. One, two, three, four, five.", {}),
    (
        "podcast.mp3",
        "rms",
        "Welcome to the show. Today we count to ten. "
        "One, two, three, four, five, six, seven, eight, nine, ten. Thank you very much.",
        {"title": "Counting to Ten", "artist": "Bulkscribe Examples"},
    ),
    (
        "lecture.mp4",
        "slt",
        "Good morning everyone. Today we read one short sentence. "
        "The quick brown fox jumps over the lazy dog. "
        "Thank you for listening.",
        {"title": "A Very Short Lecture", "artist": "Bulkscribe Examples"},
    ),
]


def synthesise(voice: str, text: str) -> bytes:
    """Speech as s16 mono 16 kHz PCM, padded with silence at both ends."""
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        subprocess.run(["flite", "-voice", voice, "-t", text, "-o", str(wav)], check=True)
        resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
        pcm = bytearray()
        with av.open(str(wav)) as source:
            for frame in source.decode(audio=0):
                for out in resampler.resample(frame):
                    pcm += bytes(out.planes[0])[: out.samples * 2]
        for out in resampler.resample(None):
            pcm += bytes(out.planes[0])[: out.samples * 2]
    pad = bytes(int(PAD_SECONDS * RATE) * 2)
    return pad + bytes(pcm) + pad


def _video_frame(index: int, width: int = 160, height: int = 90) -> av.VideoFrame:
    """A grey frame with a light bar sweeping across, so the video visibly plays."""
    frame = av.VideoFrame(width, height, "yuv420p")
    bar = (index * 4) % width
    luma = bytearray([60]) * (width * height)
    for row in range(height):
        start = row * width + bar
        luma[start : start + 8] = bytes([220]) * min(8, width - bar)
    frame.planes[0].update(bytes(luma).ljust(frame.planes[0].buffer_size, b"\0"))
    for plane in frame.planes[1:]:
        plane.update(bytes([128]) * plane.buffer_size)
    frame.pts = index
    return frame


def encode(path: Path, pcm: bytes, tags: dict[str, str]) -> None:
    """Write ``pcm`` to ``path``; the suffix picks codec, and mp4 gets a small video track."""
    codec = {".wav": "pcm_s16le", ".mp3": "libmp3lame", ".mp4": "aac"}[path.suffix]
    with av.open(str(path), mode="w") as out:
        out.metadata.update(tags)
        video = None
        if path.suffix == ".mp4":
            video = out.add_stream("mpeg4", rate=10)
            video.width, video.height, video.pix_fmt = 160, 90, "yuv420p"
            video.bit_rate = 40_000
        audio = out.add_stream(codec, rate=RATE, layout="mono")
        assert isinstance(audio, av.AudioStream)
        if codec != "pcm_s16le":
            audio.bit_rate = 48_000
        fmt = audio.format.name
        resampler = av.AudioResampler(format=fmt, layout="mono", rate=RATE)
        block = 1024
        for at in range(0, len(pcm), block * 2):
            piece = pcm[at : at + block * 2]
            frame = av.AudioFrame(format="s16", layout="mono", samples=len(piece) // 2)
            frame.planes[0].update(piece.ljust(frame.planes[0].buffer_size, b"\0"))
            frame.sample_rate, frame.time_base, frame.pts = RATE, Fraction(1, RATE), at // 2
            for converted in resampler.resample(frame):
                out.mux(audio.encode(converted))
        for converted in resampler.resample(None):
            out.mux(audio.encode(converted))
        out.mux(audio.encode(None))
        if video is not None:
            for index in range(int(len(pcm) / 2 / RATE * 10)):
                out.mux(video.encode(_video_frame(index)))
            out.mux(video.encode(None))


def main() -> None:
    for name, voice, text, tags in CLIPS:
        target = HERE / name
        encode(target, synthesise(voice, text), tags)
        print(f"{target.relative_to(HERE.parent)}: {target.stat().st_size} bytes")


if __name__ == "__main__":
    main()
