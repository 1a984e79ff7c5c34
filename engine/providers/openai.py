"""OpenAI-compatible transcription over HTTP (OpenAI, Groq, self-hosted servers) with httpx."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Sequence
from typing import Unpack

import httpx

from engine.errors import AuthError, ProviderError, RateLimited, TooLarge, Unreachable
from engine.events import EventKind
from engine.http_bounds import ReplyBounds, read_response
from engine.limits.headers import ServerQuota, parse_retry_after, quota_from_headers
from engine.limits.services import Service
from engine.providers.base import Chunk, SendOptions, Transcriber, Transcript, required_keys
from engine.providers.formats import (
    APPROXIMATE,
    format_for,
    names_response_format,
    parse_transcript,
    wants_words,
)

OPENAI_UPLOAD_LIMIT = 25 * 1024 * 1024
SERVICE = Service.ASR
# Bodies up to this size are joined before sending (and held while a worker waits for a permit).
_BUFFER_BELOW = 256 * 1024


class OpenAITranscriber(Transcriber):
    """POSTs each chunk to ``{api_base}/audio/transcriptions`` as multipart form data."""

    name = "openai"
    service: str | None = SERVICE
    # Reply size cap and total deadline per request (grows with the upload).
    bounds: ReplyBounds = ReplyBounds()

    def __init__(
        self,
        api_base: str,
        api_keys: Sequence[str],
        *,
        model: str = "whisper-1",
        response_format: str = "auto",
        timeout: float = 300.0,
        max_upload_bytes: int | None = OPENAI_UPLOAD_LIMIT,
        max_connections: int = 64,
    ) -> None:
        self._keys = required_keys(api_keys, "the transcription API", "OPENAI_API_KEY")
        self.api_base = api_base.rstrip("/")
        self.url = f"{self.api_base}/audio/transcriptions"
        self.model = model
        # "auto": chosen by model, and switched to json once if the service refuses verbose_json.
        self._forced = response_format != "auto"
        self.response_format = response_format if self._forced else format_for(model)
        self._format_lock = threading.Lock()
        self.max_upload_bytes = max_upload_bytes
        # Wired by the batch: the limiter hears every reply's quota headers (and that the service
        # answers at all); events go to the board's log.
        self.on_reply: Callable[[ServerQuota | None], None] | None = None
        self.on_event: Callable[[EventKind, str], None] | None = None
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(30.0, timeout)),
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            follow_redirects=True,
        )

    @property
    def key_count(self) -> int:
        return len(self._keys)

    def close(self) -> None:
        self._client.close()

    def transcribe(
        self, chunk: Chunk, language: str | None = None, **options: Unpack[SendOptions]
    ) -> Transcript:
        """POST one chunk. ``before_send`` (taking a rate-limit permit) runs once the request is
        built, just before it goes out: the server counts a request when it arrives, so the less
        work between the permit and the wire, the less a burst can bunch up on the server's clock.
        """
        key_index = options.get("key_index", 0)
        before_send = options.get("before_send")
        while True:
            fmt = self.response_format
            try:
                return self._post(chunk, language, fmt, key_index, before_send)
            except ProviderError as exc:
                if not self._fall_back(exc, fmt):
                    raise

    def _fall_back(self, exc: ProviderError, sent: str) -> bool:
        """After a 400 that names response_format: switch the whole batch to json, once."""
        if self._forced or exc.status != 400 or sent == "json" or not exc.names_format:
            return False
        with self._format_lock:
            if self.response_format == sent:
                self.response_format = "json"
                if self.on_event is not None:
                    self.on_event(
                        EventKind.FORMAT,
                        f"{self.model} does not offer {sent}: asking for json from now on "
                        "(timestamps per chunk only, marked approximate)",
                    )
        return True

    def _post(
        self,
        chunk: Chunk,
        language: str | None,
        fmt: str,
        key_index: int,
        before_send: Callable[[], object] | None,
    ) -> Transcript:
        key = self._keys[key_index % len(self._keys)]
        data: dict[str, str | list[str]] = {"model": self.model, "response_format": fmt}
        if fmt == "verbose_json" and wants_words(self.model):
            data["timestamp_granularities[]"] = ["segment", "word"]
        if language:
            data["language"] = language.split("-")[0]
        with open(chunk.path, "rb") as handle:
            files = {"file": (chunk.path.name, handle, _mime(chunk.path.suffix))}
            try:
                request = self._client.build_request(
                    "POST",
                    self.url,
                    data=data,
                    files=files,
                    headers={"Authorization": f"Bearer {key}"},
                )
                upload = os.fstat(handle.fileno()).st_size
                if upload <= _BUFFER_BELOW:
                    # A streamed multipart body goes out in a dozen small writes, one per piece;
                    # a small one joined first goes in one, which keeps bursts of uploads cheap.
                    request.read()
                request.extensions["timeout"] = self.bounds.timeout(
                    self._client.timeout, upload
                ).as_dict()
                if before_send is not None:
                    # The limiter counts the request from when it really left (see Permit.sent).
                    sent = getattr(before_send(), "sent", None)
                    if callable(sent):
                        request.extensions["trace"] = _when_headers_sent(sent)
                deadline = self.bounds.deadline(upload)
                response = read_response(
                    self._client.send(request, stream=True),
                    max_bytes=self.bounds.max_bytes,
                    deadline=deadline,
                    what="the transcription API",
                )
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                # Connection refused, no route, or the name does not resolve: nothing was sent.
                raise Unreachable(
                    f"cannot reach {self.api_base}: {type(exc).__name__}: {exc}",
                    hint="check the network and --api-base; the batch carries on once it answers",
                ) from exc
            except httpx.TimeoutException as exc:
                raise ProviderError(
                    f"the transcription API did not answer in time ({type(exc).__name__})",
                    transient=True,
                ) from exc
            except httpx.TransportError as exc:
                raise ProviderError(
                    f"network problem talking to {self.api_base}: {type(exc).__name__}: {exc}",
                    transient=True,
                ) from exc
        if self.on_reply is not None:
            self.on_reply(quota_from_headers(response.headers))
        if response.status_code != 200:
            raise _error_for(response, self.api_base)
        return self._parse(response, chunk, fmt)

    def _parse(self, response: httpx.Response, chunk: Chunk, fmt: str) -> Transcript:
        content_type = response.headers.get("content-type", "")
        if fmt == "text" or "json" not in content_type:
            if fmt != "text":
                raise ProviderError(
                    f"the API answered with {content_type or 'no content type'} instead of JSON",
                    hint="check --api-base points at an OpenAI-compatible /v1 endpoint",
                    transient=True,
                )
            return parse_transcript({"text": response.text}, chunk.duration)
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ProviderError("the API sent an unreadable JSON reply", transient=True) from exc
        if not isinstance(body, dict):
            raise ProviderError("the API sent JSON of an unexpected shape", transient=True)
        return parse_transcript(body, chunk.duration)


__all__ = ["APPROXIMATE", "OpenAITranscriber", "parse_retry_after"]


def _mime(suffix: str) -> str:
    return {
        ".flac": "audio/flac",
        ".mp3": "audio/mpeg",
        ".ogg": "audio/ogg",
        ".wav": "audio/wav",
    }.get(suffix.lower(), "application/octet-stream")


def _server_error(response: httpx.Response) -> dict[str, object]:
    """The ``error`` object of an OpenAI-style error body, or {} when there is none."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def _server_message(response: httpx.Response) -> str:
    error = _server_error(response)
    if error:
        return str(error.get("message", ""))[:300]
    return response.text[:200].strip()


def _when_headers_sent(callback: Callable[[], object]) -> Callable[[str, object], None]:
    """An httpcore trace hook calling ``callback`` once the request's headers are written."""

    def trace(event: str, info: object) -> None:
        if event.endswith("send_request_headers.complete"):
            callback()

    return trace


def _error_for(response: httpx.Response, api_base: str) -> ProviderError:
    status = response.status_code
    detail = _server_message(response)
    said = f": {detail}" if detail else ""
    if status == 429 and "insufficient_quota" in (
        str(_server_error(response).get(field)) for field in ("code", "type")
    ):
        # OpenAI answers 429 when the account has run out of credit: waiting cannot help, and
        # every other item would meet the same answer, so this pauses the run like a bad key.
        return AuthError(
            f"the API key has no quota left (429){said}",
            hint="check the plan and billing of this key, then resume",
            status=status,
        )
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        return RateLimited(
            f"rate limited by the API (429){said}", status=status, retry_after=retry_after
        )
    if status in (401, 403):
        return AuthError(
            f"the API refused the key ({status}){said}",
            hint="check OPENAI_API_KEY / --api-key and that the key may use this model",
            status=status,
        )
    if status == 400:
        error = _server_error(response)
        refused = ProviderError(
            f"the API rejected the request (400){said}",
            hint="try --response-format json or text" if names_response_format(error) else "",
            status=status,
        )
        refused.names_format = names_response_format(error)
        return refused
    if status == 413:
        # Groq answers 413 "request_too_large" above its 25 MB upload limit; OpenAI the same above 25 MB.
        return TooLarge(f"the audio chunk is too large for the API (413){said}", status=status)
    if status == 404:
        return ProviderError(
            f"no transcription endpoint at {api_base}/audio/transcriptions (404)",
            hint="--api-base should be the API root, e.g. https://api.openai.com/v1",
            status=status,
        )
    if status in (408, 409) or status >= 500:
        return ProviderError(f"the API failed ({status}){said}", transient=True, status=status)
    return ProviderError(f"the API rejected the request ({status}){said}", status=status)
