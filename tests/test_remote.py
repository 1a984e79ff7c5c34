"""Remote sources through yt-dlp against a local media host: metadata, captions, downloads, errors."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import av
import pytest
from yt_dlp.extractor.youtube import YoutubeIE
from yt_dlp.utils import DownloadError, ExtractorError, GeoRestrictedError, UnsupportedError

from engine.errors import InputError, SourceError
from engine.sources.caption_tracks import fetch_captions, try_captions
from engine.sources.remote import RemoteInfo, download_audio, expand_playlist, fetch_info
from engine.sources.source_errors import source_error
from tests.mediagen import write_tone
from tests.servers.media_host import MediaHost, Track

MANUAL_VTT = "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nHello from the manual track\n"
MANUAL_SRT = "1\n00:00:00,000 --> 00:00:01,000\nBonjour\n"
AUTO_VTT = (
    "WEBVTT\nKind: captions\nLanguage: en\n\n"
    "00:00:00.000 --> 00:00:01.000 align:start position:0%\n \nauto<00:00:00.500><c> words</c>\n\n"
    "00:00:01.000 --> 00:00:01.010 align:start position:0%\nauto words\n \n\n"
    "00:00:01.010 --> 00:00:02.000 align:start position:0%\nauto words\nroll<c> up</c>\n"
)
AUTO_JSON3 = {
    "events": [
        {"tStartMs": 0, "dDurationMs": 2000, "id": 1, "wpWinPosId": 1},
        {
            "tStartMs": 0,
            "dDurationMs": 2000,
            "wWinId": 1,
            "segs": [{"utf8": "json"}, {"utf8": " words"}],
        },
        {"tStartMs": 1000, "wWinId": 1, "aAppend": 1, "segs": [{"utf8": "\n"}]},
        {"tStartMs": 1010, "dDurationMs": 990, "wWinId": 1, "segs": [{"utf8": "roll up"}]},
    ]
}
FEED = """<?xml version="1.0"?>
<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"><channel>
<title>Local Pod</title>
<item><title>Episode 1</title><guid>ep-1</guid><enclosure url="{base}/media/tone.mp3" type="audio/mpeg"/></item>
<item><title>Episode 2</title><guid>ep-2</guid><enclosure url="{base}/media/talk.mp4" type="video/mp4"/></item>
</channel></rss>"""


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MediaHost]:
    root = tmp_path_factory.mktemp("site")
    write_tone(root / "tone.mp3", 1.0, 440)
    write_tone(root / "talk.mp4", 1.0, 330, video=True)
    (root / "talk.en.vtt").write_text(MANUAL_VTT)
    (root / "talk.fr.srt").write_text(MANUAL_SRT)
    (root / "auto.en.vtt").write_text(AUTO_VTT)
    (root / "auto.en.json3").write_text(json.dumps(AUTO_JSON3))
    (root / "broken.json3").write_text("{not json")
    (root / "plain.html").write_text(
        "<html><head><title>Nothing</title></head><body>No media.</body></html>"
    )
    with MediaHost(root) as server:
        (root / "feed.xml").write_text(FEED.format(base=server.base_url))
        server.add_page(
            "talk",
            "talk.mp4",
            title="A Local Talk",
            tracks=[Track("talk.en.vtt")],
            description="About tones",
        )
        yield server


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _decoded_seconds(path: Path) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        return samples / stream.rate


# --- the local host itself -------------------------------------------------------------


def test_host_serves_ranges_head_and_404(host: MediaHost) -> None:
    size = (host.root / "tone.mp3").stat().st_size
    request = urllib.request.Request(host.media_url("tone.mp3"), headers={"Range": "bytes=10-19"})
    with urllib.request.urlopen(request) as response:
        assert response.status == 206
        assert response.headers["Content-Range"] == f"bytes 10-19/{size}"
        assert response.read() == (host.root / "tone.mp3").read_bytes()[10:20]
    head = urllib.request.Request(host.media_url("talk.mp4"), method="HEAD")
    with urllib.request.urlopen(head) as response:
        assert response.headers["Content-Type"] == "video/mp4"
        assert int(response.headers["Content-Length"]) == (host.root / "talk.mp4").stat().st_size
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(host.media_url("../../etc/passwd"))
    assert missing.value.code == 404


# --- metadata ------------------------------------------------------------------------------


def test_fetch_info_reads_a_video_page_with_its_subtitles(host: MediaHost) -> None:
    info = fetch_info(host.url("page/talk.html"))
    assert info.title == "A Local Talk"
    assert info.description == "About tones"
    assert info.webpage_url == host.url("page/talk.html")
    assert info.subtitles == {"en": (("vtt", host.media_url("talk.en.vtt")),)}
    assert not info.is_playlist


def test_fetch_info_on_a_direct_mp3_link(host: MediaHost) -> None:
    info = fetch_info(host.media_url("tone.mp3"))
    assert (info.extractor, info.id, info.title) == ("generic", "tone", "tone")
    assert info.duration is None  # a bare file carries no metadata the page could show
    assert info.subtitles == {}


def test_feed_is_a_playlist_and_expands_to_its_episodes(host: MediaHost) -> None:
    info = fetch_info(host.media_url("feed.xml"))
    assert info.is_playlist and info.title == "Local Pod"
    assert info.entries == (host.media_url("tone.mp3"), host.media_url("talk.mp4"))
    assert expand_playlist(host.media_url("feed.xml")) == [
        (host.media_url("tone.mp3"), "Episode 1"),
        (host.media_url("talk.mp4"), "Episode 2"),
    ]


def test_cookies_are_sent_and_the_cookie_file_is_left_untouched(
    host: MediaHost, tmp_path: Path
) -> None:
    cookies = tmp_path / "cookies.txt"
    cookies.write_text(
        "# Netscape HTTP Cookie File\n127.0.0.1\tFALSE\t/\tFALSE\t0\tsession\tabc123\n"
    )
    before = cookies.read_bytes()
    fetch_info(host.media_url("tone.mp3"), cookies=cookies)
    assert host.requests[-1].cookie == "session=abc123"
    assert cookies.read_bytes() == before


def test_missing_cookie_file_is_an_input_error(host: MediaHost, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cookies file not found"):
        fetch_info(host.media_url("tone.mp3"), cookies=tmp_path / "nope.txt")


# --- captions ------------------------------------------------------------------------------


def _info(host: MediaHost, subtitles: dict | None = None, auto: dict | None = None) -> RemoteInfo:
    return RemoteInfo(
        url=host.url("page/x.html"),
        webpage_url=host.url("page/x.html"),
        extractor="youtube",
        id="x",
        title="x",
        subtitles=subtitles or {},
        automatic_captions=auto or {},
    )


def test_captions_from_the_page_track_end_to_end(host: MediaHost) -> None:
    result = fetch_captions(fetch_info(host.url("page/talk.html")), ["en"])
    assert result is not None
    assert (result.language, result.kind, result.format) == ("en", "manual", "vtt")
    assert [s.text for s in result.segments] == ["Hello from the manual track"]


def test_manual_captions_win_over_automatic_ones(host: MediaHost) -> None:
    info = _info(
        host,
        subtitles={"en": (("vtt", host.media_url("talk.en.vtt")),)},
        auto={"en": (("json3", host.media_url("auto.en.json3")),)},
    )
    result = fetch_captions(info, ["en"])
    assert result is not None and result.kind == "manual"
    assert result.segments[0].text == "Hello from the manual track"


def test_language_prefix_and_preference_order(host: MediaHost) -> None:
    info = _info(
        host,
        subtitles={
            "fr": (("srt", host.media_url("talk.fr.srt")),),
            "en-GB": (("vtt", host.media_url("talk.en.vtt")),),
        },
    )
    british = fetch_captions(info, ["en"])
    assert british is not None and british.language == "en-GB"
    french = fetch_captions(info, ["fr", "en"])
    assert french is not None and (french.language, french.format) == ("fr", "srt")
    assert [s.text for s in french.segments] == ["Bonjour"]


def test_auto_captions_prefer_the_original_track_and_json3(host: MediaHost) -> None:
    original = (
        ("vtt", host.media_url("auto.en.vtt") + "?lang=en&fmt=vtt"),
        ("json3", host.media_url("auto.en.json3") + "?lang=en&fmt=json3"),
    )
    translated = (("vtt", host.media_url("talk.en.vtt") + "?lang=en&tlang=de&fmt=vtt"),)
    info = _info(host, auto={"en-orig": original, "en": original, "de": translated})
    result = fetch_captions(info, ["de", "en"])  # German exists only as a machine translation
    assert result is not None
    assert (result.language, result.kind, result.format) == ("en", "auto", "json3")
    assert " ".join(s.text for s in result.segments) == "json words roll up"
    assert (
        fetch_captions(_info(host, auto={"de": translated}), ["de"]) is not None
    )  # nothing better


def test_rolling_auto_vtt_is_deduplicated(host: MediaHost) -> None:
    info = _info(host, auto={"en": (("vtt", host.media_url("auto.en.vtt")),)})
    result = fetch_captions(info, ["en"])
    assert result is not None
    assert [s.text for s in result.segments] == ["auto words", "roll up"]


def test_a_damaged_rendition_falls_back_to_the_next_format(host: MediaHost) -> None:
    tracks = (("json3", host.media_url("broken.json3")), ("vtt", host.media_url("auto.en.vtt")))
    result = fetch_captions(_info(host, auto={"en": tracks}), ["en"])
    assert result is not None and result.format == "vtt"


def test_no_caption_in_the_wanted_languages_gives_none(host: MediaHost) -> None:
    info = _info(host, subtitles={"fr": (("srt", host.media_url("talk.fr.srt")),)})
    assert fetch_captions(info, ["de"]) is None


def test_missing_caption_file_is_passed_over_and_says_why(host: MediaHost) -> None:
    # A caption that cannot be had no longer fails the item: the pipeline goes on to the audio.
    info = _info(host, subtitles={"en": (("vtt", host.media_url("gone.vtt")),)})
    attempt = try_captions(info, ["en"])
    assert attempt.result is None
    assert attempt.failures == ["manual en vtt: HTTP 404"]
    assert attempt.summary() == "1 tried: manual en vtt: HTTP 404"


# --- downloads -----------------------------------------------------------------------------


def test_download_mp3_lands_in_workdir_and_decodes(host: MediaHost, tmp_path: Path) -> None:
    path = download_audio(host.media_url("tone.mp3"), tmp_path)
    assert path.parent == tmp_path.resolve()
    assert list(tmp_path.iterdir()) == [path]  # no .part files, cookies or caches left behind
    assert _decoded_seconds(path) == pytest.approx(1.0, abs=0.1)


def test_download_from_a_page_survives_one_server_error(host: MediaHost, tmp_path: Path) -> None:
    host.fail_next(1, 503, path="/media/talk.mp4")
    path = download_audio(host.url("page/talk.html"), tmp_path)
    assert path.suffix == ".mp4" and path.parent == tmp_path.resolve()
    assert _decoded_seconds(path) == pytest.approx(1.0, abs=0.1)
    statuses = [r.status for r in host.requests if r.path == "/media/talk.mp4"][-2:]
    assert statuses == [503, None]  # the failed try, then the retry that worked


def test_download_that_keeps_failing_is_transient(host: MediaHost, tmp_path: Path) -> None:
    host.fail_next(5, 503, path="/media/talk.mp4")
    try:
        with pytest.raises(SourceError) as caught:
            download_audio(host.url("page/talk.html"), tmp_path)
    finally:
        host.clear_faults()
    assert caught.value.transient
    assert caught.value.message.startswith("network problem")


def test_download_refuses_a_feed(host: MediaHost, tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="playlist"):
        download_audio(host.media_url("feed.xml"), tmp_path)
    assert list(tmp_path.iterdir()) == []


# --- error mapping -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status", "transient", "message"),
    [
        ("media/missing.mp3", 404, False, "not found at this URL"),
        ("status/410", 410, False, "not found at this URL"),
        ("status/403", 403, False, "access refused by the host"),
        ("status/429", 429, True, "network problem"),
        ("status/500", 500, True, "network problem"),
        ("media/plain.html", None, False, "no media found at this URL"),
    ],
)
def test_http_answers_map_to_errors(
    host: MediaHost, path: str, status: int | None, transient: bool, message: str
) -> None:
    with pytest.raises(SourceError) as caught:
        fetch_info(host.url(path))
    assert caught.value.transient is transient
    assert caught.value.message.startswith(message)
    if status:
        assert f"HTTP Error {status}" in caught.value.message  # yt-dlp's own words kept at the end


def test_connection_refused_is_transient() -> None:
    with pytest.raises(SourceError) as caught:
        fetch_info(f"http://127.0.0.1:{_closed_port()}/a.mp3")
    assert caught.value.transient and "Connection refused" in caught.value.message


def test_injected_503_then_recovery(host: MediaHost) -> None:
    host.fail_next(1, 503)
    with pytest.raises(SourceError) as caught:
        fetch_info(host.media_url("tone.mp3"))
    assert caught.value.transient
    assert fetch_info(host.media_url("tone.mp3")).title == "tone"


def test_a_silent_server_times_out_as_transient(host: MediaHost) -> None:
    host.hang_next(1, 3.0)
    with pytest.raises(SourceError) as caught:
        fetch_info(host.media_url("tone.mp3"), timeout=0.5)
    assert caught.value.transient and "timed out" in caught.value.message


def test_not_a_url_is_permanent() -> None:
    with pytest.raises(SourceError) as caught:
        fetch_info("just some words")
    assert not caught.value.transient and caught.value.message.startswith("no media found")


def test_yt_dlp_prints_nothing(host: MediaHost, capfd: pytest.CaptureFixture[str]) -> None:
    fetch_info(host.url("page/talk.html"))
    with pytest.raises(SourceError):
        fetch_info(host.url("status/404"))
    assert capfd.readouterr() == ("", "")


def _as_reported(exc: ExtractorError) -> DownloadError:
    """Wrap an extractor error the way YoutubeDL reports it to callers."""
    text = str(exc)
    if isinstance(exc, GeoRestrictedError):
        text = f"{exc.msg}\nYou might want to use a VPN or a proxy server (with --proxy) to workaround."
    return DownloadError(f"ERROR: {text}", (type(exc), exc, None))


_HINT = YoutubeIE()._youtube_login_hint  # the cookies advice yt-dlp appends to sign-in errors
_COOKIES = "use --cookies FILE from a browser session that can see it"


def _yt(reason: str) -> ExtractorError:
    """An error as the YouTube extractor raises it for a playability reason."""
    return ExtractorError(reason, expected=True, video_id="dQw4w9WgXcQ", ie="youtube")


# (error as yt-dlp raises it, message, transient, hint): one row per rule in ERROR_RULES.
# fmt: off
ERROR_CASES = [
    (_yt(f"Private video. Sign in if you've been granted access to this video. {_HINT}"), "private video", False, _COOKIES),
    (_yt(f"Sign in to confirm your age. This video may be inappropriate for some users. {_HINT}"), "age-restricted video", False, _COOKIES),
    (_yt(f"Sign in to confirm you\u2019re not a bot. {_HINT}"), "the site wants a signed-in browser session", False, _COOKIES),
    (_yt("Join this channel to get access to members-only content like this video, and other exclusive perks."), "members-only video", False, _COOKIES),
    (GeoRestrictedError("The uploader has not made this video available in your country", countries=["US"]), "blocked in this region", False, "country"),
    (GeoRestrictedError("This video is not available from your location due to geo restriction"), "blocked in this region", False, "country"),
    (_yt("Video unavailable. This video has been removed by the uploader"), "video unavailable (removed or never existed)", False, "browser"),
    (_yt("Video unavailable. This video is no longer available because the YouTube account associated with this video has been terminated."), "video unavailable (removed or never existed)", False, "browser"),
    (_yt("This video is DRM protected"), "DRM-protected media cannot be downloaded", False, ""),
    (_yt("Premieres in 5 hours"), "not streamed yet", False, "after it airs"),
    (_yt("This content isn't available, try again later. The current session has been rate-limited by YouTube for up to an hour."), "network problem", True, "rate limiting"),
    (ExtractorError("Unable to download webpage: [Errno -2] Name or service not known (caused by TransportError('[Errno -2] Name or service not known'))", expected=True, video_id="a", ie="generic"), "network problem", True, "retried"),
    (ExtractorError("Unable to download webpage: [Errno -3] Temporary failure in name resolution", expected=True, video_id="a", ie="generic"), "network problem", True, "retried"),
    (UnsupportedError("https://example.org/about"), "no media found at this URL", False, "video or audio page"),
    (_yt("Requested format is not available. Use --list-formats for a list of available formats"), "no media found at this URL", False, "video or audio page"),
]
# fmt: on


@pytest.mark.parametrize(("error", "message", "transient", "hint"), ERROR_CASES)
def test_every_error_rule_with_yt_dlp_wording(
    error: ExtractorError, message: str, transient: bool, hint: str
) -> None:
    reported = _as_reported(error)
    mapped = source_error(reported)
    assert mapped.message.startswith(f"{message}: ")
    raw = " ".join(str(reported).removeprefix("ERROR: ").split())
    assert mapped.message.endswith(raw[-60:])  # yt-dlp's own words kept at the end
    assert mapped.transient is transient
    assert hint in mapped.hint


def test_credentials_are_stripped_from_the_raw_text() -> None:
    raw = (
        "ERROR: [generic] a: Unable to download webpage: HTTP Error 404: Not Found "
        "(url https://alice:s3cret@media.example/ep.mp3?token=abc&x=1)"
    )
    mapped = source_error(raw)
    assert (
        "s3cret" not in mapped.message
        and "alice" not in mapped.message
        and "abc" not in mapped.message
    )
    assert "https://media.example/ep.mp3?token=***&x=1" in mapped.message
    assert not mapped.transient


def test_an_unknown_failure_is_permanent_and_keeps_the_text() -> None:
    mapped = source_error(
        "ERROR: [foo] 1: Unable to extract player config; please report this issue on  https://x"
    )
    assert not mapped.transient
    assert mapped.message == "could not read this source: [foo] 1: Unable to extract player config"
