"""Playlists and feeds become items of their own: the chosen entries, each with what is known of it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

from engine.events import EventKind
from engine.item_caps import cap_title
from engine.items import Item
from engine.limits.services import Service
from engine.redact import redact_text
from engine.run.job import Job
from engine.settings import Settings
from engine.sources.episodes import EpisodeChoice
from engine.sources.feeds import Episode, Feed, feed_number

MEDIA_SERVICE = Service.MEDIA  # the limiter for YouTube and media hosts (the pipeline uses it too)
T = TypeVar("T")
AddItems = Callable[[list[Item]], Any] | None


def expand_playlist_item(
    job: Job, item: Item, settings: Settings, cookies: Path | None, add: AddItems
) -> None:
    """Queue the chosen entries of a playlist (or of a feed yt-dlp reads, such as a channel)."""
    from engine.sources.remote import expand_playlist

    job.stage("expand")
    job.acquire(MEDIA_SERVICE)
    listed = expand_playlist(item.location, cookies=cookies)
    entries = choose_entries(job, item, settings, listed, when=lambda e: None, number=None)
    extras = dict(item.meta.get("extras") or {})
    children = [
        Item(
            -1,
            source=redact_text(url),
            kind="youtube" if "youtube.com" in url or "youtu.be" in url else "url",
            location=url,
            origin=item.source,
            row=item.row,
            title=cap_title(title),
            meta={"playlist": item.source, "extras": extras},
        )
        for url, title in entries
    ]
    if add is not None and children:
        add(children)
    job.update(meta={**item.meta, "expanded": len(children)}, method="playlist")
    job.note(EventKind.PLAYLIST, f"{item.source}: {len(children)} videos queued")


def chosen_episodes(job: Job | None, item: Item, settings: Settings, feed: Feed) -> list[Episode]:
    """The episodes of ``feed`` the item's choice (``--episodes``, ``--since``...) takes."""
    return choose_entries(
        job,
        item,
        settings,
        list(feed.episodes),
        when=lambda e: e.published,
        number=feed_number(feed.episodes),
    )


def expand_feed_item(job: Job, item: Item, feed: Feed, settings: Settings, add: AddItems) -> None:
    """Each chosen episode of a feed becomes an item that carries the feed's facts about it."""
    job.stage("expand")
    episodes = chosen_episodes(job, item, settings, feed)
    extras = dict(item.meta.get("extras") or {})
    children = [
        Item(
            -1,
            source=redact_text(episode.url),
            kind="url",
            location=episode.url,  # the enclosure as the feed gives it; redirects are followed later
            origin=item.source,
            row=item.row,
            title=cap_title(episode.title),
            duration=episode.duration,
            meta={"playlist": item.source, "extras": extras, "episode": episode.meta()},
        )
        for episode in episodes
    ]
    if add is not None and children:
        add(children)
    job.update(
        title=item.title or feed.title or item.source,
        meta={**item.meta, "expanded": len(children), "show": feed.title},
        method="playlist",
    )
    job.note(
        EventKind.PLAYLIST,
        f"{item.source}: feed '{feed.title}', {len(feed.episodes)} episodes, "
        f"{len(children)} queued",
    )


def item_choice(item: Item, settings: Settings) -> EpisodeChoice | None:
    """The item's own choice (from the add-inputs dialog), else the run's flags."""
    return EpisodeChoice.from_meta(item.meta.get("choose")) or settings.episode_choice()


def choose_entries(
    job: Job | None,
    item: Item,
    settings: Settings,
    entries: Sequence[T],
    *,
    when: Callable[[T], datetime | date | None],
    number: Callable[[T], int] | None,
) -> list[T]:
    """The entries the choice takes, in listing order; a note says how many of how many."""
    choice = item_choice(item, settings)
    if choice is None:
        return list(entries)
    indexed = list(enumerate(entries, 1))
    pick = number
    taken, undated = choice.apply(
        indexed,
        when=lambda pair: when(pair[1]),
        number=(lambda pair: pick(pair[1])) if pick is not None else (lambda pair: pair[0]),
    )
    note = f"{item.source}: took {len(taken)} of {len(entries)} ({choice.describe()})"
    if undated and choice.since is not None:
        note += f"; {undated} without a date were kept"
    if job is not None:
        job.note(EventKind.PLAYLIST, note)
    return [entry for _, entry in taken]
