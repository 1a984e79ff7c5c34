"""Fetching a URL that may be a feed: look at the reply's start, read a feed whole, leave media alone."""

from __future__ import annotations

import time
from pathlib import PurePosixPath
from urllib.parse import urlsplit

import httpx

from engine.errors import SourceError
from engine.inputs.classify import MEDIA_EXTENSIONS
from engine.sources.feeds import Feed, looks_like_feed, parse_feed

MAX_FEED_BYTES = 64 * 1024 * 1024  # the largest public feeds (10,000+ episodes) are ~40 MB
_HEAD_BYTES = 4096
_USER_AGENT = "bulkscribe (podcast transcription; +https://example.org/bulkscribe)"


def may_be_feed(url: str) -> bool:
    """False for links that name a media file: they are downloaded without a look first."""
    try:
        path = urlsplit(url).path
    except ValueError:
        return False
    return PurePosixPath(path).suffix.lower() not in MEDIA_EXTENSIONS


def fetch_feed(url: str, *, timeout: float = 30.0, total_timeout: float = 120.0) -> Feed | None:
    """The feed at ``url``, or None when the reply is something else (a page, a media file).

    Redirects are followed (feed hosts move feeds with 301s), but the caller keeps ``url``.
    Only the first few KB of a reply that is no feed are read. ``timeout`` bounds each wait for
    bytes; ``total_timeout`` the whole reply, so a server trickling bytes cannot hold a worker.
    """
    try:
        with (
            httpx.Client(
                follow_redirects=True, timeout=timeout, headers={"User-Agent": _USER_AGENT}
            ) as client,
            client.stream("GET", url) as reply,
        ):
            if reply.status_code >= 400:
                return None  # yt-dlp tries it next and reports the status in its own words
            deadline = time.monotonic() + total_timeout
            chunks = reply.iter_bytes()
            head = b""
            for chunk in chunks:
                head += chunk
                _check_deadline(deadline, total_timeout)
                if len(head) >= _HEAD_BYTES:
                    break
            if not looks_like_feed(head, reply.headers.get("content-type", "")):
                return None
            body = bytearray(head)
            for chunk in chunks:
                body += chunk
                _check_deadline(deadline, total_timeout)
                if len(body) > MAX_FEED_BYTES:
                    raise SourceError(
                        f"feed is larger than {MAX_FEED_BYTES // (1024 * 1024)} MB",
                        hint="ask the show for a shorter feed, or list the episodes you want",
                    )
    except httpx.HTTPError as exc:
        raise SourceError(f"cannot fetch the feed: {exc}", transient=True) from None
    try:
        feed = parse_feed(bytes(body))
    except SourceError:
        return None  # looked like a feed but is none: yt-dlp has its own look
    # A feed without enclosures (a blog's links to videos) is left to yt-dlp, which reads those.
    return feed if feed.episodes else None


def _check_deadline(deadline: float, total: float) -> None:
    if time.monotonic() > deadline:
        raise SourceError(
            f"the feed did not arrive within {total:.0f} s", hint="try again later", transient=True
        )
