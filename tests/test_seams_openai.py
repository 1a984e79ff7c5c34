"""Stitching through the API client: recorded verbose_json replies with word timings, one per chunk.

The replies in tests/replies/ have the shape of OpenAI's documented verbose_json transcription
object with ``timestamp_granularities[]=word`` and ``segment`` (API reference, "The
transcription object (Verbose JSON)": ``task``, ``language``, ``duration``, ``text``, ``words``
as ``{word, start, end}``, ``segments`` with ``id``, ``seek``, ``start``, ``end``, ``text``,
``tokens``, ``temperature``, ``avg_logprob``, ``compression_ratio``, ``no_speech_prob``;
segment texts begin with a space, words carry no punctuation). Chunk 0 covers 0-31 s and chunk 1
29-42 s of the same reading; as services do, the first chunk's last segment runs across the
sentence break into the overlap, and the second chunk hears "We have" as "We've".
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from engine.providers.base import Chunk
from engine.providers.openai import OpenAITranscriber
from engine.stitch import stitch
from tests.seam_metrics import timeline_faults

REPLIES = Path(__file__).resolve().parent / "replies"
SPANS = [(0.0, 31.0), (29.0, 42.0)]


class _Replay(BaseHTTPRequestHandler):
    """Answers each upload with the reply recorded for its chunk file."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        name = next(
            (n for n in ("chunk-0000", "chunk-0001") if f'filename="{n}.flac"'.encode() in body),
            None,
        )
        if name is None:
            self.send_error(400)
            return
        reply = (REPLIES / f"verbose_json_words_{name}.json").read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Replay)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


def test_api_replies_with_words_stitch_without_a_repeat(api: str, tmp_path: Path) -> None:
    chunks = []
    for index, (start, end) in enumerate(SPANS):
        path = tmp_path / f"chunk-{index:04d}.flac"
        path.write_bytes(b"fLaC" + bytes(64))  # the replay answers by name; the bytes are not read
        chunks.append(Chunk(index, start, end, path))
    client = OpenAITranscriber(api, ["sk-test"])
    try:
        pieces = [(chunk, client.transcribe(chunk).segments) for chunk in chunks]
    finally:
        client.close()
    out = stitch(pieces, 2.0)
    text = " ".join(s.text for s in out)
    assert text.count("come to dedicate") == 1
    assert "have come We've" not in text and text.lower().count("come") == 1
    assert text.startswith("Four score and seven years ago")
    assert text.endswith("that that nation might live.")
    # Nothing said once is lost: every recorded word of either chunk outside the overlap is there.
    said = json.loads((REPLIES / "verbose_json_words_chunk-0000.json").read_text())["words"]
    early = [w["word"] for w in said if w["end"] <= 29.0]
    assert text.replace(",", "").replace(".", "").split()[: len(early)] == early
    assert timeline_faults(out, 42.0) == []
