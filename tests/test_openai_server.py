"""The local OpenAI-compatible transcription server: formats, content from audio, limits, faults."""

from __future__ import annotations

import email.utils
import json
import math
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.mediagen import write_tone
from tests.servers.openai_api import OpenAIServer, max_in_window

KEY = "sk-test-key"


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("api-media")
    return {
        "300.wav": write_tone(folder / "low.wav", 1.0, 300),
        "700.mp3": write_tone(folder / "high.mp3", 1.0, 700),
        "440.flac": write_tone(folder / "long.flac", 12.0, 440),
        "550.mp4": write_tone(folder / "clip.mp4", 1.0, 550, video=True),
        "silence.ogg": write_tone(folder / "quiet.ogg", 1.0, 0),
    }


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as running:
        yield running


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    with httpx.Client(timeout=10.0, limits=limits) as opened:
        yield opened


def post(
    client: httpx.Client,
    server: OpenAIServer,
    path: Path,
    response_format: str = "json",
    key: str | None = KEY,
    **kwargs: object,
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return client.post(
        f"{server.base_url}/audio/transcriptions",
        files={"file": (path.name, path.read_bytes(), "application/octet-stream")},
        data={"model": "whisper-1", "response_format": response_format},
        headers=headers,
        **kwargs,  # type: ignore[arg-type]
    )


def test_json_format_names_the_tone_of_the_upload(server, client, media) -> None:
    response = post(client, server, media["300.wav"])
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"text": "tone 300 hertz"}
    [arrival] = server.arrivals
    assert (arrival.key, arrival.filename, arrival.model) == (KEY, "low.wav", "whisper-1")
    assert (arrival.response_format, arrival.status, arrival.freq) == ("json", 200, 300)
    assert arrival.audio_seconds == pytest.approx(1.0, abs=0.05)


def test_each_file_gets_its_own_transcript(server, client, media) -> None:
    texts = {name: post(client, server, media[name]).json()["text"] for name in media}
    assert texts == {
        "300.wav": "tone 300 hertz",
        "700.mp3": "tone 700 hertz",
        "440.flac": "tone 440 hertz",
        "550.mp4": "tone 550 hertz",
        "silence.ogg": "",
    }


def test_verbose_json_splits_into_five_second_segments(server, client, media) -> None:
    body = post(client, server, media["440.flac"], "verbose_json").json()
    assert (body["task"], body["language"], body["text"]) == (
        "transcribe",
        "english",
        "tone 440 hertz",
    )
    assert body["duration"] == pytest.approx(12.0, abs=0.05)
    spans = [(s["id"], s["start"], s["end"], s["text"]) for s in body["segments"]]
    assert spans[:2] == [(0, 0.0, 5.0, "tone 440 hertz"), (1, 5.0, 10.0, "tone 440 hertz")]
    assert spans[2][:3] == (2, 10.0, pytest.approx(12.0, abs=0.05))
    assert len(spans) == 3


def test_text_format_is_plain_text(server, client, media) -> None:
    response = post(client, server, media["700.mp3"], "text")
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == "tone 700 hertz"


def test_silence_has_no_segments(server, client, media) -> None:
    body = post(client, server, media["silence.ogg"], "verbose_json").json()
    assert (body["text"], body["segments"]) == ("", [])
    assert body["duration"] == pytest.approx(1.0, abs=0.05)


def test_undecodable_audio_is_an_invalid_request(server, client, tmp_path) -> None:
    junk = tmp_path / "notes.mp3"
    junk.write_bytes(b"these are not audio samples\r\n" * 200)
    response = post(client, server, junk)
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["message"], error["type"]) == ("Invalid file format.", "invalid_request_error")


def test_body_that_is_not_multipart_is_refused(server, client) -> None:
    response = client.post(f"{server.base_url}/audio/transcriptions", json={"model": "whisper-1"})
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_binary_chunked_upload_is_parsed_exactly(server, client, media) -> None:
    audio = media["300.wav"].read_bytes()
    boundary = "b0undary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper-1\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.wav"\r\n'
            "Content-Type: audio/wav\r\n\r\n"
        ).encode()
        + audio
        + f"\r\n--{boundary}--\r\n".encode()
    )
    pieces = iter([body[:1000], body[1000:5001], body[5001:]])  # an iterator is sent chunked
    response = client.post(
        f"{server.base_url}/audio/transcriptions",
        content=pieces,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.json() == {"text": "tone 300 hertz"}
    assert server.arrivals[0].size == len(audio)


def test_keys_are_checked_when_configured(client, media) -> None:
    with OpenAIServer(keys={KEY}) as server:
        missing = post(client, server, media["300.wav"], key=None)
        wrong = post(client, server, media["300.wav"], key="sk-wrong")
        right = post(client, server, media["300.wav"])
    assert (missing.status_code, wrong.status_code, right.status_code) == (401, 401, 200)
    assert wrong.json()["error"]["code"] == "invalid_api_key"
    assert "didn't provide" in missing.json()["error"]["message"]


def test_upload_over_the_size_limit_is_413(client, media) -> None:
    with OpenAIServer(max_upload_bytes=20_000) as server:
        small = post(client, server, media["700.mp3"])
        large = post(client, server, media["440.flac"])
    assert (small.status_code, large.status_code) == (200, 413)
    assert "Maximum content size limit (20000)" in large.json()["error"]["message"]


def test_limit_answers_429_with_retry_after_until_a_slot_frees(client, media) -> None:
    with OpenAIServer(limit=2, window=30.0) as server:
        statuses = [post(client, server, media["300.wav"]).status_code for _ in range(2)]
        refused = post(client, server, media["300.wav"])
        first, third = server.arrivals[0], server.arrivals[2]
        assert statuses == [200, 200] and refused.status_code == 429
        assert int(refused.headers["Retry-After"]) == math.ceil(first.t + 30.0 - third.t)
        assert refused.json()["error"]["code"] == "rate_limit_exceeded"
        # The refused request did not use a slot: one more slot makes room for exactly one.
        server.limit = 3
        assert post(client, server, media["300.wav"]).status_code == 200
        assert post(client, server, media["300.wav"]).status_code == 429
        assert server.count(200) == 3 and server.count(429) == 2


def test_window_slides_and_frees_a_slot(client, media) -> None:
    with OpenAIServer(limit=1, window=0.6) as server:
        assert post(client, server, media["300.wav"]).status_code == 200
        refused = post(client, server, media["300.wav"])
        assert (refused.status_code, refused.headers["Retry-After"]) == (429, "1")
        time.sleep(max(0.0, server.arrivals[0].t + 0.6 - time.monotonic()))
        assert post(client, server, media["300.wav"]).status_code == 200


def test_per_key_limit_counts_each_key_alone(client, media) -> None:
    with OpenAIServer(limit=1, window=30.0, per_key=True) as server:
        codes = [post(client, server, media["300.wav"], key=k).status_code for k in "aab"]
    assert codes == [200, 429, 200]


@pytest.mark.parametrize("fault", ["500", "502", "503", "401", "413"])
def test_error_faults_answer_in_openai_shape(server, client, media, fault) -> None:
    server.inject(fault)
    response = post(client, server, media["300.wav"])
    assert response.status_code == int(fault)
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}
    assert post(client, server, media["300.wav"]).status_code == 200


def test_429_faults_vary_the_retry_after_header(server, client, media) -> None:
    server.inject("429", retry_after=7)
    server.inject("429-no-header")
    server.inject("429-date", retry_after=120)
    seconds, no_header, dated = (post(client, server, media["300.wav"]) for _ in range(3))
    assert [r.status_code for r in (seconds, no_header, dated)] == [429, 429, 429]
    assert seconds.headers["Retry-After"] == "7"
    assert "Retry-After" not in no_header.headers
    when = email.utils.parsedate_to_datetime(dated.headers["Retry-After"]).timestamp()
    assert 100 < when - time.time() <= 121


def test_fault_count_and_fault_plan(server, client, media) -> None:
    server.inject(503, count=2)
    first = [post(client, server, media["300.wav"]).status_code for _ in range(3)]
    server.fault_fn = lambda index, key: "500" if index % 2 else None
    second = [post(client, server, media["300.wav"]).status_code for _ in range(4)]
    assert first == [503, 503, 200]
    assert second == [500, 200, 500, 200]


def test_timeout_holds_the_answer(server, client, media) -> None:
    server.inject("timeout", hold=0.6)
    with pytest.raises(httpx.ReadTimeout):
        post(client, server, media["300.wav"], timeout=httpx.Timeout(5.0, read=0.2))
    assert post(client, server, media["300.wav"]).json() == {"text": "tone 300 hertz"}


@pytest.mark.timeout(10)
def test_stop_returns_while_requests_are_held(client, media) -> None:
    outcomes: list[object] = []
    server = OpenAIServer().start()
    server.inject("timeout", count=2)  # 30 s holds
    posters = [
        threading.Thread(target=lambda: outcomes.append(_outcome(client, server, media["300.wav"])))
        for _ in range(2)
    ]
    for poster in posters:
        poster.start()
    while server.pending_faults:  # both requests have arrived once their faults are taken
        time.sleep(0.01)
    server.stop()
    for poster in posters:
        poster.join()
    assert all(isinstance(outcome, httpx.TransportError) for outcome in outcomes)


def test_nothing_answers_after_stop(client, media) -> None:
    with OpenAIServer() as server:
        assert post(client, server, media["300.wav"]).status_code == 200
        base_url = server.base_url
    with pytest.raises(httpx.TransportError):  # not even on the kept-alive connection
        client.post(f"{base_url}/audio/transcriptions", content=b"", timeout=2.0)


def _outcome(client: httpx.Client, server: OpenAIServer, path: Path) -> object:
    try:
        return post(client, server, path)
    except httpx.TransportError as exc:
        return exc


def test_reset_drops_the_connection_without_an_answer(server, client, media) -> None:
    server.inject("reset")
    with pytest.raises(httpx.ReadError):
        post(client, server, media["300.wav"])
    assert server.arrivals[0].status == 0
    assert post(client, server, media["300.wav"]).status_code == 200


def test_reset_is_a_tcp_reset(server) -> None:
    server.inject("reset")
    port = int(server.base_url.rsplit(":", 1)[1].split("/")[0])
    body = b"-" * 20_000
    with socket.create_connection(("127.0.0.1", port)) as raw:
        raw.sendall(
            b"POST /v1/audio/transcriptions HTTP/1.1\r\nHost: test\r\n"
            b"Content-Type: multipart/form-data; boundary=x\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        with pytest.raises(ConnectionResetError):
            raw.recv(100)


def test_truncated_body_is_a_protocol_error(server, client, media) -> None:
    server.inject("truncated")
    with pytest.raises(httpx.RemoteProtocolError):
        post(client, server, media["300.wav"])


def test_drip_sends_a_correct_body_a_few_bytes_at_a_time(server, client, media) -> None:
    server.inject("drip", drip_bytes=5, drip_interval=0.02)
    audio = media["300.wav"]
    with client.stream(
        "POST",
        f"{server.base_url}/audio/transcriptions",
        files={"file": (audio.name, audio.read_bytes())},
        data={"model": "whisper-1"},
    ) as response:
        pieces = list(response.iter_raw())
    assert json.loads(b"".join(pieces)) == {"text": "tone 300 hertz"}
    assert len(pieces) > 3 and max(len(piece) for piece in pieces) <= 5


def test_non_json_fault_is_html_with_status_200(server, client, media) -> None:
    server.inject("non-json")
    response = post(client, server, media["300.wav"])
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_concurrent_requests_wait_out_their_latency_together(client, media) -> None:
    # The latency plan itself waits until all 16 requests are inside it: a server that
    # handled requests one at a time would break the barrier instead of answering.
    together = threading.Barrier(16)
    waited: list[int] = []

    def latency(index: int) -> float:
        together.wait(timeout=5.0)
        waited.append(index)
        return 0.3

    with OpenAIServer(latency=latency) as server:
        posters = [
            threading.Thread(target=post, args=(client, server, media["300.wav"]))
            for _ in range(16)
        ]
        for poster in posters:
            poster.start()
        for poster in posters:
            poster.join()
    assert sorted(waited) == list(range(16))
    assert [a.index for a in server.arrivals] == list(range(16))
    assert server.count(200) == 16


def test_max_in_window_uses_half_open_windows() -> None:
    assert max_in_window([], 1.0) == 0
    assert max_in_window([0.0, 1.0, 2.0], 1.0) == 1
    assert max_in_window([0.0, 0.999, 2.0], 1.0) == 2
    assert max_in_window([5.0, 0.0, 0.2, 0.4, 0.6, 5.0, 5.0, 5.9, 6.0], 1.0) == 4
    assert max_in_window([3.0, 3.0, 3.0], 0.5) == 3


def test_max_in_window_filters_by_key_and_status(client, media) -> None:
    with OpenAIServer(keys={"a", "b"}) as server:
        for key in ("a", "a", "b", "c"):
            post(client, server, media["300.wav"], key=key)
    assert server.max_in_window(60.0) == 3
    assert server.max_in_window(60.0, key="a") == 2
    assert server.max_in_window(60.0, statuses=(401,)) == 1
    assert server.max_in_window(60.0, statuses=None) == 4
    assert (server.count(), server.count(200), server.count(401)) == (4, 3, 1)


def test_command_line_serves_until_interrupted(media) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.servers.openai_api", "--port", "0", "--limit", "5"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parent.parent,
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().split(" at ")[1].split()[0]
        audio = media["700.mp3"]
        response = httpx.post(
            f"{base_url}/audio/transcriptions",
            files={"file": (audio.name, audio.read_bytes())},
            data={"model": "whisper-1", "response_format": "text"},
        )
        assert response.text == "tone 700 hertz"
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "{200: 1}" in output
