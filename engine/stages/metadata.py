"""Metadata stage: what an item is, from a file's tags, a page's fields or a feed episode."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.errors import MediaError, SourceError
from engine.events import EventKind
from engine.item_caps import cap_meta, cap_title
from engine.items import Item
from engine.run.job import Job
from engine.sources.expand import MEDIA_SERVICE
from engine.storable import shown

Found = tuple[dict[str, Any], Any, Path | None]
"""(metadata, the page's RemoteInfo or None, the local media path or None)."""


def read_metadata(
    job: Job, item: Item, *, by_url: bool, captions: bool, cookies: Path | None
) -> Found:
    """Metadata for ``item``, recorded on the job as it is found.

    ``by_url``: the engine fetches this URL itself; ``captions``: captions are wanted.
    """
    meta: dict[str, Any] = dict(item.meta)
    episode = meta.get("episode")
    if isinstance(episode, Mapping):
        return _episode_metadata(job, item, meta, episode)
    if item.kind == "file":
        return _file_metadata(job, item, meta)
    from engine.sources.remote import fetch_info

    if by_url and not captions:
        # No captions wanted and the service fetches the video itself: nothing is fetched here.
        return _sent_by_url(job, item, meta)
    job.acquire(MEDIA_SERVICE)
    try:
        info = fetch_info(item.location, cookies=cookies)
    except SourceError as exc:
        if not by_url:
            raise
        # What yt-dlp cannot read here the service may still fetch (it has its own access).
        job.note(EventKind.METADATA, f"{item.source}: no metadata or captions ({exc}); sent by URL")
        return _sent_by_url(job, item, meta)
    extras = meta.get("extras") or {}
    meta.update(
        {
            # A direct media link keeps the address it was given: yt-dlp's generic extractor
            # reports where redirects ended (a CDN, the same for every tracked episode).
            "url": item.location
            if info.extractor == "generic"
            else (info.webpage_url or item.location),
            "channel": info.channel,
            "upload_date": info.upload_date,
            # Spreadsheet values win over fetched ones.
            "description": extras.get("description") or info.description,
            "tags": list(info.tags or ()),
            "view_count": info.view_count,
            "thumbnail": info.thumbnail,
            "chapters": [list(c) for c in info.chapters or ()],
            "extractor": info.extractor,
        }
    )
    meta = cap_meta(meta)
    job.update(
        title=cap_title(item.title or info.title or item.source),
        duration=info.duration,
        meta=clean(meta),
    )
    return meta, info, None


def _file_metadata(job: Job, item: Item, meta: dict[str, Any]) -> Found:
    from engine.audio.decode import probe

    path = Path(item.location)
    media = probe(path)
    if not media.has_audio:
        raise MediaError(f"no audio track in {path.name}", hint="the file has only video or data")
    title = cap_title(shown(item.title or media.title or path.stem))
    meta.setdefault("artist", media.artist)
    meta = cap_meta(meta)  # tags of a file are outside text too
    job.update(title=title, duration=media.duration, meta=clean(meta))
    return meta, None, path


def _sent_by_url(job: Job, item: Item, meta: dict[str, Any]) -> Found:
    meta.setdefault("url", item.location)
    job.update(title=item.title or item.source, meta=clean(meta))
    return meta, None, None


def _episode_metadata(
    job: Job, item: Item, meta: dict[str, Any], episode: Mapping[str, Any]
) -> Found:
    """A feed episode needs no look at its media: the feed said what it is."""
    extras = meta.get("extras") or {}
    meta.update(
        {
            # The enclosure as the feed gives it, never where its redirects lead.
            "url": episode.get("url") or item.location,
            "channel": episode.get("show"),
            "show": episode.get("show"),
            "upload_date": episode.get("date"),
            "date": episode.get("date"),
            "episode_number": episode.get("episode"),
            "season": episode.get("season"),
            "link": episode.get("link"),
            "description": extras.get("description") or episode.get("description"),
            "thumbnail": episode.get("image"),
            "extractor": "feed",
        }
    )
    job.update(
        title=item.title or episode.get("title") or item.source,
        duration=episode.get("duration"),
        meta=clean(meta),
    )
    return meta, None, None


def clean(meta: Mapping[str, Any]) -> dict[str, Any]:
    """Metadata without its empty fields."""
    return {k: v for k, v in meta.items() if v not in (None, "", [], {})}
