"""Podcast feeds: episodes keep what makes them findable, redirects never replace their URL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from engine.errors import SourceError, UsageError
from engine.sources.episodes import EpisodeChoice
from engine.sources.feed_fetch import fetch_feed, may_be_feed
from engine.sources.feed_text import parse_duration, plain_text
from engine.sources.feeds import feed_number, parse_feed, read_with_feedparser
from tests.feedgen import atom_feed, big_feed, podtrac, rss_feed
from tests.mediagen import write_tone
from tests.servers.media_host import MediaHost
from tests.servers.openai_api import OpenAIServer
from tests.test_headless_e2e import api_flags, assert_no_traceback, run_cli

pytestmark = pytest.mark.timeout(120)
BASE = "http://127.0.0.1:9"
TITLES = [
    ("Don&#039;t Panic: &quot;Intro&quot;", 'Don\'t Panic: "Intro"'),
    ("Q&amp;A &#8211; listeners&#x27; mail", "Q&A – listeners' mail"),
    ("Double-escaped &amp;#039;quotes&amp;#039;", "Double-escaped 'quotes'"),
    ("Plain <![CDATA[& simple]]>", "Plain & simple"),
]


def _feed(base: str = BASE) -> bytes:
    return rss_feed(base, [(t, podtrac(base, f"media/ep{n}.mp3")) for n, (t, _) in
                           enumerate(TITLES, 1)]).encode()  # fmt: skip


# --- reading ---------------------------------------------------------------------------------


def test_rss_episodes_keep_show_title_date_duration_notes_link_guid_numbers_image() -> None:
    feed = parse_feed(_feed())
    assert feed.title == "The Test Show 'Live'"
    assert [e.title for e in feed.episodes] == [want for _, want in reversed(TITLES)]
    oldest = feed.episodes[-1]
    assert oldest.url == f"{BASE}/redirect.mp3/127.0.0.1:9/media/ep1.mp3"
    assert (oldest.show, oldest.date, oldest.duration) == (
        "The Test Show 'Live'",
        "2024-03-01",
        1.0,
    )
    assert oldest.published == dt.datetime(2024, 3, 1, 10, 0, tzinfo=dt.UTC)
    assert oldest.description == ("In episode 1 we talk about testing & more.\nLinks:\nexample")
    assert (oldest.link, oldest.guid) == ("https://show.example.org/episodes/1", "show-ep-1")
    assert (oldest.season, oldest.episode, oldest.position) == (1, 1, 1)
    assert oldest.image == "https://show.example.org/ep1.jpg"
    assert [e.date for e in feed.episodes] == [
        "2024-03-22",
        "2024-03-15",
        "2024-03-08",
        "2024-03-01",
    ]


def test_atom_podcast_feed_takes_link_rel_enclosure() -> None:
    data = atom_feed([("One &amp; only", f"{BASE}/media/a1.mp3"), ("Two", f"{BASE}/media/a2.mp3")])
    feed = parse_feed(data.encode())
    assert feed.title == "Atom Hour"
    assert [(e.title, e.url, e.date) for e in feed.episodes] == [
        ("Two", f"{BASE}/media/a2.mp3", "2024-03-03"),
        ("One & only", f"{BASE}/media/a1.mp3", "2024-03-02"),
    ]
    assert feed.episodes[1].link == "https://atom.example.org/ep/1"
    assert feed.episodes[1].description == "Atom episode 1 & friends"
    assert feed.episodes[1].duration == 1.0


@pytest.mark.parametrize(
    "data",
    [
        _feed(),
        atom_feed([("A", f"{BASE}/media/a.mp3")]).encode(),
        big_feed(BASE, 60).encode(),
    ],
    ids=["rss", "atom", "long"],
)
def test_fast_reader_and_feedparser_agree(data: bytes) -> None:
    assert parse_feed(data) == read_with_feedparser(data)


def test_broken_feed_with_html_entities_goes_to_feedparser() -> None:
    # &nbsp; is not defined in XML: a strict parser refuses the whole document.
    data = _feed().replace(b"<title>Q&amp;A", b"<title>Q&amp;A&nbsp;")
    feed = parse_feed(data)
    assert len(feed.episodes) == 4
    assert "Q&A – listeners' mail" in [e.title for e in feed.episodes]


def test_rss_0_91_and_rdf_feeds_are_read_by_feedparser() -> None:
    rdf = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">
<channel rdf:about="x"><title>Old Show</title></channel>
<item rdf:about="e1"><title>Old one</title><link>http://old.example.org/1.mp3</link></item>
</rdf:RDF>"""
    assert parse_feed(rdf).title == "Old Show"  # no enclosure: no episodes, but no crash
    rss091 = b"""<rss version="0.91"><channel><title>Ninety</title><item><title>E</title>
<enclosure url="http://x.example.org/e.mp3" type="audio/mpeg" length="1"/></item></channel></rss>"""
    assert [e.url for e in parse_feed(rss091).episodes] == ["http://x.example.org/e.mp3"]


def test_a_page_that_is_no_feed_says_so() -> None:
    with pytest.raises(SourceError, match="not a podcast feed"):
        read_with_feedparser(b"just some words, no markup at all")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("3723", 3723.0),
        ("1:02:03", 3723.0),
        ("01:02:03", 3723.0),
        ("62:03", 3723.0),
        ("75:10", 4510.0),
        ("2:03", 123.0),
        ("3723.5", 3723.5),
        ("1:02:03.250", 3723.25),
        ("PT1H2M3S", 3723.0),
        ("1h 2m 3s", 3723.0),
        ("62 min", 3720.0),
        (" 45 ", 45.0),
        ("", None),
        ("soon", None),
        ("0", None),
        ("-5", None),
        ("99999999", None),
    ],
)
def test_itunes_duration_in_every_form(text: str, seconds: float | None) -> None:
    assert parse_duration(text) == seconds


def test_show_notes_become_plain_text_without_scripts() -> None:
    html = "<p>Hi&nbsp;there<br>second</p><script>alert(1)</script><ul><li>a</li><li>b</li></ul>"
    assert plain_text(html) == "Hi there\nsecond\na\nb"


def test_episode_numbers_are_itunes_numbers_or_positions() -> None:
    feed = parse_feed(_feed())
    assert [feed_number(feed.episodes)(e) for e in feed.episodes] == [4, 3, 2, 1]
    no_numbers = parse_feed(_feed().replace(b"<itunes:episode>3</itunes:episode>", b""))
    assert [feed_number(no_numbers.episodes)(e) for e in no_numbers.episodes] == [4, 3, 2, 1]


# --- choosing --------------------------------------------------------------------------------


def test_choice_since_latest_and_numbers_on_a_thousand_episode_feed() -> None:
    feed = parse_feed(big_feed(BASE, 1000).encode())
    assert len(feed.episodes) == 1000
    number = feed_number(feed.episodes)

    def take(choice: EpisodeChoice | None) -> list[int]:
        assert choice is not None
        return [number(e) for e in choice.apply(feed.episodes, when=lambda e: e.published,
                                                number=number)[0]]  # fmt: skip

    assert take(EpisodeChoice.parse(latest=3)) == [1000, 999, 998]
    assert take(EpisodeChoice.parse(episodes="3,5-9")) == [9, 8, 7, 6, 5, 3]
    newest = feed.episodes[0].published
    assert newest is not None
    since = (newest - dt.timedelta(days=14)).date().isoformat()
    assert take(EpisodeChoice.parse(since=since)) == [1000, 999, 998]
    assert take(EpisodeChoice.parse(since=since, latest=1)) == [1000]
    assert take(EpisodeChoice.parse(episodes="1-500", latest=2)) == [500, 499]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"since": "last week"}, "--since: 'last week' is not a date"),
        ({"latest": "0"}, "--latest: '0' is not a positive whole number"),
        ({"latest": "many"}, "--latest: 'many' is not a positive whole number"),
        ({"episodes": "3,9-5"}, "--episodes: '9-5' is not a number or a range"),
        ({"episodes": "a"}, "--episodes: 'a' is not a number or a range"),
    ],
)
def test_bad_choice_flags_are_refused_with_the_flag_named(
    kwargs: dict[str, str], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        EpisodeChoice.parse(**kwargs)


# --- fetching --------------------------------------------------------------------------------


def test_fetch_tells_feeds_from_media_and_pages(tmp_path: Path) -> None:
    write_tone(tmp_path / "ep1.mp3", 0.5, 440)
    with MediaHost(tmp_path) as host:
        (tmp_path / "feed.xml").write_bytes(_feed(host.base_url))
        (tmp_path / "page.html").write_text("<!DOCTYPE html><html><body>hi</body></html>")
        feed = fetch_feed(host.media_url("feed.xml"))
        assert feed is not None and len(feed.episodes) == 4
        moved = podtrac(host.base_url, "media/feed.xml")  # a feed that moved answers 302
        assert fetch_feed(moved) is not None
        assert fetch_feed(host.media_url("page.html")) is None
        assert fetch_feed(host.url("media/ep1.mp3?download=1")) is None
        assert fetch_feed(host.media_url("missing.xml")) is None
    assert not may_be_feed("https://cdn.example.org/a.mp3?x=1")
    assert may_be_feed("https://feeds.example.org/show")


# --- end to end ------------------------------------------------------------------------------


def test_feed_with_redirecting_enclosures_end_to_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    for n in range(1, 5):
        write_tone(site / f"ep{n}.mp3", 1.0, 400 + 50 * n)
    with OpenAIServer() as api, MediaHost(site) as host:
        (site / "feed.xml").write_bytes(_feed(host.base_url))
        feed_url = host.media_url("feed.xml")
        run = run_cli([feed_url, *api_flags(api, 2), "--latest", "3"], tmp_path, monkeypatch)
        redirects = [p for p in host.paths() if p.startswith("/redirect.mp3/")]
    assert_no_traceback(run)
    assert run.code == 0, run.stderr
    assert run.manifest["counts"] == {"done": 4}  # the feed and its three newest episodes
    notes = sorted(run.out.glob("*.md"))
    assert len(notes) == 3
    seen_urls = set()
    for path in notes:
        front, _ = _front(path)
        seen_urls.add(front["url"])
        assert front["url"].startswith(f"{host.base_url}/redirect.mp3/")  # the feed's own URL
        assert front["show"] == "The Test Show 'Live'"
        assert front["channel"] == "The Test Show 'Live'"
        assert isinstance(front["date"], dt.date) and front["date"] == front["upload_date"]
        assert front["episode"] in (2, 3, 4)
        assert front["link"] == f"https://show.example.org/episodes/{front['episode']}"
        assert front["duration"] == 1
        assert front["description"].startswith(f"In episode {front['episode']} we talk")
    assert len(seen_urls) == 3 and redirects  # downloads went through the redirects
    titles = {_front(p)[0]["title"] for p in notes}
    assert titles == {want for _, want in TITLES[1:]}
    assert "took 3 of 4 (latest 3)" in run.stderr


def test_atom_feed_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    site.mkdir()
    write_tone(site / "a1.mp3", 1.0, 440)
    with OpenAIServer() as api, MediaHost(site) as host:
        data = atom_feed([("Atom &amp; Eve", host.media_url("a1.mp3"))])
        (site / "atom").write_text(data)
        host.content_type("atom", "application/atom+xml")
        run = run_cli([host.media_url("atom"), *api_flags(api, 1)], tmp_path, monkeypatch)
    assert run.code == 0, run.stderr
    (note,) = run.out.glob("*.md")
    front, _ = _front(note)
    assert (front["title"], front["show"], str(front["date"])) == (
        "Atom & Eve",
        "Atom Hour",
        "2024-03-02",
    )


def _front(path: Path) -> tuple[dict[str, object], str]:
    import yaml

    text = path.read_text(encoding="utf-8")
    _, head, body = text.split("---\n", 2)
    return yaml.safe_load(head), body


def test_dry_run_lists_the_episodes_it_would_take(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with MediaHost(tmp_path) as host:
        (tmp_path / "feed.xml").write_bytes(big_feed(host.base_url, 1000).encode())
        argv = [host.media_url("feed.xml"), "--dry-run", "--episodes", "3,5-9", "--latest", "4"]
        run = run_cli(argv, tmp_path, monkeypatch)
        fetched = host.paths()
    assert_no_traceback(run)
    assert run.code == 0, run.stdout + run.stderr
    assert "Would take from The Test Show 'Live': 4 of 1000" in run.stdout
    for n in (9, 8, 7, 6):
        assert f'Episode {n}: "Part" {n}' in run.stdout
    assert "Episode 5:" not in run.stdout and "Episode 3:" not in run.stdout
    assert fetched == ["/media/feed.xml"]  # no episode was downloaded
    assert not (tmp_path / "out").exists()


# --- notes and choice plumbing -----------------------------------------------------------------


def test_episode_frontmatter_gains_show_date_episode_link_and_keeps_columns_apart() -> None:
    import yaml

    from engine.outputs.document import TranscriptDoc
    from engine.outputs.markdown import render_markdown

    doc = TranscriptDoc(
        source="https://cdn.example.org/e.mp3",
        url="https://cdn.example.org/e.mp3",
        title="Don't Panic",
        show='The Show: "Live"',
        date="2024-03-01",
        episode=12,
        link="https://show.example.org/12",
        extras={"show": "from the sheet", "speaker": "Ana"},
    )
    front = yaml.safe_load(render_markdown(doc).split("---\n")[1])
    assert front["show"] == 'The Show: "Live"'
    assert front["date"] == dt.date(2024, 3, 1)
    assert (front["episode"], front["link"]) == (12, "https://show.example.org/12")
    assert (front["extra_show"], front["speaker"]) == ("from the sheet", "Ana")


class _Notes:
    def __init__(self) -> None:
        self.notes: list[str] = []

    def note(self, kind: str, text: str) -> None:
        self.notes.append(f"{kind}: {text}")


def test_the_dialog_choice_on_an_item_wins_over_the_flags() -> None:
    from engine.items import Item
    from engine.settings import Settings
    from engine.sources.expand import choose_entries

    listed = [(f"https://youtu.be/video{n:06d}", f"Video {n}") for n in range(1, 11)]
    settings = Settings(latest=2)
    job = _Notes()
    flags = choose_entries(job, Item(0, "p"), settings, listed, when=lambda e: None, number=None)  # type: ignore[arg-type]
    assert [t for _, t in flags] == ["Video 1", "Video 2"]
    own = Item(0, "p", meta={"choose": {"episodes": "3,5-6"}})
    chosen = choose_entries(job, own, settings, listed, when=lambda e: None, number=None)  # type: ignore[arg-type]
    assert [t for _, t in chosen] == ["Video 3", "Video 5", "Video 6"]
    assert job.notes == [
        "playlist: p: took 2 of 10 (latest 2)",
        "playlist: p: took 3 of 10 (episodes 3,5-6)",
    ]


def test_since_keeps_undated_playlist_entries_and_says_so() -> None:
    from engine.items import Item
    from engine.settings import Settings
    from engine.sources.expand import choose_entries

    job = _Notes()
    listed = [("https://youtu.be/aaaaaaaaaaa", "A")]
    taken = choose_entries(job, Item(0, "p"), Settings(since="2024-01-01"), listed,  # type: ignore[arg-type]
                           when=lambda e: None, number=None)  # fmt: skip
    assert taken == listed
    assert job.notes == ["playlist: p: took 1 of 1 (since 2024-01-01); 1 without a date were kept"]


def test_the_summary_names_the_chosen_column(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "talks.csv").write_text(
        "youtube URL,desktop_mp4 URL,Title\n"
        ",https://cdn.example.org/1.mp4,One\n"
        ",https://cdn.example.org/2.mp4,Two\n"
    )
    run = run_cli(["talks.csv", "--dry-run"], tmp_path, monkeypatch)
    assert run.code == 0, run.stderr
    assert "talks.csv: links from column 'desktop_mp4 URL' (2 of 2 rows)" in run.stderr


def test_a_listed_redirecting_media_link_keeps_its_own_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    write_tone(site / "ep1.mp3", 1.0, 440)
    with OpenAIServer() as api, MediaHost(site) as host:
        tracked = podtrac(host.base_url, "media/ep1.mp3")
        (tmp_path / "links.txt").write_text(tracked + "\n")
        run = run_cli(["links.txt", *api_flags(api, 1)], tmp_path, monkeypatch)
    assert run.code == 0, run.stderr
    (note,) = run.out.glob("*.md")
    assert _front(note)[0]["url"] == tracked


@pytest.mark.parametrize(
    ("head", "ctype", "feed"),
    [
        (b'<?xml version="1.0"?>\n<!-- hi -->\n<rss version="2.0">', "application/rss+xml", True),
        (b"\xef\xbb\xbf<feed xmlns='http://www.w3.org/2005/Atom'>", "text/xml", True),
        (b"<rdf:RDF xmlns:rdf='x'>", "application/rdf+xml", True),
        (b"<rss version='2.0'>", "text/html", True),  # misconfigured hosts label feeds as HTML
        (b"<!DOCTYPE html><html><body><feedback-widget>", "text/html", False),
        (b"<html><head><link rel='alternate' type='application/rss+xml'>", "text/html", False),
        (b"ID3\x04\x00<rss", "audio/mpeg", False),
        (b"<rss version='2.0'>", "audio/mpeg", False),
        (b"plain words about <rss>", "text/plain", False),
    ],
)
def test_a_reply_is_taken_for_a_feed_only_by_its_first_element(
    head: bytes, ctype: str, feed: bool
) -> None:
    from engine.sources.feeds import looks_like_feed

    assert looks_like_feed(head, ctype) is feed


def test_a_feed_without_enclosures_is_left_to_yt_dlp(tmp_path: Path) -> None:
    blog = b"<rss version='2.0'><channel><title>Blog</title><item><title>Post</title>"
    blog += b"<link>https://youtu.be/dQw4w9WgXcQ</link></item></channel></rss>"
    (tmp_path / "blog.xml").write_bytes(blog)
    with MediaHost(tmp_path) as host:
        assert fetch_feed(host.media_url("blog.xml")) is None


def test_a_feed_that_trickles_in_is_cut_off_at_its_total_deadline(tmp_path: Path) -> None:
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    stop = threading.Event()

    def trickle() -> None:
        conn, _ = server.accept()
        conn.recv(4096)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n\r\n<rss>")
        while not stop.wait(0.05):  # a byte at a time, never finishing
            try:
                conn.sendall(b" ")
            except OSError:
                break
        conn.close()

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.getsockname()[1]}/feed"
    try:
        with pytest.raises(SourceError, match="did not arrive within 1 s") as caught:
            fetch_feed(url, timeout=5, total_timeout=1.0)
        assert caught.value.transient
    finally:
        stop.set()
        server.close()
