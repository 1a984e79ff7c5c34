"""Response formats by model, the once-per-batch switch to json, language, quota headers, outages."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from engine.errors import TooLarge, Unreachable
from engine.limits.headers import ServerQuota
from engine.providers.base import Chunk
from engine.providers.formats import APPROXIMATE, format_for
from engine.providers.openai import OpenAITranscriber
from tests.mediagen import write_tone
from tests.servers.openai_api import OpenAIServer

KEY = "sk-test"


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as api:
        yield api


@pytest.fixture(scope="module")
def chunk(tmp_path_factory: pytest.TempPathFactory) -> Chunk:
    folder = tmp_path_factory.mktemp("fmt")
    return Chunk(0, 0.0, 6.0, write_tone(folder / "six.flac", seconds=6.0, freq=400.0))


def client(server: OpenAIServer, model: str, **kwargs: object) -> OpenAITranscriber:
    return OpenAITranscriber(server.base_url, [KEY], model=model, timeout=5.0, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("model", "fmt", "granularities"),
    [
        ("whisper-1", "verbose_json", ("segment", "word")),
        ("whisper-large-v3", "verbose_json", ("segment", "word")),
        ("whisper-large-v3-turbo", "verbose_json", ("segment", "word")),
        ("distil-whisper-large-v3-en", "verbose_json", ("segment", "word")),
        ("gpt-4o-transcribe", "json", ()),
        ("gpt-4o-mini-transcribe", "json", ()),
        ("gpt-4o-mini-transcribe-2025-03-20", "json", ()),
        ("some-local-model", "verbose_json", ()),
    ],
)
def test_each_model_is_asked_for_the_format_it_serves(
    server: OpenAIServer, chunk: Chunk, model: str, fmt: str, granularities: tuple[str, ...]
) -> None:
    api = client(server, model)
    result = api.transcribe(chunk)
    api.close()
    arrival = server.arrivals[0]
    assert (arrival.status, arrival.response_format, arrival.granularities) == (
        200,
        fmt,
        granularities,
    )
    assert result.segments and result.segments[0].text == "tone 400 hertz"
    if fmt == "json":
        # Text only: one segment over the whole chunk, said to be approximate.
        assert [(s.start, s.end) for s in result.segments] == [(0.0, 6.0)]
        assert result.extra.get("timing") == APPROXIMATE
    else:
        assert result.extra.get("timing") is None
    if "word" in granularities:
        assert [w.text for w in result.segments[0].words] == ["tone", "400", "hertz"]


def test_format_for_knows_the_gpt4o_family_by_prefix() -> None:
    assert format_for("openai/gpt-4o-transcribe") == "json"
    assert format_for("whisper-1") == "verbose_json"


def test_a_refused_format_switches_every_later_request_to_json_once(
    server: OpenAIServer, chunk: Chunk
) -> None:
    # A model our table does not know, which (like the gpt-4o family) serves json only.
    server.json_only = lambda model: model == "house-asr"
    api = client(server, "house-asr")
    events: list[tuple[str, str]] = []
    api.on_event = lambda kind, text: events.append((kind, text))
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: api.transcribe(chunk), range(16)))
    api.close()
    assert all(r.segments and r.segments[0].text == "tone 400 hertz" for r in results)
    assert [kind for kind, _ in events] == ["format"]
    assert "house-asr does not offer verbose_json" in events[0][1]
    refused = [a for a in server.arrivals if a.status == 400]
    # Only requests already on their way when the first refusal came can be refused.
    assert 1 <= len(refused) <= 8
    assert all(a.response_format == "verbose_json" for a in refused)
    assert server.arrivals[-1].response_format == "json"
    assert sum(1 for a in server.arrivals if a.status == 200) == 16


def test_a_forced_format_is_never_switched(server: OpenAIServer, chunk: Chunk) -> None:
    api = client(server, "gpt-4o-transcribe", response_format="verbose_json")
    with pytest.raises(Exception, match="not compatible with model 'gpt-4o-transcribe'"):
        api.transcribe(chunk)
    api.close()
    assert [a.status for a in server.arrivals] == [400]


def test_no_language_is_sent_unless_asked_and_the_answer_becomes_a_code(
    server: OpenAIServer, chunk: Chunk
) -> None:
    server.detected_language = "Spanish"
    api = client(server, "whisper-1")
    detected = api.transcribe(chunk)
    asked = api.transcribe(chunk, "de-DE")
    api.close()
    assert [a.language for a in server.arrivals] == [None, "de"]
    assert (detected.language, asked.language) == ("es", "de")


def test_quota_headers_of_every_reply_reach_the_listener(
    server: OpenAIServer, chunk: Chunk
) -> None:
    server.limit, server.window = 50, 10.0
    api = client(server, "whisper-1")
    heard: list[ServerQuota | None] = []
    api.on_reply = heard.append
    api.transcribe(chunk)
    api.transcribe(chunk)
    api.close()
    # Two of 50 used on a 10 s window that refills evenly: full again in 0.4 s.
    assert heard == [ServerQuota(50, 49, 0.2), ServerQuota(50, 48, 0.4)]
    assert [q.window() for q in heard if q] == [pytest.approx(10.0)] * 2


def test_groqs_413_is_a_too_large_error_naming_the_reason(
    server: OpenAIServer, chunk: Chunk
) -> None:
    server.style = "groq"
    server.max_upload_bytes = 1000
    api = client(server, "whisper-large-v3")
    with pytest.raises(TooLarge, match="Request Entity Too Large"):
        api.transcribe(chunk)
    api.close()


def test_a_closed_port_is_an_outage_not_a_failure(chunk: Chunk) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    api = OpenAITranscriber(f"http://127.0.0.1:{port}/v1", [KEY], timeout=2.0)
    with pytest.raises(Unreachable) as caught:
        api.transcribe(chunk)
    api.close()
    assert caught.value.transient and caught.value.kind == "offline"
    assert f"127.0.0.1:{port}" in str(caught.value)


def test_an_unresolvable_host_is_an_outage_too(chunk: Chunk) -> None:
    # .invalid never resolves (RFC 2606), so this needs no network.
    api = OpenAITranscriber("http://api.bulkscribe.invalid/v1", [KEY], timeout=2.0)
    with pytest.raises(Unreachable):
        api.transcribe(chunk)
    api.close()
