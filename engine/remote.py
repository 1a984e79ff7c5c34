"""Remote sources through yt-dlp: metadata, playlists, captions and audio, with errors a person can act on."""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yt_dlp
from yt_dlp.utils import YoutubeDLError, unsmuggle_url

from engine.caption_fetch import (
    CaptionAttempt,
    decode_caption,
    fetch_caption_file,
    ordered_candidates,
    parse_or_none,
)
from engine.captions import dedupe_rolling, parse_json3, parse_srt, parse_vtt
from engine.errors import BulkscribeError, InputError, SourceError
from engine.segments import Segment
from engine.source_errors import source_error

_log = logging.getLogger(__name__)

CaptionTracks = Mapping[str, tuple[tuple[str, str], ...]]

# Formats we can parse, best first: json3 keeps YouTube's word timing without markup.
_CAPTION_PARSERS = {"json3": parse_json3, "vtt": parse_vtt, "srt": parse_srt}


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


@dataclass(frozen=True)
class CaptionResult:
    """Caption segments taken from the site, ready to use as a transcript."""

    segments: tuple[Segment, ...]
    language: str
    kind: str  # "manual" or "auto"
    format: str  # json3, vtt or srt


class _CollectingLogger:
    """Takes yt-dlp's messages so nothing reaches the terminal; they go to our debug log."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def _keep(self, message: str) -> None:
        _log.debug("yt-dlp: %s", message)
        if len(self.messages) < 500:  # a long playlist must not grow this without bound
            self.messages.append(message)

    debug = info = warning = error = _keep


@contextmanager
def _session(
    *, timeout: float, cookies: Path | None, workdir: Path | None = None, **extra: Any
) -> Iterator[yt_dlp.YoutubeDL]:
    """A quiet YoutubeDL that writes nowhere except ``workdir``; its errors become SourceError."""
    options: dict[str, Any] = {
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "logger": _CollectingLogger(),
        "socket_timeout": timeout,
        "cachedir": False,
        "ignoreconfig": True,
        "color": "no_color",
        "consoletitle": False,
        "updatetime": False,
        "retries": 2,
        "fragment_retries": 2,
        "extractor_retries": 1,
        "file_access_retries": 1,
        "skip_download": workdir is None,
        **extra,
    }
    if workdir is not None:
        options["paths"] = {"home": str(workdir), "temp": str(workdir)}
    try:
        with yt_dlp.YoutubeDL(options) as ydl:
            if cookies is not None:
                _load_cookies(ydl, Path(cookies))
            yield ydl
    except BulkscribeError:
        raise
    except YoutubeDLError as exc:
        raise source_error(exc) from exc


def _load_cookies(ydl: yt_dlp.YoutubeDL, cookies: Path) -> None:
    # Loaded into the jar rather than passed as ``cookiefile``: yt-dlp rewrites a cookie
    # file on close, and the user's browser export must stay untouched.
    try:
        ydl.cookiejar.load(str(cookies))
    except FileNotFoundError as exc:
        raise InputError(f"cookies file not found: {cookies}") from exc
    except OSError as exc:  # http.cookiejar.LoadError is an OSError
        raise InputError(
            f"cookies file is not a Netscape cookies.txt: {cookies}",
            hint="export it with a browser extension that writes cookies.txt",
        ) from exc


def fetch_info(url: str, *, cookies: Path | None = None, timeout: float = 30) -> RemoteInfo:
    """Metadata for one URL; a playlist comes back with ``is_playlist`` and flat entry URLs."""
    with _session(
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
    with _session(
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


def fetch_captions(
    info: RemoteInfo, langs: Sequence[str], *, cookies: Path | None = None, timeout: float = 30
) -> CaptionResult | None:
    """The best caption track in ``langs`` (manual before automatic), parsed; None if there is none."""
    return try_captions(info, langs, cookies=cookies, timeout=timeout).result


def try_captions(
    info: RemoteInfo,
    langs: Sequence[str],
    *,
    cookies: Path | None = None,
    timeout: float = 30,
    before_request: Callable[[], object] | None = None,
    on_rate_limited: Callable[[float | None], object] | None = None,
) -> CaptionAttempt:
    """Try each format of each usable track, best first, until one parses into segments.

    A 429, a 5xx, an empty reply, an HTML page or a damaged file passes over to the next
    rendition; a 429 also reports its Retry-After (``on_rate_limited``) so the media limiter
    pauses before the next request (``before_request`` waits for a permit before each one).
    """
    attempt = CaptionAttempt()
    manual, auto = _caption_pools(info)
    candidates = ordered_candidates(manual, auto, langs, _pick_language)
    if not candidates:
        return attempt
    with _session(timeout=timeout, cookies=cookies) as ydl:
        for language, kind, tracks in candidates:
            for ext, track_url in _by_format(tracks):
                if before_request is not None:
                    before_request()  # every caption request is one media request
                attempt.tried += 1
                fetched, why, after, limited = fetch_caption_file(ydl.urlopen, track_url)
                if limited and on_rate_limited is not None:
                    on_rate_limited(after)
                segments = None
                if fetched is not None:
                    segments, why = parse_or_none(
                        functools.partial(_parse_caption, ext, fetched.data, fetched.content_type)
                    )
                if segments and kind == "auto":
                    segments = dedupe_rolling(segments)
                if segments:
                    attempt.result = CaptionResult(tuple(segments), language, kind, ext)
                    return attempt
                attempt.failures.append(f"{kind} {language} {ext}: {why or 'no cues'}")
    return attempt


def _parse_caption(ext: str, data: bytes, content_type: str) -> list[Segment]:
    if ext == "json3":
        return parse_json3(decode_caption(data, content_type))
    return _CAPTION_PARSERS[ext](decode_caption(data, content_type))


def download_audio(
    url: str, workdir: Path, *, cookies: Path | None = None, timeout: float = 30
) -> Path:
    """Download the best audio (or the whole file if there is no audio-only one) into ``workdir``."""
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    with _session(
        timeout=timeout,
        cookies=cookies,
        workdir=workdir,
        format="bestaudio/best",
        postprocessors=[],
        noplaylist=True,
        restrictfilenames=True,
        outtmpl={"default": "%(id).60B.%(ext)s"},
    ) as ydl:
        found = ydl.extract_info(url, download=False, process=False)
        if found.get("_type") in ("playlist", "multi_video"):
            raise SourceError(
                "this URL is a playlist, not one media file",
                hint="add it as a playlist so each entry becomes its own item",
            )
        info = ydl.process_ie_result(found, download=True)
    downloads = info.get("requested_downloads") or [{}]
    path = Path(downloads[0].get("filepath") or ydl.prepare_filename(info)).resolve()
    if not path.is_relative_to(workdir) or not path.is_file():
        raise SourceError(f"download finished but no file was found in {workdir}")
    return path


def choose_captions(
    info: RemoteInfo, langs: Sequence[str]
) -> tuple[str, str, tuple[tuple[str, str], ...]] | None:
    """(language, "manual"|"auto", tracks) to use, following the order of ``langs``."""
    manual, pool = _caption_pools(info)
    if key := _pick_language(manual, langs):
        return key, "manual", manual[key]
    if key := _pick_language(pool, langs):
        return key, "auto", pool[key]
    return None


def _caption_pools(
    info: RemoteInfo,
) -> tuple[dict[str, tuple[tuple[str, str], ...]], dict[str, tuple[tuple[str, str], ...]]]:
    """(manual tracks, automatic tracks worth using) that have a format we can parse."""
    manual = {k: v for k, v in info.subtitles.items() if _parseable(v) and k != "live_chat"}
    auto = {k: v for k, v in info.automatic_captions.items() if _parseable(v)}
    originals = {
        k.removesuffix("-orig"): v
        for k, v in auto.items()
        if k.endswith("-orig") or not _is_translation(v)
    }
    # Machine translations of the spoken language are worse than ASR; use them only when
    # the site does not say which track is the original.
    return manual, originals or auto


def _pick_language(tracks: Mapping[str, Any], langs: Sequence[str]) -> str | None:
    """Exact code first, then the same base language ("en" ~ "en-US"); no langs means any."""
    if not langs:
        return next(iter(tracks), None)
    for wanted in langs:
        lowered = {k.lower(): k for k in tracks}
        if wanted.lower() in lowered:
            return lowered[wanted.lower()]
        base = wanted.split("-")[0].lower()
        related = [k for k in tracks if k.split("-")[0].lower() == base]
        related.sort(key=lambda k: k.lower() != base)  # a bare "en" before "en-GB"
        if related:
            return related[0]
    return None


def _is_translation(tracks: tuple[tuple[str, str], ...]) -> bool:
    return all("tlang" in parse_qs(urlsplit(u).query) for _, u in tracks)


def _parseable(tracks: tuple[tuple[str, str], ...]) -> bool:
    return any(ext in _CAPTION_PARSERS for ext, _ in tracks)


def _by_format(tracks: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    order = list(_CAPTION_PARSERS)
    return sorted((t for t in tracks if t[0] in _CAPTION_PARSERS), key=lambda t: order.index(t[0]))


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
