"""Reading media with PyAV: what a file holds (probe), and its audio as 16 kHz mono PCM."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av

from engine.errors import InputError, MediaError

SAMPLE_RATE = 16000
BYTES_PER_SECOND = SAMPLE_RATE * 2  # s16 mono
# Demuxers FFmpeg picks for text art and still images: such a file is not media to us.
_NOT_MEDIA_FORMATS = {"bin", "tty", "adf", "idf", "xbin", "image2", "ansi"}


@dataclass(frozen=True, slots=True)
class MediaInfo:
    """What a media file holds, read from its container without decoding it all."""

    path: Path
    size: int
    format_name: str
    duration: float | None
    has_audio: bool
    has_video: bool
    title: str | None = None
    artist: str | None = None


def _open(path: Path) -> av.container.InputContainer:
    if not path.exists():
        raise InputError(f"file not found: {path}", hint="check the path or the list it came from")
    if not path.is_file():
        raise InputError(f"not a file: {path}")
    if path.stat().st_size == 0:
        raise MediaError(
            f"empty file: {path.name}", hint="the file has no bytes; download it again"
        )
    try:
        return av.open(str(path))
    except (av.FFmpegError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise MediaError(f"not a media file or corrupt: {path.name} ({reason})") from exc


def _tag(tags: dict[str, str], *names: str) -> str | None:
    lowered = {k.lower(): v for k, v in tags.items()}
    for name in names:
        value = lowered.get(name, "").strip()
        if value:
            return value
    return None


def probe(path: Path | str) -> MediaInfo:
    """Describe ``path``; raise InputError if it is missing, MediaError if it holds no usable audio."""
    path = Path(path)
    with _open(path) as container:
        audio = container.streams.audio
        # Cover art in MP3/M4A shows up as a video stream; it does not make a file a video.
        video = [
            s
            for s in container.streams.video
            if not s.disposition & av.stream.Disposition.attached_pic
        ]
        name = container.format.name
        if name in _NOT_MEDIA_FORMATS or name.endswith("_pipe"):
            raise MediaError(f"not a media file or corrupt: {path.name} (looks like {name})")
        if not audio:
            kind = "video" if video else "file"
            raise MediaError(f"no audio track in {kind}: {path.name}", hint="nothing to transcribe")
        stream = audio[0]
        if not _decodes(container, stream):
            raise MediaError(
                f"no audio decoded: {path.name}", hint="the audio track is empty or damaged"
            )
        duration: float | None = None
        if container.duration is not None and container.duration > 0:
            duration = container.duration / av.time_base
        elif stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        tags = {**dict(stream.metadata), **dict(container.metadata)}
        return MediaInfo(
            path=path,
            size=path.stat().st_size,
            format_name=container.format.name,
            duration=duration,
            has_audio=True,
            has_video=bool(video),
            title=_tag(tags, "title"),
            artist=_tag(tags, "artist", "album_artist", "author", "composer"),
        )


def _decodes(container: av.container.InputContainer, stream: av.AudioStream) -> bool:
    """True when the first few audio packets yield at least one frame."""
    try:
        for n, packet in enumerate(container.demux(stream)):
            if packet.size and packet.decode():
                return True
            if n > 50:
                return False
    except av.FFmpegError:
        return False
    return False


def iter_pcm(path: Path | str) -> Iterator[bytes]:
    """Yield the first audio stream of ``path`` as s16le mono 16 kHz blocks, decoding as it goes."""
    path = Path(path)
    with _open(path) as container:
        if not container.streams.audio:
            raise MediaError(f"no audio track: {path.name}", hint="nothing to transcribe")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        samples = 0
        packets = container.demux(stream)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                break
            except av.FFmpegError as exc:
                raise MediaError(
                    f"media is damaged after {samples / SAMPLE_RATE:.0f} s: {path.name} ({exc})"
                ) from exc
            try:
                frames = packet.decode()
            except av.FFmpegError:
                continue  # a damaged packet costs milliseconds of audio, not the whole file
            for frame in frames:
                try:
                    converted = resampler.resample(frame)
                except ValueError:
                    # The stream changed rate or layout midway: drain, then start afresh.
                    converted = resampler.resample(None)
                    resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
                    converted += resampler.resample(frame)
                for out in converted:
                    samples += out.samples
                    yield bytes(out.planes[0])[: out.samples * 2]
        for out in resampler.resample(None):
            yield bytes(out.planes[0])[: out.samples * 2]


def read_pcm(path: Path | str) -> bytes:
    """Whole file as s16le mono 16 kHz bytes; meant for chunk-sized files."""
    pcm = b"".join(iter_pcm(path))
    if not pcm:
        raise MediaError(
            f"no audio decoded: {Path(path).name}", hint="the file is empty or damaged"
        )
    return pcm
