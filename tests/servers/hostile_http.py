"""A misbehaving HTTP server on 127.0.0.1: huge bodies, trickled bytes, gzip bombs, for any path.

No real service documents these; they are what a broken proxy, a captive portal or a hostile host
does. The body is shaped like the reply the client expects (OpenAI's ``{"text": ...}`` JSON for a
POST to /v1/audio/transcriptions, audio/mpeg for a GET of an .mp3, a WEBVTT file for other GETs),
so only its size or pace is wrong.
"""

from __future__ import annotations

import functools
import threading
import zlib
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_PIECE = 64 * 1024


@dataclass(frozen=True)
class Behaviour:
    """What every request gets.

    ``huge``: ``size`` bytes, with a Content-Length when ``declare`` (else chunked).
    ``trickle``: a Content-Length of ``size``, then one byte every ``interval`` seconds.
    ``gzip-bomb``: a few KB of gzip that unpack to ``size`` bytes.
    ``ok``: a small well-formed reply.
    """

    name: str = "ok"
    size: int = 100 * 1024 * 1024
    declare: bool = True
    interval: float = 20.0


class HostileServer:
    def __init__(self, behaviour: Behaviour | None = None) -> None:
        self.behaviour = behaviour or Behaviour()
        self.stopping = threading.Event()
        self.sent = 0  # bytes of body written, over all requests
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def start(self) -> HostileServer:
        if self.behaviour.name == "gzip-bomb":  # built before any client waits for it
            gzip_bomb(*_filler(True)[::2], self.behaviour.size)
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        httpd.daemon_threads = True
        httpd.hostile = self  # type: ignore[attr-defined]
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> HostileServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@functools.lru_cache(maxsize=4)
def gzip_bomb(head: bytes, tail: bytes, size: int) -> bytes:
    """head, ``size`` zero bytes and tail, gzipped: about 1/1000 of ``size`` on the wire."""
    packer = zlib.compressobj(6, zlib.DEFLATED, 31)  # 31: the gzip container
    zeros = bytes(_PIECE)
    packed = [packer.compress(head)]
    packed += [packer.compress(zeros) for _ in range(size // _PIECE)]
    packed.append(packer.compress(tail) + packer.flush())
    return b"".join(packed)


def _filler(json_body: bool, media: bool = False) -> tuple[bytes, bytes, bytes]:
    """(head, repeated byte, tail) of a body of about ``size`` bytes of the expected shape."""
    if json_body:
        return b'{"text": "', b"a", b'"}'
    if media:  # an empty ID3v2.4 tag, then what a stalled encoder pads with
        return b"ID3\x04\x00\x00\x00\x00\x00\x00", b"\x00", b""
    return b"WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n", b"a", b"\n"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Any

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._answer(json_body=False)

    def do_POST(self) -> None:
        remaining = int(self.headers.get("Content-Length") or 0)
        while remaining > 0:  # take the whole upload, as a real server does before answering
            got = self.rfile.read(min(_PIECE, remaining))
            if not got:
                return
            remaining -= len(got)
        self._answer(json_body=True)

    def _answer(self, *, json_body: bool) -> None:
        hostile = self.server.hostile
        how: Behaviour = hostile.behaviour
        # A GET of an .mp3 is a podcast host's audio file; any other GET a caption file.
        media = not json_body and self.path.split("?")[0].endswith(".mp3")
        kind = "application/json" if json_body else "text/vtt; charset=utf-8"
        kind = "audio/mpeg" if media else kind
        head, fill, tail = _filler(json_body, media)
        try:
            if how.name == "ok":
                body = head + b"hello" + tail
                self._headers(kind, len(body))
                self._write(body)
            elif how.name == "huge":
                self._huge(kind, head, fill, tail, how)
            elif how.name == "trickle":
                self._headers(kind, how.size)
                self._write(head[:1])
                for _ in range(how.size - 1):
                    if hostile.stopping.wait(how.interval):
                        return
                    self._write(fill)
            elif how.name == "gzip-bomb":
                body = gzip_bomb(head, tail, how.size)
                self._headers(kind, len(body), extra={"Content-Encoding": "gzip"})
                self._write(body)
        except (BrokenPipeError, ConnectionResetError):
            return  # the client stopped reading: what a bounded client should do
        self.close_connection = True

    def _huge(self, kind: str, head: bytes, fill: bytes, tail: bytes, how: Behaviour) -> None:
        middle = how.size - len(head) - len(tail)
        if how.declare:
            self._headers(kind, how.size)
        else:
            self._headers(kind, None, extra={"Transfer-Encoding": "chunked"})
        piece = fill * _PIECE
        parts = [head] + [piece] * (middle // _PIECE) + [fill * (middle % _PIECE), tail]
        for part in parts:
            if not how.declare:
                self._write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            else:
                self._write(part)
        if not how.declare:
            self._write(b"0\r\n\r\n")

    def _headers(self, kind: str, length: int | None, extra: dict[str, str] | None = None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", kind)
        if length is not None:
            self.send_header("Content-Length", str(length))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.send_header("Connection", "close")
        self.end_headers()

    def _write(self, data: bytes) -> None:
        self.wfile.write(data)
        self.wfile.flush()
        self.server.hostile.sent += len(data)
