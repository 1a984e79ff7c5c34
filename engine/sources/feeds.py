"""Podcast feeds (RSS 0.9x-2.0, Atom) read into episodes that keep what makes each one findable.

feedparser is the reference reader: it copes with broken XML, undeclared HTML entities, RSS
0.9x/RDF and every date dialect. Its per-element cost (about 0.2 ms) makes a 1,000-episode feed
take seconds, so a well-formed RSS 2.0 or Atom feed is first read with the C XML parser into the
same Episode fields; anything that parser refuses goes to feedparser. A test holds the two
readers to the same result on every fixture feed.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from engine.errors import SourceError
from engine.sources.feed_text import parse_date, parse_duration, plain_text, plain_title

ITUNES = "http://www.itunes.com/dtds/podcast-1.0.dtd"
PODCAST = "https://podcastindex.org/namespace/1.0"
ATOM = "http://www.w3.org/2005/Atom"
CONTENT = "http://purl.org/rss/1.0/modules/content/"
MEDIA = "http://search.yahoo.com/mrss/"
_MEDIA_TYPES = ("audio/", "video/")
# The first element after the XML declaration, comments and a doctype.
_FIRST_ELEMENT = re.compile(rb"<(?![?!])([A-Za-z][\w:.\-]*)")


@dataclass(frozen=True, slots=True)
class Episode:
    """One feed entry. ``url`` is the enclosure exactly as the feed gives it (never a redirect)."""

    url: str
    title: str
    # Both readers give every one of these; None where the feed does not say.
    show: str | None
    published: datetime | None
    duration: float | None
    description: str | None
    link: str | None
    guid: str | None
    season: int | None
    episode: int | None
    image: str | None
    position: int = 0  # 1 = the oldest entry in the feed

    @property
    def date(self) -> str | None:
        return self.published.date().isoformat() if self.published else None

    def meta(self) -> dict[str, Any]:
        """The episode as an item's metadata (JSON-friendly, empty values left out)."""
        data = asdict(self)
        data["published"] = self.published.isoformat() if self.published else None
        data["date"] = self.date
        return {k: v for k, v in data.items() if v not in (None, "")}


@dataclass(frozen=True, slots=True)
class Feed:
    title: str
    link: str | None
    image: str | None
    episodes: tuple[Episode, ...]  # feed order


def feed_number(episodes: Sequence[Episode]) -> Callable[[Episode], int]:
    """What ``--episodes 3,5-9`` counts: itunes:episode when every entry has one, else position."""
    if episodes and all(e.episode is not None for e in episodes):
        return lambda e: e.episode or 0
    return lambda e: e.position


def looks_like_feed(head: bytes, content_type: str = "") -> bool:
    """True when the start of a reply is an RSS, RDF or Atom document (by its first element)."""
    ctype = content_type.split(";")[0].strip().lower()
    if ctype.startswith(_MEDIA_TYPES) or ctype == "application/octet-stream":
        return False  # media: never read further (some hosts label feeds text/html, so that stays)
    start = head[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    found = _FIRST_ELEMENT.search(start)
    if not start.startswith(b"<") or found is None:
        return False
    return found.group(1).lower().split(b":")[-1] in (b"rss", b"feed", b"rdf")


def parse_feed(data: bytes) -> Feed:
    """Episodes of a feed document; SourceError when it is no feed at all."""
    try:
        feed = _read_fast(data)
    except ET.ParseError:
        feed = None
    if feed is None:
        feed = read_with_feedparser(data)
    return feed


# -- the fast reader: well-formed RSS 2.0 and Atom ------------------------------------------------


def _read_fast(data: bytes) -> Feed | None:
    root = ET.fromstring(data)
    if root.tag == "rss":
        channel = root.find("channel")
        return _rss(channel) if channel is not None else None
    if root.tag == f"{{{ATOM}}}feed":
        return _atom(root)
    return None  # RDF / RSS 0.90 / 1.0 and anything odd: feedparser knows them


def _rss(channel: ET.Element) -> Feed:
    show = plain_title(channel.findtext("title"))
    image = channel.findtext("image/url") or _attr(channel, f"{{{ITUNES}}}image", "href")
    episodes = []
    for item in channel.iter("item"):
        url = _rss_enclosure(item)
        if not url:
            continue
        description = (
            item.findtext("description")
            or item.findtext(f"{{{CONTENT}}}encoded")
            or item.findtext(f"{{{ITUNES}}}summary")
        )
        episodes.append(
            _episode(
                url,
                item.findtext("title"),
                show,
                item.findtext("pubDate") or item.findtext("{http://purl.org/dc/elements/1.1/}date"),
                item.findtext(f"{{{ITUNES}}}duration"),
                description,
                item.findtext("link"),
                item.findtext("guid"),
                item,
                image,
            )
        )
    return Feed(show, channel.findtext("link"), image, _numbered(episodes))


def _atom(root: ET.Element) -> Feed:
    show = plain_title(root.findtext(f"{{{ATOM}}}title"))
    image = root.findtext(f"{{{ATOM}}}logo") or _attr(root, f"{{{ITUNES}}}image", "href")
    episodes = []
    for entry in root.iter(f"{{{ATOM}}}entry"):
        links = entry.findall(f"{{{ATOM}}}link")
        enclosure = next((ln.get("href") for ln in links if ln.get("rel") == "enclosure"), None)
        page = next(
            (ln.get("href") for ln in links if ln.get("rel", "alternate") == "alternate"), None
        )
        if not enclosure:
            continue
        summary = entry.findtext(f"{{{ATOM}}}summary") or entry.findtext(f"{{{ATOM}}}content")
        published = entry.findtext(f"{{{ATOM}}}published") or entry.findtext(f"{{{ATOM}}}updated")
        episodes.append(
            _episode(
                enclosure,
                entry.findtext(f"{{{ATOM}}}title"),
                show,
                published,
                entry.findtext(f"{{{ITUNES}}}duration"),
                summary,
                page,
                entry.findtext(f"{{{ATOM}}}id"),
                entry,
                image,
            )
        )
    pages = [
        ln for ln in root.findall(f"{{{ATOM}}}link") if ln.get("rel", "alternate") == "alternate"
    ]
    return Feed(show, pages[0].get("href") if pages else None, image, _numbered(episodes))


def _rss_enclosure(item: ET.Element) -> str | None:
    enclosures = item.findall("enclosure")
    media = [e for e in enclosures if (e.get("type") or "").startswith(_MEDIA_TYPES)]
    for element in media or enclosures:
        if element.get("url"):
            return element.get("url")
    content = item.find(f"{{{MEDIA}}}content")
    return content.get("url") if content is not None else None


def _episode(
    url: str,
    title: str | None,
    show: str,
    published: str | None,
    duration: str | None,
    description: str | None,
    link: str | None,
    guid: str | None,
    element: ET.Element,
    show_image: str | None,
) -> Episode:
    season = element.findtext(f"{{{ITUNES}}}season") or _attr(element, f"{{{PODCAST}}}season", "")
    number = element.findtext(f"{{{ITUNES}}}episode") or element.findtext(f"{{{PODCAST}}}episode")
    return Episode(
        url=url.strip(),
        title=plain_title(title) or url.strip(),
        show=show or None,
        published=parse_date(published),
        duration=parse_duration(duration),
        description=plain_text(description),
        link=(link or "").strip() or None,
        guid=(guid or "").strip() or None,
        season=_number(season),
        episode=_number(number),
        image=_attr(element, f"{{{ITUNES}}}image", "href") or show_image,
    )


def _attr(element: ET.Element, tag: str, name: str) -> str | None:
    found = element.find(tag)
    if found is None:
        return None
    return (found.get(name) if name else found.text) or None


# -- feedparser: everything else ------------------------------------------------------------------


def read_with_feedparser(data: bytes) -> Feed:
    import feedparser

    parsed = feedparser.parse(data, sanitize_html=False, resolve_relative_uris=False)
    if not parsed.get("version") and not parsed.entries:
        reason = parsed.get("bozo_exception")
        raise SourceError(
            "this address is not a podcast feed (RSS or Atom)" + (f": {reason}" if reason else ""),
            hint="check the feed address in the podcast's page",
        )
    channel = parsed.feed
    show = plain_title(channel.get("title"))
    image = (channel.get("image") or {}).get("href") or channel.get("logo")
    pages = [ln for ln in channel.get("links") or () if ln.get("rel") == "alternate"]
    link = pages[0].get("href") if pages else None
    episodes = []
    for entry in parsed.entries:
        url = _fp_enclosure(entry)
        if not url:
            continue
        episodes.append(
            Episode(
                url=url,
                title=plain_title(entry.get("title")) or url,
                show=show or None,
                published=parse_date(entry.get("published") or entry.get("updated")),
                duration=parse_duration(entry.get("itunes_duration")),
                description=plain_text(entry.get("summary")),
                link=entry.get("link") if entry.get("link") != url else None,
                guid=entry.get("id"),
                season=_number(entry.get("itunes_season") or entry.get("podcast_season")),
                episode=_number(entry.get("itunes_episode") or entry.get("podcast_episode")),
                image=(entry.get("image") or {}).get("href") or image,
            )
        )
    return Feed(show, link, image, _numbered(episodes))


def _fp_enclosure(entry: Mapping[str, Any]) -> str | None:
    enclosures = [e for e in entry.get("enclosures") or () if e.get("href")]
    media = [e for e in enclosures if str(e.get("type") or "").startswith(_MEDIA_TYPES)]
    chosen = (media or enclosures or [None])[0]
    if chosen is not None:
        return str(chosen["href"]).strip()
    content = entry.get("media_content") or ()
    return str(content[0].get("url")).strip() if content and content[0].get("url") else None


def _number(value: Any) -> int | None:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if 0 <= number < 1_000_000 else None


_NEVER = datetime.min.replace(tzinfo=UTC)  # the sort key of an undated episode (none when sorting)


def _numbered(episodes: Iterable[Episode]) -> tuple[Episode, ...]:
    """Feed order kept; ``position`` counts from the oldest (feeds usually list newest first)."""
    listed = list(episodes)
    dated = all(e.published for e in listed)
    oldest_first = (
        sorted(range(len(listed)), key=lambda i: listed[i].published or _NEVER)
        if dated
        else list(reversed(range(len(listed))))
    )
    positions = {index: rank for rank, index in enumerate(oldest_first, 1)}
    return tuple(Episode(**{**_fields(e), "position": positions[i]}) for i, e in enumerate(listed))


def _fields(episode: Episode) -> dict[str, Any]:
    return {name: getattr(episode, name) for name in Episode.__dataclass_fields__}
