"""A local deAPI on 127.0.0.1: a queue of transcription jobs, their status, prices, balance, limits.

Each behaviour follows docs.deapi.ai, quoted where it is implemented. Where the pages are silent
(the shape of a finished transcript, the body of a refusal for lack of funds) the choice is marked
"not documented" so a reader can tell the faithful parts from the guesses.
"""

from __future__ import annotations

import email.policy
import io
import json
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from engine.limits.dayquota import next_midnight

PREFIX = "/api/v1/client"
# "Whisper Shared Limit: All four Whisper transcription endpoints share a single combined limit"
# (docs.deapi.ai/limits-and-quotas).
WHISPER = ("vid2txt", "aud2txt", "videofile2txt", "audiofile2txt")
# "Maximum file size: 10 MB." (docs.deapi.ai/api/analysis/upload-video-file)
MAX_UPLOAD = 10_000_000
# "Generation requires an account balance of at least $0.49 ... new jobs are rejected"
# (docs.deapi.ai/api/v1/utilities/check-balance).
MIN_BALANCE = 0.49
PRICE_PER_SECOND = 0.0001  # not documented as a figure; "costs are calculated ... per task"
SEGMENT_SECONDS = 5.0
# vid2txt: "Video URL transcription (YouTube, X, Twitch, Kick)" (docs.deapi.ai/limits-and-quotas)
VIDEO_HOSTS = ("youtube.com", "youtu.be", "x.com", "twitter.com", "twitch.tv", "kick.com")


@dataclass
class JobPlan:
    """How one job behaves: polls before it finishes, how it ends, how its result is given."""

    polls: int = 1  # status polls answered pending/processing before "done"
    outcome: str = "done"  # or "error"
    result: str = "inline"  # "inline", "url", or "url-broken" (result_url answers 404)
    error: str = "Could not fetch the video: it is private."
    hold: bool = False  # stay "processing" until release()
    seconds: float = 12.0  # the media's length, for URL jobs (uploads are measured)


@dataclass
class Job:
    request_id: str
    endpoint: str
    source: str
    seconds: float
    plan: JobPlan
    key: str = ""
    polls: int = 0


@dataclass(frozen=True)
class Submit:
    endpoint: str
    source: str
    request_id: str | None
    status: int
    t: float


@dataclass
class DeapiServer:
    """``with DeapiServer() as api:`` serves on ``api.base``; inspect ``submits`` afterwards."""

    keys: tuple[str, ...] = ("dk-test",)
    rpm: int | None = None  # per minute over the shared Whisper pool (None: unlimited)
    rpd: int | None = None  # per UTC day over the shared Whisper pool
    price_rpm: int = 600  # price-calculation's own pool (a figure the pages do not give)
    balance: float = 5.0  # "Upon registration, you receive a $5 bonus"
    clock: Callable[[], float] = time.time
    plan_for: Callable[[str], JobPlan] = field(default=lambda source: JobPlan())
    submits: list[Submit] = field(default_factory=list)
    status_polls: int = 0
    price_calls: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._minute: deque[float] = deque()
        self._price_minute: deque[float] = deque()
        self._day_count = 0
        self._day_ends = 0.0
        self._httpd: ThreadingHTTPServer | None = None

    # -- lifecycle --------------------------------------------------------------------------

    def __enter__(self) -> DeapiServer:
        handler = type("Handler", (_Handler,), {"api": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    @property
    def base(self) -> str:
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def release(self) -> None:
        """Let held jobs finish."""
        with self._lock:
            for job in self._jobs.values():
                job.plan.hold = False

    def submit_counts(self) -> Counter[str]:
        """Accepted submits per source (a URL, or an upload's file name and size)."""
        with self._lock:
            return Counter(s.source for s in self.submits if s.status == 200)

    # -- the service ------------------------------------------------------------------------

    def admit(self, now: float) -> tuple[bool, float, str]:
        """The shared Whisper pool: (admitted, seconds to wait, which window refused)."""
        with self._lock:
            # "Limits reset daily at midnight UTC." (docs.deapi.ai/limits-and-quotas)
            if now >= self._day_ends:
                self._day_count, self._day_ends = 0, next_midnight(now)
            while self._minute and self._minute[0] <= now - 60.0:
                self._minute.popleft()
            if self.rpd is not None and self._day_count >= self.rpd:
                return False, self._day_ends - now, "day"
            if self.rpm is not None and len(self._minute) >= self.rpm:
                return False, self._minute[0] + 60.0 - now, "minute"
            self._day_count += 1
            self._minute.append(now)
            return True, 0.0, ""

    def admit_price(self, now: float) -> float:
        with self._lock:
            while self._price_minute and self._price_minute[0] <= now - 60.0:
                self._price_minute.popleft()
            if len(self._price_minute) >= self.price_rpm:
                return self._price_minute[0] + 60.0 - now
            self._price_minute.append(now)
            return 0.0

    def new_job(self, endpoint: str, source: str, seconds: float | None, key: str = "") -> Job:
        plan = self.plan_for(source)
        job = Job(str(uuid.uuid4()), endpoint, source, seconds or plan.seconds, plan, key)
        with self._lock:
            self._jobs[job.request_id] = job
        return job

    def status(self, request_id: str, key: str = "") -> dict[str, Any] | None:
        with self._lock:
            self.status_polls += 1
            job = self._jobs.get(request_id)
            if job is None or (key and job.key and key != job.key):
                return None  # another account's job is not found either
            job.polls += 1
            finished = not job.plan.hold and job.polls > job.plan.polls
            if not finished:
                # Shape from docs.deapi.ai/api/v1/utilities/get-results: status, progress, ...
                share = 0.0 if job.plan.hold else (job.polls - 1) / max(1, job.plan.polls)
                state = "pending" if job.polls == 1 else "processing"
                return {"status": state, "progress": round(100 * share, 1), "result_url": None}
            if job.plan.outcome == "error":
                # Not documented: the page lists no error field; "error" carries the details.
                return {"status": "error", "progress": 100, "error": job.plan.error}
            if job.polls == job.plan.polls + 1:
                self.balance = max(0.0, self.balance - job.seconds * PRICE_PER_SECOND)
            data: dict[str, Any] = {"status": "done", "progress": 100}
            if job.plan.result == "inline":
                data["result"] = stamped_text(job)
            else:
                data["result_url"] = f"{self.base}/results/{job.request_id}.json"
            return data

    def result_document(self, request_id: str) -> dict[str, Any] | None:
        with self._lock:
            job = self._jobs.get(request_id)
        if job is None or job.plan.result == "url-broken":
            return None
        return {"text": " ".join(s["text"] for s in segments(job)), "segments": segments(job)}


def segments(job: Job) -> list[dict[str, Any]]:
    out, start, n = [], 0.0, 1
    while start < job.seconds - 0.01:
        end = min(job.seconds, start + SEGMENT_SECONDS)
        out.append({"start": start, "end": end, "text": f"{job.source} part {n}."})
        start, n = end, n + 1
    return out


def stamped_text(job: Job) -> str:
    """Not documented: an inline include_ts result as Whisper prints it, a stamp on each line."""
    return "\n".join(f"[{s['start']:.2f}s -> {s['end']:.2f}s] {s['text']}" for s in segments(job))


def error_body(status: int, message: str, errors: Any = None) -> bytes:
    # "All error responses follow a consistent JSON structure: {"data": null, "message": ...,
    # "errors": [], "statusCode": 401}" (docs.deapi.ai/api/errors)
    body = {"data": None, "message": message, "errors": errors or [], "statusCode": status}
    return json.dumps(body).encode()


def upload_seconds(data: bytes) -> float:
    import av

    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        if container.duration:
            return container.duration / 1_000_000
        return float(stream.duration * stream.time_base) if stream.duration else 0.0


def parse_form(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, bytes]]:
    header = EmailMessage(policy=email.policy.HTTP)
    header["Content-Type"] = content_type
    boundary = header.get_param("boundary")
    if header.get_content_type() != "multipart/form-data" or not isinstance(boundary, str):
        raise ValueError("not multipart/form-data")
    fields: dict[str, str] = {}
    files: dict[str, bytes] = {}
    for part in (b"\r\n" + body).split(b"\r\n--" + boundary.encode("latin-1"))[1:-1]:
        head, _, content = part.partition(b"\r\n\r\n")
        head = head.split(b"\r\n", 1)[1] if b"\r\n" in head else b""
        headers = BytesHeaderParser(policy=email.policy.HTTP).parsebytes(head + b"\r\n\r\n")
        name = str(headers.get_param("name", header="content-disposition"))
        if headers.get_param("filename", header="content-disposition") is not None:
            files[name] = content
        else:
            fields[name] = content.decode("utf-8", "replace")
    return fields, files


class _Handler(BaseHTTPRequestHandler):
    api: DeapiServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path.startswith("/results/"):
            # result_url points at a file of the finished job; no key is needed to fetch it.
            doc = self.api.result_document(path.rsplit("/", 1)[1].removesuffix(".json"))
            if doc is None:
                self._send(404, b"<Error><Code>NoSuchKey</Code></Error>", "application/xml")
            else:
                self._json(200, doc)
            return
        if not self._authorised():
            return
        if path.startswith(f"{PREFIX}/request-status/"):
            data = self.api.status(path.rsplit("/", 1)[1], self._key() or "")
            if data is None:
                # "404 Not Found ... Invalid request_id when polling results" (api/errors)
                self._send(404, error_body(404, "Request not found."))
            else:
                self._json(200, {"data": data})
        elif path == f"{PREFIX}/balance":
            # docs.deapi.ai/api/v1/utilities/check-balance answers {"balance": 123}
            self._json(200, {"balance": round(self.api.balance, 4)})
        else:
            self._send(404, error_body(404, "Not found."))

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if not self._authorised():
            return
        path = urlsplit(self.path).path
        name = path.removeprefix(f"{PREFIX}/")
        if name.endswith("/price-calculation"):
            self._price(name.removesuffix("/price-calculation"), body)
        elif name in WHISPER:
            self._submit(name, body)
        else:
            self._send(404, error_body(404, "Not found."))

    def _submit(self, endpoint: str, body: bytes) -> None:
        api = self.api
        try:
            fields, source, seconds = self._job_input(endpoint, body)
        except _Invalid as exc:
            self._record(endpoint, "?", None, 422)
            self._send(422, error_body(422, "The given data was invalid.", exc.errors))
            return
        if api.balance < MIN_BALANCE:
            # Not documented: the body of a refusal for lack of funds; a validation error naming
            # the balance is modelled here.
            self._record(endpoint, source, None, 422)
            errors = {"balance": [f"Balance must be at least ${MIN_BALANCE}."]}
            self._send(422, error_body(422, "Insufficient balance.", errors))
            return
        now = api.clock()
        admitted, wait, window = api.admit(now)
        if not admitted:
            self._record(endpoint, source, None, 429)
            # "429 Too Many Request: Rate limit exceeded." (docs.deapi.ai/api/errors)
            headers = {"Retry-After": str(max(1, int(wait + 0.999)))}
            message = "Daily limit exceeded." if window == "day" else "Too Many Attempts."
            self._send(429, error_body(429, message), headers=headers)
            return
        job = api.new_job(endpoint, source, seconds, self._key() or "")
        self._record(endpoint, source, job.request_id, 200)
        # "{"data": {"request_id": "c08a339c-..."}}" (docs.deapi.ai/api/analysis/video-to-text)
        self._json(200, {"data": {"request_id": job.request_id}})

    def _job_input(self, endpoint: str, body: bytes) -> tuple[dict[str, Any], str, float | None]:
        if endpoint in ("vid2txt", "aud2txt"):
            try:
                fields = json.loads(body or b"{}")
            except json.JSONDecodeError:
                raise _Invalid({"body": ["The body must be JSON."]}) from None
            name = "video_url" if endpoint == "vid2txt" else "audio_url"
            url = fields.get(name)
            if not isinstance(url, str) or not url:
                raise _Invalid({name: [f"The {name.replace('_', ' ')} field is required."]})
            host = (urlsplit(url).hostname or "").lower()
            if endpoint == "vid2txt" and not any(
                host == h or host.endswith("." + h) for h in VIDEO_HOSTS
            ):
                raise _Invalid({name: ["The video url must be a YouTube, X, Twitch or Kick link."]})
            if "include_ts" not in fields:
                raise _Invalid({"include_ts": ["The include ts field is required."]})
            return fields, url, None
        try:
            fields, files = parse_form(self.headers.get("Content-Type", ""), body)
        except ValueError:
            raise _Invalid({"body": ["Expected multipart/form-data."]}) from None
        part = "audio" if endpoint == "audiofile2txt" else "video"
        data = files.get(part)
        if not data:
            raise _Invalid({part: [f"The {part} field is required."]})
        if len(data) > MAX_UPLOAD:
            raise _Invalid({part: [f"The {part} must not be greater than 10240 kilobytes."]})
        if "include_ts" not in fields:
            raise _Invalid({"include_ts": ["The include ts field is required."]})
        try:
            seconds = upload_seconds(data)
        except Exception:  # noqa: BLE001 - any undecodable upload is a validation error
            raise _Invalid({part: [f"The {part} could not be decoded."]}) from None
        return fields, f"upload:{len(data)}", seconds

    def _price(self, endpoint: str, body: bytes) -> None:
        api = self.api
        with api._lock:
            api.price_calls += 1
        wait = api.admit_price(api.clock())
        if wait > 0:
            self._send(
                429, error_body(429, "Too Many Attempts."), {"Retry-After": str(int(wait) + 1)}
            )
            return
        seconds: float | None = None
        if endpoint in ("vid2txt", "aud2txt"):
            fields = json.loads(body or b"{}")
            url = fields.get("video_url") or fields.get("audio_url")
            if url:
                seconds = api.plan_for(str(url)).seconds
            elif fields.get("duration_seconds") is not None:
                seconds = float(fields["duration_seconds"])
        else:
            try:
                fields, files = parse_form(self.headers.get("Content-Type", ""), body)
            except ValueError:
                fields, files = {}, {}
            if fields.get("duration_seconds"):
                seconds = float(fields["duration_seconds"])
            elif files:
                seconds = upload_seconds(next(iter(files.values())))
        if seconds is None:
            errors = {"duration_seconds": ["Required if no file or URL is given."]}
            self._send(422, error_body(422, "The given data was invalid.", errors))
            return
        # "{"data": {"price": 0.25}}" (docs.deapi.ai/api/analysis/video-to-text-price)
        self._json(200, {"data": {"price": round(seconds * PRICE_PER_SECOND, 6)}})

    def _key(self) -> str | None:
        auth = self.headers.get("Authorization", "")
        return auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else None

    def _authorised(self) -> bool:
        if self._key() in self.api.keys:
            return True
        # "401 Unauthorized ... {"message": "Unauthorized user.", ...}" (docs.deapi.ai/api/errors)
        self._send(401, error_body(401, "Unauthorized user."))
        return False

    def _record(self, endpoint: str, source: str, request_id: str | None, status: int) -> None:
        with self.api._lock:
            self.api.submits.append(Submit(endpoint, source, request_id, status, self.api.clock()))

    def _json(self, status: int, body: Any) -> None:
        self._send(status, json.dumps(body).encode())

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


class _Invalid(Exception):
    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(errors)
        self.errors = errors
