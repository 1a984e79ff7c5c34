"""Bounded HTTP replies: a cap on the body read into memory and a total deadline per request.

httpx and urllib time each read, not a whole request: a server that sends headers and then one
byte every 20 s is never cut off, and a 100 MB body is read whole before anyone looks at it.
Every HTTP read of the engine goes through here instead.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from engine.errors import ReplyTooLarge, ReplyTooSlow

MB = 1024 * 1024
_READ_SIZE = 64 * 1024


@dataclass(frozen=True)
class ReplyBounds:
    """How much of a reply is read and how long one request may take in all.

    The deadline grows with the upload: ``base_seconds`` for the server's own work plus the
    upload sent at ``min_bytes_per_second``, the slowest line still worth waiting for.
    """

    max_bytes: int = 16 * MB
    base_seconds: float = 180.0
    min_bytes_per_second: float = 32 * 1024

    def seconds_for(self, upload_bytes: int = 0) -> float:
        return self.base_seconds + max(0, upload_bytes) / self.min_bytes_per_second

    def deadline(self, upload_bytes: int = 0) -> Deadline:
        return Deadline(self.seconds_for(upload_bytes))

    def timeout(self, default: httpx.Timeout, upload_bytes: int = 0) -> httpx.Timeout:
        """``default`` with no single wait longer than the whole request may take."""
        cap = self.seconds_for(upload_bytes)

        def clip(value: float | None) -> float:
            return cap if value is None else min(value, cap)

        return httpx.Timeout(
            connect=clip(default.connect),
            read=clip(default.read),
            write=clip(default.write),
            pool=clip(default.pool),
        )


class Deadline:
    """A point in time after which a request is abandoned as too slow (transient)."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._end = clock() + seconds

    def remaining(self) -> float:
        return self._end - self._clock()

    def expire(self) -> None:
        """Count the deadline as passed (the watchdog cut the request at it)."""
        self._end = min(self._end, self._clock() - 1e-9)

    def check(self, what: str) -> None:
        if self.remaining() < 0:
            raise ReplyTooSlow(
                f"{what} sent no complete reply within {self.seconds:.0f} s",
                hint="the server or the network is too slow right now; it will be retried",
            )


def _too_large(what: str, limit: int) -> ReplyTooLarge:
    return ReplyTooLarge(
        f"{what} sent a reply larger than {limit / MB:g} MB; stopped reading",
        hint="the server is misbehaving or this is not the service it should be",
    )


def read_chunks(chunks: Iterable[bytes], *, max_bytes: int, deadline: Deadline, what: str) -> bytes:
    """Join chunks until the end, stopping at max_bytes or at the deadline with a typed error."""
    buffer = bytearray()
    for chunk in chunks:
        buffer += chunk
        if len(buffer) > max_bytes:
            raise _too_large(what, max_bytes)
        deadline.check(what)
    return bytes(buffer)


def _declared(headers: Any) -> int | None:
    value = headers.get("content-length") if headers is not None else None
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def read_response(
    response: httpx.Response, *, max_bytes: int, deadline: Deadline, what: str
) -> httpx.Response:
    """Read a streamed httpx response within bounds; returns a response whose body is loaded.

    The decoded size counts, so a small gzip reply that unpacks to gigabytes is stopped too.
    At the deadline the socket is shut down, which ends a read that is waiting for a byte.
    """
    timer = _cut_off_at(deadline, response)
    try:
        declared = _declared(response.headers)
        if declared is not None and declared > max_bytes:
            raise _too_large(what, max_bytes)
        body = read_chunks(response.iter_bytes(), max_bytes=max_bytes, deadline=deadline, what=what)
    except httpx.TransportError:
        if timer is not None and timer.fired.is_set():
            deadline.expire()  # cut off by the timer: say so, rather than "peer closed"
            deadline.check(what)
        raise
    finally:
        if timer is not None:
            timer.cancel()
        response.close()
    headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() != "content-encoding"]
    return httpx.Response(
        response.status_code, headers=headers, content=body, request=response.request
    )


class _CutOff(threading.Timer):
    """Shuts a socket down at the deadline; ``fired`` tells a failed read why it failed."""

    def __init__(self, seconds: float, sock: socket.socket) -> None:
        super().__init__(seconds, self._shut)
        self.daemon = True
        self.fired = threading.Event()
        self._sock = sock

    def _shut(self) -> None:
        self.fired.set()
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)


def _cut_off_at(deadline: Deadline, response: httpx.Response) -> _CutOff | None:
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if not isinstance(sock, socket.socket):
        return None  # HTTP/2 or a test transport: the check after each chunk still applies
    timer = _CutOff(max(0.0, deadline.remaining()), sock)
    timer.start()
    return timer


class _Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


def read_file(reply: _Readable, *, max_bytes: int, deadline: Deadline, what: str) -> bytes:
    """Read a file-like HTTP reply (urllib, yt-dlp) within bounds.

    ``read1`` returns whatever one socket read brought, so a trickle reaches the deadline check
    after each byte instead of waiting for a whole buffer to fill.
    """
    declared = _declared(getattr(reply, "headers", None))
    if declared is not None and declared > max_bytes:
        raise _too_large(what, max_bytes)
    inner = getattr(reply, "fp", None)
    read: Callable[[int], bytes] = (
        getattr(inner, "read1", None) or getattr(reply, "read1", None) or reply.read
    )

    def pieces() -> Iterable[bytes]:
        while True:
            piece = read(_READ_SIZE)
            if not piece:
                return
            yield piece

    return read_chunks(pieces(), max_bytes=max_bytes, deadline=deadline, what=what)
