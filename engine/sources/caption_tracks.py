"""Which of a page's caption tracks to use, and fetching them, best first, until one parses."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from engine.segments import Segment
from engine.sources.caption_fetch import (
    CaptionAttempt,
    decode_caption,
    fetch_caption_file,
    ordered_candidates,
    parse_or_none,
)
from engine.sources.captions import dedupe_rolling, parse_json3, parse_srt, parse_vtt
from engine.sources.remote import RemoteInfo
from engine.sources.ytdl import ytdl_session

# Formats we can parse, best first: json3 keeps YouTube's word timing without markup.
_CAPTION_PARSERS = {"json3": parse_json3, "vtt": parse_vtt, "srt": parse_srt}


@dataclass(frozen=True)
class CaptionResult:
    """Caption segments taken from the site, ready to use as a transcript."""

    segments: tuple[Segment, ...]
    language: str
    kind: str  # "manual" or "auto"
    format: str  # json3, vtt or srt


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
    with ytdl_session(timeout=timeout, cookies=cookies) as ydl:
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
