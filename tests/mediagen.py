"""Real media for tests: tones and silence encoded by PyAV into wav, mp3, flac, ogg, m4a or mp4."""

from __future__ import annotations

import math
from array import array
from fractions import Fraction
from pathlib import Path

import av

_AUDIO_CODEC = {
    ".wav": "pcm_s16le",
    ".mp3": "libmp3lame",
    ".flac": "flac",
    ".ogg": "libopus",
    ".m4a": "aac",
    ".mp4": "aac",
    ".mkv": "aac",
}


def tone_samples(seconds: float, freq: float, rate: int, amplitude: float = 0.5) -> array:
    """Mono int16 samples of a sine tone (freq 0 gives silence)."""
    n = int(seconds * rate)
    peak = int(32767 * amplitude)
    step = 2 * math.pi * freq / rate
    return array("h", (int(peak * math.sin(step * i)) for i in range(n)))


def write_tone(
    path: Path | str,
    seconds: float = 2.0,
    freq: float = 440.0,
    rate: int = 16000,
    video: bool = False,
) -> Path:
    """Encode a sine tone to ``path``; the container follows the suffix.

    With ``video=True`` (mp4/mkv) a small black video track is added, so the
    file is a real video with an audio track.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    codec = _AUDIO_CODEC[suffix]
    if codec == "libopus":
        rate = 48000
    samples = tone_samples(seconds, freq, rate)
    with av.open(str(path), mode="w") as out:
        vstream = None
        if video:
            vstream = out.add_stream("mpeg4", rate=10)
            vstream.width, vstream.height = 64, 48
            vstream.pix_fmt = "yuv420p"
        astream: av.AudioStream = out.add_stream(codec, rate=rate)  # type: ignore[assignment]
        astream.layout = "mono"
        fmt = astream.codec_context.format.name if astream.codec_context.format else "s16"
        frame_size = astream.codec_context.frame_size or 1024
        resampler = av.AudioResampler(format=fmt, layout="mono", rate=rate)
        pts = 0
        for start in range(0, len(samples), frame_size):
            chunk = samples[start : start + frame_size]
            frame = av.AudioFrame(format="s16", layout="mono", samples=len(chunk))
            frame.planes[0].update(chunk.tobytes().ljust(frame.planes[0].buffer_size, b"\0"))
            frame.sample_rate = rate
            frame.time_base = Fraction(1, rate)
            frame.pts = pts
            pts += len(chunk)
            for converted in resampler.resample(frame):
                for packet in astream.encode(converted):
                    out.mux(packet)
        for converted in resampler.resample(None):
            for packet in astream.encode(converted):
                out.mux(packet)
        for packet in astream.encode(None):
            out.mux(packet)
        if vstream is not None:
            for i in range(max(1, int(seconds * 10))):
                vframe = av.VideoFrame(64, 48, "yuv420p")
                for plane in vframe.planes:
                    plane.update(bytes(plane.buffer_size))
                vframe.pts = i
                for packet in vstream.encode(vframe):
                    out.mux(packet)
            for packet in vstream.encode(None):
                out.mux(packet)
    return path
