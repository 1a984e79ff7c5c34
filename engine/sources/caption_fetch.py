"""Getting a caption file that fails over: every format of every track, then say why none came.

YouTube answers caption requests with 429 under load (yt-dlp issues #13831, #12927 report
"HTTP Error 429: Too Many Requests" on timedtext URLs) and sometimes with an HTML consent or
error page instead of captions; one bad rendition must not fail the item when another format or
track, or the audio itself, can still give a transcript.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from yt_dlp.networking.exceptions import HTTPError, RequestError

from engine.errors import MediaError, ReplyTooLarge, ReplyTooSlow
from engine.http_bounds import ReplyBounds, read_file

MAX_CAPTION_BYTES = 20 * 1024 * 1024  # a 10-hour json3 track is ~8 MB
CAPTION_BOUNDS = ReplyBounds(max_bytes=MAX_CAPTION_BYTES, base_seconds=120.0)

Tracks = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Fetched:
    data: bytes
    content_type: str


@dataclass
class CaptionAttempt:
    """What trying the tracks gave: a result, or the reasons each rendition was passed over."""

    result: Any = None  # remote.CaptionResult
    failures: list[str] = field(default_factory=list)
    tried: int = 0

    def summary(self) -> str:
        if not self.tried:
            return "the site lists none in the wanted languages"
        return f"{self.tried} tried: " + "; ".join(self.failures[-3:])


def fetch_caption_file(
    urlopen: Callable[[str], Any], url: str
) -> tuple[Fetched | None, str | None, float | None, bool]:
    """(file, why not, Retry-After seconds, rate limited) for one caption URL; never raises."""
    try:
        with urlopen(url) as response:
            ctype = response.headers.get("Content-Type", "") or ""
            # Bounded in size and in total time: a trickling host is cut off, not waited on.
            data = read_file(
                response,
                max_bytes=CAPTION_BOUNDS.max_bytes,
                deadline=CAPTION_BOUNDS.deadline(),
                what="the caption server",
            )
    except (ReplyTooLarge, ReplyTooSlow) as exc:
        return None, str(exc), None, False
    except HTTPError as exc:
        status = exc.response.status
        if status == 429:
            return None, "429 Too Many Requests", retry_after(exc.response.headers), True
        return None, f"HTTP {status}", None, False
    except RequestError as exc:
        return None, f"network error ({type(exc).__name__})", None, False
    if len(data) > MAX_CAPTION_BYTES:
        return None, f"larger than {MAX_CAPTION_BYTES // (1024 * 1024)} MB", None, False
    if not data.strip():
        return None, "empty reply", None, False
    if ctype.split(";")[0].strip().lower() == "text/html" or data.lstrip()[:15].lower() in (
        b"<!doctype html>",
    ):
        return None, "an HTML page instead of captions", None, False
    return Fetched(data, ctype), None, None, False


def retry_after(headers: Any) -> float | None:
    """Seconds from a Retry-After header (delta-seconds form; dates are rare on caption hosts)."""
    value = (headers.get("Retry-After") if headers is not None else None) or ""
    try:
        seconds = float(str(value).strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def decode_caption(data: bytes, content_type: str = "") -> str:
    """Caption text by its declared charset, else by detection; never with replacement characters.

    Detection: a BOM, then strict UTF-8, then UTF-16 without BOM (every other byte NUL), then
    Windows-1252 (which SRT files from Windows tools use), then Latin-1, which takes every byte.
    """
    declared = _charset(content_type)
    if declared:
        try:
            return data.decode(declared).lstrip("\ufeff")
        except (UnicodeDecodeError, LookupError):
            pass  # a wrong header is common: servers default to UTF-8 for every text file
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            try:
                return data.decode(encoding).lstrip("\ufeff")
            except UnicodeDecodeError:
                break
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    sample = data[:2000]
    if len(sample) > 8 and sample[1::2].count(0) > len(sample) // 4:
        try:
            return data.decode("utf-16-le")
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _charset(content_type: str) -> str | None:
    for part in content_type.split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            return value.strip().strip('"').lower()
    return None


def ordered_candidates(
    manual: dict[str, Tracks], auto: dict[str, Tracks], langs: Sequence[str], pick: Any
) -> list[tuple[str, str, Tracks]]:
    """Every usable track, best first: manual tracks in language order, then automatic ones."""
    out: list[tuple[str, str, Tracks]] = []
    for kind, pool in (("manual", dict(manual)), ("auto", dict(auto))):
        while True:
            key = pick(pool, langs)
            if key is None:
                break
            out.append((key, kind, pool.pop(key)))
            if not langs:
                break  # no preference: the site's first track only, as before
    return out


def parse_or_none(parse: Callable[[], list[Any]]) -> tuple[list[Any] | None, str | None]:
    try:
        return parse(), None
    except MediaError as exc:
        return None, exc.message
