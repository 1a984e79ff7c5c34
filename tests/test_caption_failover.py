"""Captions that fail over: 429/5xx/HTML/empty try the next format and track, then the audio."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.sources.caption_fetch import decode_caption
from engine.sources.caption_tracks import try_captions
from engine.sources.remote import RemoteInfo
from tests.mediagen import write_tone
from tests.servers.media_host import MediaHost, Track
from tests.servers.openai_api import OpenAIServer
from tests.test_headless_e2e import api_flags, assert_no_traceback, run_cli, tone_text

pytestmark = pytest.mark.timeout(120)

VTT = "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nFrom the vtt rendition\n"
JSON3 = '{"events": [{"tStartMs": 0, "dDurationMs": 1000, "segs": [{"utf8": "From json3"}]}]}'
# A Windows-1252 SRT as Windows subtitle tools save it: smart quotes, an en dash, accents.
SRT_1252 = (
    "1\r\n00:00:00,000 --> 00:00:01,000\r\n\u201cCaf\u00e9\u201d \u2013 d\u00e9j\u00e0 vu\r\n\r\n"
    "2\r\n00:00:01,000 --> 00:00:02,000\r\nna\u00efve r\u00e9sum\u00e9\r\n"
).encode("cp1252")


@pytest.fixture
def host(tmp_path: Path) -> Iterator[MediaHost]:
    (tmp_path / "a.json3").write_text(JSON3)
    (tmp_path / "a.vtt").write_text(VTT)
    (tmp_path / "b.vtt").write_text(VTT.replace("vtt rendition", "second track"))
    (tmp_path / "win.srt").write_bytes(SRT_1252)
    (tmp_path / "declared.srt").write_bytes(SRT_1252)
    (tmp_path / "empty.vtt").write_text("")
    with MediaHost(tmp_path) as server:
        server.content_type("declared.srt", "application/x-subrip; charset=windows-1252")
        server.content_type("win.srt", "application/x-subrip")  # no charset, as most hosts
        yield server


def _info(subtitles: dict | None = None, auto: dict | None = None) -> RemoteInfo:
    return RemoteInfo(
        url="https://www.youtube.com/watch?v=abcdefghijk",
        webpage_url="https://www.youtube.com/watch?v=abcdefghijk",
        extractor="youtube",
        id="abcdefghijk",
        title="t",
        subtitles=subtitles or {},
        automatic_captions=auto or {},
    )


def test_429_on_one_format_tries_the_next_and_reports_retry_after(host: MediaHost) -> None:
    host.fail_next(1, 429, path="/media/a.json3", retry_after="7")
    tracks = (("json3", host.media_url("a.json3")), ("vtt", host.media_url("a.vtt")))
    paused: list[float | None] = []
    permits: list[int] = []
    attempt = try_captions(
        _info(auto={"en": tracks}),
        ["en"],
        before_request=lambda: permits.append(1),
        on_rate_limited=paused.append,
    )
    assert attempt.result is not None and attempt.result.format == "vtt"
    assert [s.text for s in attempt.result.segments] == ["From the vtt rendition"]
    assert paused == [7.0]
    assert len(permits) == 2  # each request waited for a permit (the second after the pause)
    assert attempt.failures == ["auto en json3: 429 Too Many Requests"]


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_fall_over_to_the_next_track(host: MediaHost, status: int) -> None:
    host.fail_next(5, status, path="/media/a.vtt")
    info = _info(
        subtitles={"en": (("vtt", host.media_url("a.vtt")),)},
        auto={"en": (("vtt", host.media_url("b.vtt")),)},
    )
    attempt = try_captions(info, ["en"])
    assert attempt.result is not None
    assert (attempt.result.kind, attempt.result.segments[0].text) == (
        "auto",
        "From the second track",
    )
    assert attempt.failures == [f"manual en vtt: HTTP {status}"]


def test_html_and_empty_replies_are_not_captions(host: MediaHost) -> None:
    host.html_next(1, path="/media/a.json3")
    tracks = (
        ("json3", host.media_url("a.json3")),
        ("vtt", host.media_url("empty.vtt")),
        ("srt", host.media_url("win.srt")),
    )
    attempt = try_captions(_info(subtitles={"en": tracks}), ["en"])
    assert attempt.result is not None and attempt.result.format == "srt"
    assert attempt.failures == [
        "manual en json3: an HTML page instead of captions",
        "manual en vtt: empty reply",
    ]


def test_every_rendition_failing_says_why(host: MediaHost) -> None:
    host.fail_next(3, 503)
    tracks = (("json3", host.media_url("a.json3")), ("vtt", host.media_url("a.vtt")))
    attempt = try_captions(_info(subtitles={"en": tracks}, auto={"en-orig": tracks[1:]}), ["en"])
    assert attempt.result is None
    assert attempt.tried == 3
    assert attempt.summary().startswith("3 tried: manual en json3: HTTP 503;")


@pytest.mark.parametrize("name", ["win.srt", "declared.srt"])
def test_windows_1252_captions_decode_without_replacement_characters(
    host: MediaHost, name: str
) -> None:
    attempt = try_captions(_info(subtitles={"en": (("srt", host.media_url(name)),)}), ["en"])
    assert attempt.result is not None
    texts = [s.text for s in attempt.result.segments]
    assert texts == [
        "\u201cCaf\u00e9\u201d \u2013 d\u00e9j\u00e0 vu",
        "na\u00efve r\u00e9sum\u00e9",
    ]


@pytest.mark.parametrize(
    ("data", "ctype", "text"),
    [
        ("Grüße".encode(), "text/vtt; charset=utf-8", "Grüße"),
        ("Grüße".encode("cp1252"), "text/vtt; charset=utf-8", "Grüße"),  # a wrong header
        ("Grüße".encode("utf-16"), "", "Grüße"),
        ("Grüße".encode("utf-16-le"), "", "Grüße"),
        ("Grüße".encode("latin-1"), "text/plain; charset=iso-8859-1", "Grüße"),
        ("\u041f\u0440\u0438\u0432\u0435\u0442".encode("koi8-r"), "text/plain; charset=koi8-r",
         "\u041f\u0440\u0438\u0432\u0435\u0442"),
        (b"\xef\xbb\xbfBOM", "", "BOM"),
        (b"\x81\x8d\x8f", "", "\x81\x8d\x8f"),  # bytes Windows-1252 leaves undefined
    ],
)  # fmt: skip
def test_decoding_by_charset_then_detection_never_replaces(
    data: bytes, ctype: str, text: str
) -> None:
    decoded = decode_caption(data, ctype)
    assert decoded == text
    assert "\ufffd" not in decoded


# --- through the pipeline ------------------------------------------------------------------


def _site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    site.mkdir()
    write_tone(site / "talk.mp4", 2.0, 330, video=True)
    (site / "talk.en.vtt").write_text(VTT)
    return site


def test_no_caption_to_be_had_falls_back_to_audio_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with OpenAIServer() as api, MediaHost(_site(tmp_path)) as host:
        page = host.add_page("talk", "talk.mp4", title="Talk", tracks=[Track("talk.en.vtt")])
        host.fail_next(1, 429, path="/media/talk.en.vtt", retry_after="1")
        run = run_cli([page, *api_flags(api, 1), "--formats", "md,json"], tmp_path, monkeypatch)
    assert_no_traceback(run)
    assert run.code == 0, run.stderr
    item = run.item(page)
    assert (item["status"], item["method"]) == ("done", "asr")
    assert [s["text"] for s in run.segments(item)] == [tone_text(330)]
    assert "media: 429, pausing" in run.stderr
    assert "no usable captions (1 tried: manual en vtt: 429 Too Many Requests); transcribing" in (
        run.stderr
    )


def test_captions_only_refuses_the_audio_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with OpenAIServer() as api, MediaHost(_site(tmp_path)) as host:
        page = host.add_page("talk", "talk.mp4", title="Talk", tracks=[Track("talk.en.vtt")])
        host.fail_next(1, 503, path="/media/talk.en.vtt")
        argv = [page, *api_flags(api, 1), "--captions-only", "--retries", "0"]
        run = run_cli(argv, tmp_path, monkeypatch)
        asr_requests = len(api.arrivals)
    assert_no_traceback(run)
    assert run.code == 1
    assert asr_requests == 0
    item = run.item(page)
    assert item["status"] == "failed"
    assert "no usable captions (1 tried: manual en vtt: HTTP 503)" in item["error"]
    assert "without --captions-only" in item["error"]


def test_media_without_captions_goes_to_asr_quietly_unless_captions_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with OpenAIServer() as api, MediaHost(_site(tmp_path)) as host:
        page = host.add_page("bare", "talk.mp4", title="Bare")  # no <track> at all
        quiet = run_cli([page, *api_flags(api, 1)], tmp_path / "a", monkeypatch)
        strict = run_cli([page, *api_flags(api, 1), "--captions-only"], tmp_path / "b", monkeypatch)
    assert quiet.code == 0, quiet.stderr
    assert "captions" not in quiet.stderr.split("transcribing ━")[0]  # the usual path: no line
    assert quiet.item(page)["method"] == "asr"
    assert strict.code == 1
    assert (
        "no usable captions (the site lists none in the wanted languages)"
        in (strict.item(page)["error"])
    )
