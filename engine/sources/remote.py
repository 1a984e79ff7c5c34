"""Remote sources through yt-dlp: metadata, playlists and audio, with errors a person can act on.

Caption tracks are chosen and fetched in ``engine.sources.caption_tracks``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from yt_dlp.utils import unsmuggle_url

from engine.errors import OutputError, SourceError
from engine.http_bounds import MB
from engine.sources.download_guard import (
    DEFAULT_MAX_MB,
    DownloadTooLarge,
    download_guard,
    remove_partial,
)
from engine.sources.ytdl import ytdl_session

CaptionTracks = Mapping[str, tuple[tuple[str, str], ...]]


def _no_tracks() -> CaptionTracks:
    return MappingProxyType({})


@dataclass(frozen=True)
class RemoteInfo:
    """What a remote page says about its media, independent of yt-dlp's dict shapes."""

    url: str
    webpage_url: str
    extractor: str
    id: str
    title: str
    channel: str | None = None
    upload_date: str | None = None  # YYYY-MM-DD
    duration: float | None = None
    description: str | None = None
    tags: tuple[str, ...] = ()
    view_count: int | None = None
    thumbnail: str | None = None
    chapters: tuple[tuple[float, float, str], ...] = ()
    subtitles: CaptionTracks = field(default_factory=_no_tracks)
    automatic_captions: CaptionTracks = field(default_factory=_no_tracks)
    is_playlist: bool = False
    entries: tuple[str, ...] = ()


def fetch_info(url: str, *, cookies: Path | None = None, timeout: float = 30) -> RemoteInfo:
    """Metadata for one URL; a playlist comes back with ``is_playlist`` and flat entry URLs."""
    with ytdl_session(
        timeout=timeout,
        cookies=cookies,
        extract_flat="in_playlist",
        noplaylist=True,
        format="bestaudio/best",
    ) as ydl:
        info = ydl.extract_info(url, download=False)
    return _remote_info(url, info)


def expand_playlist(url: str, **kw: Any) -> list[tuple[str, str | None]]:
    """(video URL, title) for each entry of a playlist, channel or feed, without resolving them."""
    with ytdl_session(
        timeout=kw.get("timeout", 30), cookies=kw.get("cookies"), extract_flat=True
    ) as ydl:
        info = ydl.extract_info(url, download=False)
    if info.get("_type") not in ("playlist", "multi_video"):
        return [(info.get("webpage_url") or url, info.get("title"))]
    out = []
    for entry in info.get("entries") or ():
        entry_url = _entry_url(entry)
        if entry_url:
            out.append((entry_url, entry.get("title")))
    return out


def download_audio(
    url: str,
    workdir: Path,
    *,
    cookies: Path | None = None,
    timeout: float = 30,
    max_bytes: int = DEFAULT_MAX_MB * MB,
) -> Path:
    """Download the best audio (or the whole file if there is no audio-only one) into ``workdir``.

    The download stops with an error past ``max_bytes`` or when the disk runs low (download_guard).
    """
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    with ytdl_session(
        timeout=timeout,
        cookies=cookies,
        workdir=workdir,
        format="bestaudio/best",
        postprocessors=[],
        noplaylist=True,
        restrictfilenames=True,
        outtmpl={"default": "%(id).60B.%(ext)s"},
        progress_hooks=[download_guard(workdir, max_bytes)],
    ) as ydl:
        found = ydl.extract_info(url, download=False, process=False)
        if found.get("_type") in ("playlist", "multi_video"):
            raise SourceError(
                "this URL is a playlist, not one media file",
                hint="add it as a playlist so each entry becomes its own item",
            )
        try:
            info = ydl.process_ie_result(found, download=True)
        except (DownloadTooLarge, OutputError):
            remove_partial(workdir)
            raise
    downloads = info.get("requested_downloads") or [{}]
    path = Path(downloads[0].get("filepath") or ydl.prepare_filename(info)).resolve()
    if not path.is_relative_to(workdir) or not path.is_file():
        raise SourceError(f"download finished but no file was found in {workdir}")
    return path


def _remote_info(url: str, info: Mapping[str, Any]) -> RemoteInfo:
    title = str(info.get("title") or info.get("id") or url)
    if info.get("extractor") == "html5" and str(info.get("id", "")).endswith("-1"):
        title = title.removesuffix(" (1)")  # yt-dlp numbers each <video> even when it is alone
    is_playlist = info.get("_type") in ("playlist", "multi_video")
    return RemoteInfo(
        url=url,
        webpage_url=str(info.get("webpage_url") or url),
        extractor=str(info.get("extractor") or info.get("extractor_key") or "unknown"),
        id=str(info.get("id") or ""),
        title=title,
        channel=info.get("channel") or info.get("uploader") or info.get("creator"),
        upload_date=_iso_date(info.get("upload_date")),
        duration=float(info["duration"]) if info.get("duration") is not None else None,
        description=info.get("description"),
        tags=tuple(str(t) for t in info.get("tags") or ()),
        view_count=info.get("view_count"),
        thumbnail=info.get("thumbnail"),
        chapters=tuple(
            (
                float(c.get("start_time") or 0),
                float(c.get("end_time") or 0),
                str(c.get("title", "")),
            )
            for c in info.get("chapters") or ()
        ),
        subtitles=_tracks(info.get("subtitles")),
        automatic_captions=_tracks(info.get("automatic_captions")),
        is_playlist=is_playlist,
        entries=tuple(u for u in (_entry_url(e) for e in info.get("entries") or () if e) if u)
        if is_playlist
        else (),
    )


def _tracks(raw: Mapping[str, Any] | None) -> CaptionTracks:
    out = {}
    for lang, formats in (raw or {}).items():
        pairs = tuple(
            (str(f.get("ext") or ""), str(f["url"])) for f in formats or () if f.get("url")
        )
        if pairs:
            out[lang] = pairs
    return MappingProxyType(out)


def _entry_url(entry: Mapping[str, Any] | None) -> str | None:
    if not entry:
        return None
    raw = entry.get("url") or entry.get("webpage_url") or entry.get("original_url")
    return unsmuggle_url(raw)[0] if raw else None  # feeds smuggle the item's guid into the URL


def _iso_date(value: Any) -> str | None:
    text = str(value or "")
    return f"{text[:4]}-{text[4:6]}-{text[6:8]}" if re.fullmatch(r"\d{8}", text) else None
