"""The OpenAI-compatible client against the local API server: formats, status codes, broken wires."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.errors import AuthError, ProviderError, RateLimited, TooLarge, describe
from engine.providers.base import Chunk
from engine.providers.openai import OpenAITranscriber, parse_retry_after
from engine.segments import Segment, Word
from tests.mediagen import write_tone
from tests.servers.openai_api import OpenAIServer

KEYS = ["sk-first", "sk-second"]


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer(keys=KEYS) as api:
        yield api


@pytest.fixture(scope="module")
def chunks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Chunk]:
    folder = tmp_path_factory.mktemp("chunks")
    made = {
        suffix: Chunk(3, 30.0, 31.5, write_tone(folder / f"chunk-0003{suffix}", seconds=1.5))
        for suffix in (".flac", ".wav")
    }
    made[".long"] = Chunk(0, 0.0, 7.0, write_tone(folder / "long.flac", seconds=7.0, freq=300.0))
    garbage = folder / "not-audio.flac"
    garbage.write_bytes(b"this is not a flac file" * 40)
    made[".bad"] = Chunk(0, 0.0, 1.0, garbage)
    return made


def transcriber(
    server: OpenAIServer, fmt: str = "verbose_json", **kwargs: object
) -> OpenAITranscriber:
    kwargs.setdefault("timeout", 5.0)
    keys = kwargs.pop("keys", KEYS)
    base = kwargs.pop("base", server.base_url)
    return OpenAITranscriber(base, keys, response_format=fmt, **kwargs)  # type: ignore[arg-type]


def fail(
    server: OpenAIServer, chunk: Chunk, fault: str | None = None, **kwargs: object
) -> ProviderError:
    """Send one chunk that must fail (with ``fault`` injected) and return the error raised."""
    inject = {k: kwargs.pop(k) for k in ("retry_after", "hold") if k in kwargs}
    if fault is not None:
        server.inject(fault, **inject)  # type: ignore[arg-type]
    client = transcriber(server, **kwargs)  # type: ignore[arg-type]
    try:
        with pytest.raises(ProviderError) as caught:
            client.transcribe(chunk)
    finally:
        client.close()
    return caught.value


# -- replies that work ----------------------------------------------------------------------------


def test_verbose_json_gives_timed_segments_and_language(server, chunks) -> None:
    client = transcriber(server)
    result = client.transcribe(chunks[".long"], "en-GB", key_index=1)
    client.close()
    # whisper-1 is asked for word timings too; each segment holds the words inside it.
    assert [(s.start, s.end, s.text) for s in result.segments] == [
        (0.0, 5.0, "tone 300 hertz"),
        (5.0, 7.0, "tone 300 hertz"),
    ]
    assert result.segments[1].words == (
        Word(5.0, 5.4, "tone"),
        Word(5.5, 5.9, "300"),
        Word(6.0, 6.4, "hertz"),
    )
    assert result.language == "en"  # the service says "english"; outputs carry the code
    arrival = server.arrivals[0]
    assert (arrival.status, arrival.key) == (200, "sk-second")
    assert (arrival.filename, arrival.response_format, arrival.model) == (
        "long.flac",
        "verbose_json",
        "whisper-1",
    )
    assert arrival.size == chunks[".long"].path.stat().st_size


def test_json_text_becomes_one_segment_over_the_chunk(server, chunks) -> None:
    client = transcriber(server, "json")
    result = client.transcribe(chunks[".wav"])
    client.close()
    assert result.segments == (Segment(0.0, 1.5, "tone 440 hertz"),)
    assert result.language is None
    assert server.arrivals[0].key == "sk-first"
    assert server.arrivals[0].audio_seconds == pytest.approx(1.5, abs=0.05)


def test_text_format_reads_the_plain_body(server, chunks) -> None:
    client = transcriber(server, "text")
    assert client.transcribe(chunks[".flac"]).segments == (Segment(0.0, 1.5, "tone 440 hertz"),)
    client.close()
    assert server.arrivals[0].response_format == "text"


def test_silence_gives_no_segments(server, tmp_path) -> None:
    quiet = Chunk(0, 0.0, 1.0, write_tone(tmp_path / "quiet.flac", seconds=1.0, freq=0.0))
    client = transcriber(server)
    assert client.transcribe(quiet).segments == ()
    client.close()


def test_no_api_key_is_an_auth_error_before_any_request() -> None:
    with pytest.raises(AuthError) as caught:
        OpenAITranscriber("http://127.0.0.1:9/v1", [])
    assert "OPENAI_API_KEY" in caught.value.hint


# -- status codes ---------------------------------------------------------------------------------


def test_429_with_retry_after_seconds(server, chunks) -> None:
    error = fail(server, chunks[".flac"], "429", retry_after=7)
    assert isinstance(error, RateLimited)
    assert (error.status, error.retry_after, error.transient) == (429, 7.0, True)
    assert error.message.startswith("rate limited by the API (429): Rate limit reached")


def test_429_with_retry_after_as_an_http_date(server, chunks) -> None:
    error = fail(server, chunks[".flac"], "429-date", retry_after=30)
    assert isinstance(error, RateLimited)
    # An HTTP date has whole seconds: up to one second is lost to rounding.
    assert error.retry_after is not None
    assert 28.0 <= error.retry_after <= 30.0


def test_429_without_retry_after(server, chunks) -> None:
    error = fail(server, chunks[".flac"], "429-no-header")
    assert isinstance(error, RateLimited)
    assert error.retry_after is None


def test_the_server_limit_answers_429_with_its_wait(chunks) -> None:
    with OpenAIServer(limit=1, window=60.0) as api:
        client = transcriber(api)
        client.transcribe(chunks[".flac"])
        with pytest.raises(RateLimited) as caught:
            client.transcribe(chunks[".flac"])
        client.close()
    assert caught.value.retry_after is not None
    assert 59.0 <= caught.value.retry_after <= 60.0


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after(None) is None
    assert parse_retry_after("") is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after(" 2.5 ") == 2.5
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490.0) == 0.0


def test_a_wrong_key_is_a_permanent_auth_error(server, chunks) -> None:
    error = fail(server, chunks[".flac"], keys=["sk-stolen"])
    assert isinstance(error, AuthError)
    assert (error.status, error.transient) == (401, False)
    kind, text, transient = describe(error)
    assert (kind, transient) == ("auth", False)
    assert text.startswith("the API refused the key (401): Incorrect API key provided.")
    assert "OPENAI_API_KEY" in text


def test_401_fault_is_an_auth_error(server, chunks) -> None:
    assert isinstance(fail(server, chunks[".flac"], "401"), AuthError)


def test_413_is_too_large_and_permanent(server, chunks) -> None:
    error = fail(server, chunks[".flac"], "413")
    assert isinstance(error, TooLarge)
    assert not error.transient
    assert "too large" in error.message


def test_an_upload_over_the_servers_limit_is_too_large(chunks) -> None:
    with OpenAIServer(max_upload_bytes=1000) as api:
        error = fail(api, chunks[".wav"])
    assert isinstance(error, TooLarge)
    assert "Maximum content size limit (1000) exceeded" in error.message


@pytest.mark.parametrize("status", ["500", "502", "503"])
def test_server_failures_are_transient(server, chunks, status: str) -> None:
    error = fail(server, chunks[".flac"], status)
    assert type(error) is ProviderError
    assert (error.status, error.transient) == (int(status), True)
    assert error.message.startswith(f"the API failed ({status}): ")
    assert len(error.message) > len("the API failed (500): ")


def test_audio_the_api_cannot_read_is_a_permanent_rejection(server, chunks) -> None:
    error = fail(server, chunks[".bad"])
    assert not error.transient
    assert error.message == "the API rejected the request (400): Invalid file format."


def test_404_points_at_the_api_base(server, chunks) -> None:
    base = server.base_url.removesuffix("/v1") + "/api"
    error = fail(server, chunks[".flac"], base=base)
    assert not error.transient
    assert error.message == f"no transcription endpoint at {base}/audio/transcriptions (404)"
    assert "--api-base" in error.hint


# -- broken wires ---------------------------------------------------------------------------------


def test_a_slow_server_times_out_as_a_transient_error(server, chunks) -> None:
    error = fail(server, chunks[".flac"], "timeout", hold=5.0, timeout=0.3)
    assert error.transient
    assert error.message == "the transcription API did not answer in time (ReadTimeout)"


def test_a_reset_connection_is_a_transient_network_error(server, chunks) -> None:
    error = fail(server, chunks[".flac"], "reset")
    assert error.transient
    assert error.message.startswith(f"network problem talking to {server.base_url}: ")


def test_a_truncated_reply_is_a_transient_error(server, chunks) -> None:
    error = fail(server, chunks[".flac"], "truncated")
    assert error.transient
    assert "peer closed connection without sending complete message body" in error.message


def test_an_html_page_instead_of_json_says_where_to_look(server, chunks) -> None:
    error = fail(server, chunks[".flac"], "non-json")
    assert error.transient
    assert error.message == "the API answered with text/html; charset=utf-8 instead of JSON"
    assert "--api-base" in error.hint


def test_the_permit_is_taken_after_the_request_is_built_and_before_it_is_sent(
    server, chunks
) -> None:
    """The rate-limit permit comes last, so little work lies between it and the server's count."""
    from engine.errors import Cancelled

    client = transcriber(server)
    seen_by_server: list[int] = []
    client.transcribe(chunks[".flac"], before_send=lambda: seen_by_server.append(server.count()))
    assert seen_by_server == [0] and server.count() == 1

    def cancelled() -> None:
        raise Cancelled("item cancelled while waiting for a permit")

    with pytest.raises(Cancelled):
        client.transcribe(chunks[".long"], before_send=cancelled)
    client.close()
    assert server.count() == 1  # a request that never got its permit never left
