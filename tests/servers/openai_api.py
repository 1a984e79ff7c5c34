"""A local OpenAI-compatible transcription API on 127.0.0.1: latency, rate limits, faults, arrival log."""

from __future__ import annotations

import argparse
import bisect
import contextlib
import email.policy
import email.utils
import io
import json
import math
import signal
import socket
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import av

FAULTS = frozenset(
    {"500", "502", "503", "429", "429-no-header", "429-date", "401", "413"}
    | {"timeout", "reset", "drip", "truncated", "non-json"}
)
RESPONSE_FORMATS = ("json", "verbose_json", "text")
TRANSCRIPTIONS_PATH = "/v1/audio/transcriptions"
SEGMENT_SECONDS = 5.0
ANALYSIS_RATE = 16000
NO_RESPONSE = 0  # status logged when the connection ends without any answer

LatencySpec = float | Callable[[int], float]
FaultPlan = Callable[[int, str | None], "str | Fault | None"]


@dataclass(frozen=True)
class Arrival:
    """One request to the transcription endpoint, as the server saw and answered it.

    ``t`` is when the request's first byte reached this host, on ``time.monotonic()``'s clock
    (the kernel's receive stamp where the system gives one; else when the headers were parsed);
    ``size`` is the uploaded file's bytes, or the whole body's when the form was not parsed;
    ``status`` is 0 when the connection ended without an answer (``reset``, or stop()).
    """

    index: int
    t: float
    key: str | None
    filename: str | None
    size: int
    model: str | None
    response_format: str | None
    status: int
    audio_seconds: float | None
    freq: int | None
    language: str | None = None  # the form's language field, None when not sent
    granularities: tuple[str, ...] = ()


@dataclass(frozen=True)
class Fault:
    """A misbehaviour applied to one request; the extra fields tune the faults that use them."""

    name: str
    retry_after: int = 1
    hold: float = 30.0
    drip_bytes: int = 4
    drip_interval: float = 0.1

    def __post_init__(self) -> None:
        if self.name not in FAULTS:
            raise ValueError(f"unknown fault {self.name!r}; choose from {sorted(FAULTS)}")


@dataclass(frozen=True)
class Tone:
    """What the fake recogniser heard: duration and dominant frequency (0 for silence)."""

    seconds: float
    freq: int

    @property
    def text(self) -> str:
        return f"tone {self.freq} hertz" if self.freq else ""


@dataclass(frozen=True)
class Upload:
    """The parsed multipart form: plain fields (the last of each name), the one file, and every
    value of repeated fields such as ``timestamp_granularities[]``."""

    fields: dict[str, str]
    filename: str | None
    file: bytes | None
    repeated: dict[str, tuple[str, ...]] | None = None


@dataclass(frozen=True)
class _Admission:
    """The decision taken when a request's headers arrive, before its body is read."""

    index: int
    t: float
    fault: Fault | None
    status: int | None = None
    retry_after: int | None = None
    quota: dict[str, str] | None = None  # the x-ratelimit-* headers of the answer


class FormError(ValueError):
    """The request body is not the multipart form the API expects."""


class InvalidAudio(ValueError):
    """The uploaded file cannot be decoded as audio."""


def analyse_audio(data: bytes) -> Tone:
    """Decode any container/codec with PyAV, then measure duration and zero-crossing frequency."""
    pieces: list[bytes] = []
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.audio:
                raise InvalidAudio("no audio stream")
            resampler = av.AudioResampler(format="s16", layout="mono", rate=ANALYSIS_RATE)
            for frame in container.decode(container.streams.audio[0]):
                pieces += [bytes(o.planes[0])[: o.samples * 2] for o in resampler.resample(frame)]
            pieces += [bytes(o.planes[0])[: o.samples * 2] for o in resampler.resample(None)]
    except (av.FFmpegError, ValueError, IndexError) as exc:
        raise InvalidAudio(str(exc)) from exc
    pcm = b"".join(pieces)
    seconds = len(pcm) / 2 / ANALYSIS_RATE
    # The high byte of each little-endian sample is its value / 256: mapping it to +, - or 0
    # (quiet) and dropping the quiet ones counts crossings with hysteresis at C speed, which
    # keeps long uploads from holding the GIL while other requests wait.
    signs = pcm[1::2].translate(_SIGN_TABLE)
    voiced = signs.replace(b"0", b"")
    crossings = voiced.count(b"+-") + voiced.count(b"-+")
    span = (len(signs.rstrip(b"0")) - (len(signs) - len(signs.lstrip(b"0")))) / ANALYSIS_RATE
    if crossings < 2 or span <= 0:
        return Tone(round(seconds, 3), 0)
    return Tone(round(seconds, 3), int(round(crossings / 2 / span / 10)) * 10)


def _sign_table() -> bytes:
    table = bytearray(b"0" * 256)
    for high in range(1, 128):
        table[high] = ord("+")
    for high in range(128, 255):  # -128 .. -2; -1 (0xff) is within the quiet band
        table[high] = ord("-")
    return bytes(table)


_SIGN_TABLE = _sign_table()


def max_in_window(times: Iterable[float], window: float) -> int:
    """Max over sorted times t_i of how many t_j fall in [t_i, t_i + window)."""
    ordered = sorted(times)
    best, end = 0, 0
    for start, t in enumerate(ordered):
        while end < len(ordered) and ordered[end] < t + window:
            end += 1
        best = max(best, end - start)
    return best


def parse_multipart(content_type: str, body: bytes) -> Upload:
    """Split a multipart/form-data body on the boundary named in its Content-Type."""
    header = EmailMessage(policy=email.policy.HTTP)
    header["Content-Type"] = content_type
    boundary = header.get_param("boundary")
    if header.get_content_type() != "multipart/form-data" or not isinstance(boundary, str):
        raise FormError("Expected a multipart/form-data body with a boundary.")
    delimiter = b"\r\n--" + boundary.encode("latin-1")
    parts = (b"\r\n" + body).split(delimiter)
    if len(parts) < 3 or not parts[-1].startswith(b"--"):
        raise FormError("Could not parse multipart form: missing boundary.")
    fields: dict[str, str] = {}
    repeated: dict[str, tuple[str, ...]] = {}
    filename: str | None = None
    file: bytes | None = None
    for part in parts[1:-1]:
        head, sep, content = part.partition(b"\r\n\r\n")
        if not sep:
            raise FormError("Could not parse multipart form: part without headers.")
        # Whatever follows the delimiter on its line is transport padding, not a header.
        head = head.split(b"\r\n", 1)[1] if b"\r\n" in head else b""
        headers = BytesHeaderParser(policy=email.policy.HTTP).parsebytes(head + b"\r\n\r\n")
        name = headers.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            raise FormError("Could not parse multipart form: part without a name.")
        part_filename = headers.get_param("filename", header="content-disposition")
        if name == "file":
            filename = part_filename if isinstance(part_filename, str) else None
            file = content
        else:
            fields[name] = content.decode("utf-8", "replace")
            repeated[name] = (*repeated.get(name, ()), fields[name])
    return Upload(fields, filename, file, repeated)


def go_duration(seconds: float) -> str:
    """``20ms``, ``1.2s``, ``6m0s``: how OpenAI and Groq write x-ratelimit-reset-* values."""
    if seconds < 1:
        return f"{max(0, round(seconds * 1000))}ms"
    if seconds < 60:
        return f"{round(seconds, 3):g}s"
    minutes, rest = divmod(seconds, 60)
    hours, minutes = divmod(int(minutes), 60)
    head = f"{hours}h" if hours else ""
    return f"{head}{minutes}m{round(rest, 2):g}s"


def error_body(
    message: str, type_: str, code: str | None = None, param: str | None = None
) -> bytes:
    """An error in the shape the OpenAI API uses."""
    error = {"message": message, "type": type_, "param": param, "code": code}
    return json.dumps({"error": error}).encode()


def transcript_body(
    tone: Tone,
    response_format: str,
    language: str | None,
    words: bool = False,
    detected: str = "english",
) -> tuple[bytes, str]:
    """The 200 body and its content type for one of the three response formats.

    verbose_json names the language in words ("english"), as Whisper does, whether it was given or
    detected (``detected`` when the form had none); with ``words`` it adds the top-level ``words``
    list that ``timestamp_granularities[]=word`` asks for (OpenAI API reference,
    TranscriptionVerbose: "words: Extracted words and their corresponding timestamps").
    json is ``{"text": ...}`` plus ``usage`` for the gpt-4o models (API reference, Transcription).
    """
    if response_format == "text":
        return tone.text.encode(), "text/plain; charset=utf-8"
    if response_format == "json":
        return json.dumps({"text": tone.text}).encode(), "application/json"
    segments = []
    if tone.text:
        count = max(1, math.ceil(tone.seconds / SEGMENT_SECONDS - 1e-9))
        for i in range(count):
            start = i * SEGMENT_SECONDS
            end = min(tone.seconds, start + SEGMENT_SECONDS)
            segments.append(
                {"id": i, "seek": 0, "start": start, "end": end, "text": tone.text}
                | {"tokens": [], "temperature": 0.0, "avg_logprob": -0.2}
                | {"compression_ratio": 1.0, "no_speech_prob": 0.0}
            )
    body: dict[str, Any] = {
        "task": "transcribe",
        "language": _LANGUAGES.get(language, language) if language else detected,
        "duration": tone.seconds,
        "text": tone.text,
        "segments": segments,
    }
    if words:
        body["words"] = [
            {"word": word, "start": round(start, 3), "end": round(start + 0.4, 3)}
            for segment in segments
            for k, word in enumerate(str(segment["text"]).split())
            for start in [float(segment["start"]) + 0.5 * k]
        ]
    return json.dumps(body).encode(), "application/json"


_LANGUAGES = {"en": "english", "de": "german", "fr": "french", "es": "spanish", "it": "italian"}

_SERVER_ERRORS = {
    "500": (
        "The server had an error while processing your request. Sorry about that!",
        "server_error",
    ),
    "502": ("Bad gateway.", "server_error"),
    "503": ("The engine is currently overloaded, please try again later.", "server_error"),
}
_REJECTIONS = frozenset(_SERVER_ERRORS) | {"401", "413", "429", "429-no-header", "429-date"}

_HTML = b"<html><head><title>Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"


class OpenAIServer:
    """``/v1/audio/transcriptions`` on 127.0.0.1 with settable latency, limit, keys and faults."""

    def __init__(
        self,
        latency: LatencySpec = 0.0,
        limit: int | None = None,
        window: float = 60.0,
        per_key: bool = False,
        keys: Iterable[str] | None = None,
        max_upload_bytes: int = 25 * 1024 * 1024,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
    ) -> None:
        # Plain attributes so tests can change them while requests are in flight; each request
        # reads them once, under the lock, when its headers arrive.
        self.latency = latency
        self.limit = limit
        self.window = window
        self.per_key = per_key
        self.keys = keys
        self.max_upload_bytes = max_upload_bytes
        # OpenAI and Groq send x-ratelimit-* headers with every answer; False for a server that
        # does not (most self-hosted ones).
        self.rate_headers = True
        # Groq words its 413 differently (see _send_rejection).
        self.style = "openai"
        # What the fake recogniser "detects" when the form names no language.
        self.detected_language = "english"
        # Models that answer only json or text (OpenAI's gpt-4o transcribe family by default).
        self.json_only: Callable[[str], bool] = _json_only
        self.fault_fn: FaultPlan | None = None
        self._port = port
        self._host = host
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._queued: deque[Fault] = deque()
        self._accepted: list[tuple[float, str | None]] = []  # in arrival order (see _take_slot)
        self._arrivals: list[Arrival] = []
        self._next_index = 0
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def keys(self) -> frozenset[str] | None:
        return self._keys

    @keys.setter
    def keys(self, keys: Iterable[str] | None) -> None:
        self._keys = None if keys is None else frozenset(keys)

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the server is not running; use start() or a with block")
        return f"http://127.0.0.1:{self._httpd.server_port}/v1"

    def start(self) -> OpenAIServer:
        if self._httpd is not None:
            raise RuntimeError("the server is already running")
        self._stopping.clear()
        self._httpd = _HTTPServer((self._host, self._port), self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="openai-api",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; held ``timeout`` and ``drip`` requests give up at once."""
        httpd, thread = self._httpd, self._thread
        if httpd is None or thread is None:
            return
        self._stopping.set()
        httpd.shutdown()
        httpd.server_close()
        httpd.close_connections()
        thread.join(timeout=5.0)
        self._httpd = self._thread = None

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def inject(
        self,
        fault: str | int,
        count: int = 1,
        *,
        retry_after: int = 1,
        hold: float = 30.0,
        drip_bytes: int = 4,
        drip_interval: float = 0.1,
    ) -> None:
        """Apply ``fault`` to each of the next ``count`` requests (queued after earlier faults)."""
        planned = Fault(str(fault), retry_after, hold, drip_bytes, drip_interval)
        with self._lock:
            self._queued.extend([planned] * count)

    @property
    def pending_faults(self) -> int:
        """Injected faults not yet taken by a request."""
        with self._lock:
            return len(self._queued)

    @property
    def arrivals(self) -> list[Arrival]:
        """Every answered (or dropped) request so far, in arrival order."""
        with self._lock:
            return sorted(self._arrivals, key=lambda arrival: arrival.index)

    def count(self, status: int | None = None) -> int:
        """How many requests were logged, or how many got ``status``."""
        return sum(1 for a in self.arrivals if status is None or a.status == status)

    def max_in_window(
        self, window: float, key: str | None = None, statuses: Collection[int] | None = (200,)
    ) -> int:
        """Most arrivals inside any window [t_i, t_i + window) that starts at an arrival."""
        return max_in_window(
            (
                a.t
                for a in self.arrivals
                if (statuses is None or a.status in statuses) and (key is None or a.key == key)
            ),
            window,
        )

    def _admit(
        self, key: str | None, length: int | None, arrived: float | None = None
    ) -> _Admission:
        """Decide on a request whose first byte reached this host at ``arrived`` (default: now)."""
        with self._lock:
            index = self._next_index
            t = time.monotonic() if arrived is None else arrived
            self._next_index += 1
            fault: str | Fault | None = self._queued.popleft() if self._queued else None
            if fault is None and self.fault_fn is not None:
                fault = self.fault_fn(index, key)
            if fault is not None:
                # Faults stand in for the whole answer, so they skip auth and the limit.
                return _Admission(index, t, fault if isinstance(fault, Fault) else Fault(fault))
            if self._keys is not None and key not in self._keys:
                return _Admission(index, t, None, status=401)
            if length is not None and length > self.max_upload_bytes:
                return _Admission(index, t, None, status=413)
            retry_after, used = self._take_slot(key, t)
            quota = self._quota_headers(used)
            if retry_after is not None:
                return _Admission(index, t, None, 429, retry_after, quota)
            return _Admission(index, t, None, quota=quota)

    def _take_slot(self, key: str | None, t: float) -> tuple[int | None, int]:
        """Count the request in the sliding window, or say in whole seconds when a slot frees.

        Also returns how many slots of the window are in use once this request is counted. The
        window slides: OpenAI's guide says a quota "may be quantized, meaning it is enforced over
        shorter periods of time (e.g. 60,000 requests/minute may be enforced as 1,000
        requests/second)", so a server of 50 per 10 s stands in for a 300/min quota counted that way.

        Handler threads may decide in another order than the requests arrived (``t`` is the
        kernel's arrival stamp), so a request is admitted only if every window holding it stays
        within the limit, not just the one ending at it.
        """
        limit, window = self.limit, self.window
        if limit is None:
            return None, 0
        # Decisions come out of order by milliseconds, never by a whole window.
        keep = bisect.bisect_right(self._accepted, (t - 2 * window, chr(0x10FFFF)))
        del self._accepted[:keep]
        times = [when for when, who in self._accepted if not self.per_key or who == (key or "")]
        at = bisect.bisect_right(times, t)
        candidate = [*times[:at], t, *times[at:]]
        first = bisect.bisect_right(candidate, t - window)
        full = any(
            bisect.bisect_left(candidate, start + window) - i > limit
            for i, start in enumerate(candidate[first : at + 1], first)
        )
        used = at - bisect.bisect_right(times, t - window)
        if full:
            earlier = times[:at]
            frees_at = (
                earlier[len(earlier) - limit] + window if 0 < limit <= len(earlier) else t + window
            )
            return max(1, math.ceil(frees_at - t)), used
        bisect.insort(self._accepted, (t, key or ""))
        return None, used + 1

    def _quota_headers(self, used: int) -> dict[str, str] | None:
        """x-ratelimit-*-requests as OpenAI documents them (guides/rate-limits, "Rate limits in
        headers"): the limit, what remains, and "the time until the rate limit (based on requests)
        resets to its initial state", read as a bucket refilling evenly (their example: limit 60,
        remaining 59, reset 1s; Groq's: 14400, 14370, 2m59.56s), in Go duration style."""
        if not self.rate_headers or self.limit is None:
            return None
        limit = self.limit
        used = min(used, limit)
        return {
            "x-ratelimit-limit-requests": str(limit),
            "x-ratelimit-remaining-requests": str(limit - used),
            "x-ratelimit-reset-requests": go_duration(used * self.window / max(1, limit)),
        }

    def _latency_for(self, index: int) -> float:
        latency = self.latency
        return float(latency(index) if callable(latency) else latency)

    def _sleep(self, seconds: float) -> bool:
        """Wait, or return True at once when the server is stopping."""
        return self._stopping.wait(seconds) if seconds > 0 else self._stopping.is_set()

    def _record(self, arrival: Arrival) -> None:
        with self._lock:
            self._arrivals.append(arrival)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # many workers connect at once; a short backlog would stall them

    def __init__(self, address: tuple[str, int], api: OpenAIServer) -> None:
        super().__init__(address, _Handler)
        self.api = api
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Hang up on idle keep-alive clients too, so nothing answers after stop()."""
        with self._open_lock:
            open_now = list(self._open)
        for request in open_now:
            with contextlib.suppress(OSError):  # its own handler may have closed it already
                request.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up mid-answer is routine here (timeouts, faults); other errors are bugs.
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


# Linux's receive timestamps (socket(7)): SO_TIMESTAMPNS asks for them, and recvmsg returns each
# packet's arrival time as a struct timespec in an SCM_TIMESTAMPNS control message (same value).
_SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
_TIMESPEC = struct.Struct("qq")


def _arrival_time(sock: socket.socket) -> float | None:
    """When the next request's first byte reached this host, on the monotonic clock; None if unknown.

    Peeks (the request stays in the socket for the handler to read) and blocks until it comes.
    """
    try:
        _, ancillary, _, _ = sock.recvmsg(1, socket.CMSG_SPACE(_TIMESPEC.size), socket.MSG_PEEK)
    except OSError:
        return None
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(payload) >= 16:
            seconds, nanos = _TIMESPEC.unpack(payload[: _TIMESPEC.size])
            age = time.time() - (seconds + nanos / 1e9)  # the stamp is on the wall clock
            return time.monotonic() - max(0.0, age)
    return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out as separate writes; without this each keep-alive reply waits on
    # Nagle's algorithm for tens of milliseconds, which a real API server does not add.
    disable_nagle_algorithm = True
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the arrival log is the record tests read."""

    def setup(self) -> None:
        super().setup()
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)

    def handle_one_request(self) -> None:
        # A rate-limited API counts a request when it reaches the server, not when one of its
        # threads gets round to parsing it; on a loaded machine that gap alone reached 115 ms
        # and turned a within-limit burst into a 429. The kernel stamps each packet on arrival.
        self._arrived = _arrival_time(self.connection)
        super().handle_one_request()

    def do_GET(self) -> None:
        self._send_error(404, f"Invalid URL (GET {self.path})", "invalid_request_error")

    def do_POST(self) -> None:
        length = self._content_length()
        if urlsplit(self.path).path.rstrip("/") != TRANSCRIPTIONS_PATH:
            self._read_body(length, keep=False)
            self._send_error(404, f"Invalid URL (POST {self.path})", "invalid_request_error")
            return
        api = self.server.api
        key = _bearer(self.headers.get("Authorization"))
        admission = api._admit(key, length, getattr(self, "_arrived", None))
        self._seen: dict[str, Any] = {"key": key, "size": length or 0}
        fault = admission.fault.name if admission.fault else None
        if fault == "reset":
            self.rfile.read((length or 0) // 2)
            # A moment's pause lets a small upload finish sending, so the client meets the
            # reset while waiting for an answer, as when a real server dies mid-request.
            api._sleep(0.05)
            self._log(admission, NO_RESPONSE)
            self._reset()
            return
        body, size = self._read_body(length, keep=admission.status != 413)
        self._seen["size"] = size
        if admission.status is not None:
            rejection: str | None = str(admission.status)
        elif fault is None and size > api.max_upload_bytes:
            rejection = "413"  # a chunked upload only shows its size once read
        else:
            rejection = fault if fault in _REJECTIONS else None
        if rejection is None:
            self._transcribe(admission, body)
            return
        self._log(admission, int(rejection[:3]))
        self._send_rejection(rejection, admission, key, size)

    def _transcribe(self, admission: _Admission, body: bytes) -> None:
        api, fault = self.server.api, admission.fault
        try:
            upload = parse_multipart(self.headers.get("Content-Type", ""), body)
        except FormError as exc:
            self._log(admission, 400)
            self._send_error(400, str(exc), "invalid_request_error")
            return
        fmt = upload.fields.get("response_format", "json")
        model = upload.fields.get("model")
        self._seen |= {"filename": upload.filename, "model": model, "response_format": fmt}
        self._seen["size"] = len(upload.file or b"")
        self._seen |= {
            "language": upload.fields.get("language"),
            "granularities": (upload.repeated or {}).get("timestamp_granularities[]", ()),
        }
        problem = _form_problem(upload, model, fmt, api.json_only)
        if problem:
            self._log(admission, 400)
            message, param, code = problem
            self._send_error(400, message, "invalid_request_error", code=code, param=param)
            return
        try:
            tone = analyse_audio(upload.file or b"")
        except InvalidAudio:
            self._log(admission, 400)
            self._send_error(400, "Invalid file format.", "invalid_request_error", param="file")
            return
        self._seen |= {"audio_seconds": tone.seconds, "freq": tone.freq}
        hold = fault.hold if fault and fault.name == "timeout" else 0.0
        if api._sleep(hold) or api._sleep(api._latency_for(admission.index)):
            self._log(admission, NO_RESPONSE)
            self.close_connection = True
            return
        text, content_type = transcript_body(
            tone,
            fmt,
            upload.fields.get("language"),
            words="word" in self._seen["granularities"],
            detected=api.detected_language,
        )
        self._log(admission, 200)
        if fault and fault.name == "non-json":
            self._send(200, _HTML, "text/html; charset=utf-8")
        elif fault and fault.name == "drip":
            self._drip(text, content_type, fault)
        elif fault and fault.name == "truncated":
            self._send(200, text, content_type, declared=len(text) + 64)
            self.close_connection = True
        else:
            self._send(200, text, content_type, admission.quota)

    def _send_rejection(self, name: str, admission: _Admission, key: str | None, size: int) -> None:
        api = self.server.api
        if name == "401":
            message = "Incorrect API key provided." if key else "You didn't provide an API key."
            code = "invalid_api_key" if key else None
            self._send_error(401, message, "invalid_request_error", code=code)
        elif name == "413" and api.style == "groq":
            # Groq: 25 MB at most per upload on the free tier (console.groq.com/docs/speech-to-text);
            # above it a 413 "Request Entity Too Large" (Bklieger/ScribeWizard#5), code
            # request_too_large.
            self._send_error(
                413, "Request Entity Too Large", "invalid_request_error", code="request_too_large"
            )
        elif name == "413":
            limit = api.max_upload_bytes
            message = f"Maximum content size limit ({limit}) exceeded ({size} bytes read)"
            self._send_error(413, message, "invalid_request_error")
        elif name.startswith("429"):
            fault_wait = admission.fault.retry_after if admission.fault else 1
            wait = admission.retry_after if admission.retry_after is not None else fault_wait
            # OpenAI and Groq send the x-ratelimit-* headers on a 429 too; Groq: "retry-after"
            # (seconds) is set only on 429s (console.groq.com/docs/rate-limits).
            headers: dict[str, str] = dict(admission.quota or {})
            if name == "429":
                headers["Retry-After"] = str(wait)
            elif name == "429-date":
                headers["Retry-After"] = email.utils.formatdate(time.time() + wait, usegmt=True)
            quota = f"Limit {api.limit} per {api.window:g}s. " if api.limit is not None else ""
            message = f"Rate limit reached for requests. {quota}Please try again in {wait}s."
            self._send_error(429, message, "requests", code="rate_limit_exceeded", headers=headers)
        else:
            message, type_ = _SERVER_ERRORS[name]
            self._send_error(int(name), message, type_)

    def _log(self, admission: _Admission, status: int) -> None:
        seen = self._seen
        self.server.api._record(
            Arrival(
                index=admission.index,
                t=admission.t,
                key=seen.get("key"),
                filename=seen.get("filename"),
                size=seen.get("size", 0),
                model=seen.get("model"),
                response_format=seen.get("response_format"),
                status=status,
                audio_seconds=seen.get("audio_seconds"),
                freq=seen.get("freq"),
                language=seen.get("language"),
                granularities=tuple(seen.get("granularities", ())),
            )
        )

    def _content_length(self) -> int | None:
        try:
            return int(self.headers["Content-Length"])
        except (TypeError, ValueError):
            return None

    def _read_body(self, length: int | None, keep: bool) -> tuple[bytes, int]:
        """The body (kept only when asked and not oversized) and its full size."""
        cap = self.server.api.max_upload_bytes
        kept = bytearray()
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            pieces = self._chunks()
        else:
            pieces = self._fixed(length or 0)
        size = 0
        for piece in pieces:
            size += len(piece)
            if keep and size <= cap:
                kept += piece
        return bytes(kept), size

    def _fixed(self, length: int) -> Iterable[bytes]:
        while length > 0:
            piece = self.rfile.read(min(length, 1 << 16))
            if not piece:
                return
            length -= len(piece)
            yield piece

    def _chunks(self) -> Iterable[bytes]:
        while True:
            line = self.rfile.readline(1 << 16)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                self.close_connection = True
                return
            if size == 0:
                while self.rfile.readline(1 << 16) not in (b"\r\n", b"\n", b""):
                    pass  # trailers carry nothing this API reads
                return
            yield self.rfile.read(size)
            self.rfile.readline(1 << 16)

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
        declared: int | None = None,
    ) -> None:
        self._send_head(
            status, content_type, declared if declared is not None else len(body), headers
        )
        self.wfile.write(body)

    def _send_head(
        self, status: int, content_type: str, length: int, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(length))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()

    def _send_error(
        self,
        status: int,
        message: str,
        type_: str,
        *,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self._send(status, error_body(message, type_, code, param), "application/json", headers)

    def _drip(self, body: bytes, content_type: str, fault: Fault) -> None:
        self._send_head(200, content_type, len(body))
        api = self.server.api
        for start in range(0, len(body), max(1, fault.drip_bytes)):
            if start and api._sleep(fault.drip_interval):
                self.close_connection = True
                return
            self.wfile.write(body[start : start + fault.drip_bytes])

    def _reset(self) -> None:
        """Drop the connection with a TCP reset: no status line, no clean close."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rfile.close()  # the makefile reader holds the socket open until it closes too
        self.connection.close()
        self.close_connection = True


def _bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _form_problem(
    upload: Upload, model: str | None, fmt: str, json_only: Callable[[str], bool] = lambda m: False
) -> tuple[str, str, str | None] | None:
    """The 400 message, parameter and code for a form the API would refuse, or None."""
    if upload.file is None:
        return "You must provide a file.", "file", None
    if not model:
        return "You must provide a model parameter.", "model", None
    if fmt not in RESPONSE_FORMATS:
        return f"Unsupported response_format {fmt!r} for this server.", "response_format", None
    if fmt != "json" and fmt != "text" and json_only(model):
        # OpenAI API reference (createTranscription, response_format): "For gpt-4o-transcribe and
        # gpt-4o-mini-transcribe, the only supported format is json"; the 400 they answer, word for
        # word, in openai/openai-dotnet#401 and vercel/ai#8214.
        message = (
            f"response_format '{fmt}' is not compatible with model '{model}'. "
            "Use 'json' or 'text' instead."
        )
        return message, "response_format", "unsupported_value"
    return None


def _json_only(model: str) -> bool:
    return model.startswith("gpt-4o") and "transcribe" in model


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tests.servers.openai_api",
        description="Serve a fake OpenAI transcription API on 127.0.0.1 for trying bulkscribe.",
    )
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per request")
    parser.add_argument("--limit", type=int, default=None, help="requests per window")
    parser.add_argument("--window", type=float, default=60.0, help="window length in seconds")
    parser.add_argument("--per-key", action="store_true", help="apply the limit per API key")
    parser.add_argument("--key", action="append", dest="keys", help="accept only these keys")
    parser.add_argument("--max-upload-bytes", type=int, default=25 * 1024 * 1024)
    args = parser.parse_args(argv)
    server = OpenAIServer(
        latency=args.latency,
        limit=args.limit,
        window=args.window,
        per_key=args.per_key,
        keys=args.keys,
        max_upload_bytes=args.max_upload_bytes,
        port=args.port,
    )
    # A shell that starts jobs in the background ignores Ctrl-C for them; take it back.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with server:
        print(f"OpenAI-compatible transcription API at {server.base_url}  (Ctrl-C to stop)")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    statuses = sorted({a.status for a in server.arrivals})
    print("requests by status:", {s: server.count(s) for s in statuses})


if __name__ == "__main__":
    main()
