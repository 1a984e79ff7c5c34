"""Podcast feeds for tests, shaped like real ones: iTunes and podcast namespaces, entities, redirects.

The RSS shape follows Apple's "A Podcaster's Guide to RSS" (itunes:duration, itunes:episode,
itunes:season, itunes:image, enclosure with length and type) and the Podcast Index namespace
(podcast:season, podcast:episode); titles carry the numeric and named entities real feeds use
(``&#039;`` from WordPress, ``&quot;``, ``&amp;``), notes are CDATA HTML. The Atom shape follows
RFC 4287 with ``<link rel="enclosure">`` as Atom podcast feeds (e.g. those written by Blogger and
some self-hosted generators) carry their audio.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

RSS_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"
     xmlns:podcast="https://podcastindex.org/namespace/1.0"
     xmlns:content="http://purl.org/rss/1.0/modules/content/"
     xmlns:atom="http://www.w3.org/2005/Atom">
<channel>
  <title>{show}</title>
  <link>https://show.example.org/</link>
  <atom:link href="{base}/media/feed.xml" rel="self" type="application/rss+xml"/>
  <language>en-us</language>
  <description>A show about testing &amp; listening.</description>
  <itunes:author>The Hosts</itunes:author>
  <itunes:image href="https://show.example.org/art.jpg"/>
  <itunes:category text="Technology"/>
  <itunes:explicit>false</itunes:explicit>
"""

RSS_ITEM = """  <item>
    <title>{title}</title>
    <link>https://show.example.org/episodes/{n}</link>
    <guid isPermaLink="false">show-ep-{n}</guid>
    <pubDate>{date}</pubDate>
    <description><![CDATA[<p>In episode {n} we talk about <b>testing</b> &amp; more.</p><p>Links:
      <a href="https://example.org">example</a></p>]]></description>
    <enclosure url="{url}" length="12345" type="audio/mpeg"/>
    <itunes:duration>{duration}</itunes:duration>
    <itunes:episode>{n}</itunes:episode>
    <itunes:season>{season}</itunes:season>
    <itunes:episodeType>full</itunes:episodeType>
    <itunes:image href="https://show.example.org/ep{n}.jpg"/>
    <podcast:transcript url="https://show.example.org/ep{n}.vtt" type="text/vtt"/>
  </item>
"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd">
  <title type="text">Atom Hour</title>
  <id>urn:uuid:60a76c80-d399-11d9-b93C-0003939e0af6</id>
  <updated>2024-05-02T09:30:00Z</updated>
  <author><name>Atom Host</name></author>
  <logo>https://atom.example.org/logo.png</logo>
{entries}</feed>
"""

ATOM_ENTRY = """  <entry>
    <title>{title}</title>
    <id>urn:uuid:atom-ep-{n}</id>
    <published>{date}</published>
    <updated>{date}</updated>
    <link rel="alternate" type="text/html" href="https://atom.example.org/ep/{n}"/>
    <link rel="enclosure" type="audio/mpeg" length="4321" href="{url}"/>
    <summary type="html">&lt;p&gt;Atom episode {n} &amp;amp; friends&lt;/p&gt;</summary>
    <itunes:duration>{duration}</itunes:duration>
  </entry>
"""

# itunes:duration as real feeds write it: seconds, H:MM:SS, MM:SS, minutes over 59, fractions.
DURATIONS = ("1", "0:00:01", "00:01", "0:01.0", "1.0")
START = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)


def rss_feed(
    base: str,
    episodes: list[tuple[str, str]],
    *,
    show: str = "The Test Show &#039;Live&#039;",
    start: datetime = START,
) -> str:
    """An RSS 2.0 feed, newest first; ``episodes`` are (title as XML text, enclosure URL), oldest first."""
    items = []
    for n, (title, url) in enumerate(episodes, 1):
        items.append(
            RSS_ITEM.format(
                title=title,
                n=n,
                url=url,
                date=format_datetime(start + timedelta(days=7 * (n - 1))),
                duration=DURATIONS[n % len(DURATIONS)],
                season=1 + (n - 1) // 10,
            )
        )
    return RSS_HEAD.format(show=show, base=base) + "".join(reversed(items)) + "</channel>\n</rss>\n"


def atom_feed(episodes: list[tuple[str, str]]) -> str:
    entries = [
        ATOM_ENTRY.format(
            title=title,
            n=n,
            url=url,
            date=(START + timedelta(days=n)).isoformat().replace("+00:00", "Z"),
            duration="00:00:01",
        )
        for n, (title, url) in enumerate(episodes, 1)
    ]
    return ATOM.format(entries="".join(reversed(entries)))


def podtrac(base: str, target: str) -> str:
    """A measurement-prefix enclosure URL that 302s to ``target`` on the same local host."""
    host = base.removeprefix("http://")
    return f"{base}/redirect.mp3/{host}/{target.lstrip('/')}"


def big_feed(base: str, count: int) -> str:
    """A long-running show: ``count`` episodes, each with full notes, as large shows publish."""
    episodes = [(f"Episode {n}: &quot;Part&quot; {n}", podtrac(base, f"media/e{n}.mp3")) for n in
                range(1, count + 1)]  # fmt: skip
    return rss_feed(base, episodes, start=datetime(2005, 1, 3, 8, 0, tzinfo=UTC))
