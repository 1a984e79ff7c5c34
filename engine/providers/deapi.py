"""deAPI transcription (docs.deapi.ai): a queue of jobs, submitted then polled, by URL or by upload.

deAPI is not OpenAI-compatible. A job is submitted (``vid2txt`` with a video URL it fetches itself,
``aud2txt`` for X Spaces, ``audiofile2txt`` / ``videofile2txt`` for uploads of at most 10 MB), which
answers ``{"data": {"request_id": ...}}``; then ``request-status/{request_id}`` is polled until its
``status`` is ``done`` or ``error``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Unpack
from urllib.parse import urlsplit

from engine.errors import LowBalance, ProviderError, RateLimited
from engine.limits.dayquota import DayQuota
from engine.limits.services import Service
from engine.providers.base import Chunk, SendOptions, Transcriber, Transcript, required_keys
from engine.providers.deapi_http import PREFIX, DeapiHttp
from engine.providers.deapi_result import data_of, job_error

DEAPI_BASE = "https://api.deapi.ai"
SERVICE = Service.ASR
# "Audio file to transcribe ... Maximum file size: 10 MB." (docs.deapi.ai/api/analysis/
# upload-audio-file). Read as 10^7 bytes, the smaller of the two ways to read "MB".
UPLOAD_LIMIT = 10_000_000
# "Generation requires an account balance of at least $0.49. When your balance drops below this
# threshold, new jobs are rejected" (docs.deapi.ai/api/v1/utilities/check-balance).
MIN_BALANCE = 0.49
BALANCE_TTL = 60.0
JOB_DEADLINE = 6 * 3600.0  # a job not done after this long fails its item (it is not resubmitted)
# A 429 asking to wait longer than this is taken as the daily window, not the per-minute one.
DAY_WINDOW_HINT = 3600.0
# vid2txt: "Video URL transcription (YouTube, X, Twitch, Kick)" (docs.deapi.ai/limits-and-quotas).
VIDEO_HOSTS = ("youtube.com", "youtu.be", "x.com", "twitter.com", "twitch.tv", "kick.com")
# aud2txt: "URL of Twitter Spaces audio to transcribe" (docs.deapi.ai/api/analysis/
# audio-to-text-spaces-price).
SPACES_HOSTS = ("x.com", "twitter.com")


@dataclass(frozen=True)
class JobPolling:
    """How a submitted job is waited for: pauses from ``first`` growing by half up to ``cap``,
    for ``deadline`` seconds in all."""

    first: float = 1.0
    cap: float = 10.0
    deadline: float = JOB_DEADLINE

    def after(self, pause: float) -> float:
        """The pause that follows one of ``pause`` seconds."""
        return min(self.cap, pause * 1.5)


def url_endpoint(url: str) -> str | None:
    """``vid2txt`` or ``aud2txt`` for a URL deAPI fetches itself, None for anything else."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    host = (parts.hostname or "").lower()

    def on(hosts: Sequence[str]) -> bool:
        return any(host == h or host.endswith("." + h) for h in hosts)

    if parts.scheme not in ("http", "https"):
        return None
    if on(SPACES_HOSTS) and parts.path.startswith("/i/spaces/"):
        return "aud2txt"
    if on(VIDEO_HOSTS):
        return "vid2txt"
    return None


class DeapiTranscriber(Transcriber):
    """Submits jobs to deAPI and polls them; safe to call from several threads at once."""

    name = "deapi"
    submits_jobs = True
    service: str | None = SERVICE

    def __init__(
        self,
        api_base: str,
        api_keys: Sequence[str],
        *,
        model: str = "WhisperLargeV3",
        day_quota: DayQuota | None = None,
        timeout: float = 120.0,
        poll_first: float = 1.0,
        poll_cap: float = 10.0,
        job_deadline: float = JOB_DEADLINE,
        max_upload_bytes: int | None = UPLOAD_LIMIT,
    ) -> None:
        self._keys = required_keys(api_keys, "deAPI", "DEAPI_API_KEY")
        self.api_base = api_base.rstrip("/")
        self.model = model
        self.day_quota = day_quota
        self.polling = JobPolling(poll_first, poll_cap, job_deadline)
        self.max_upload_bytes = max_upload_bytes
        self._balance: tuple[float, float] | None = None  # (value, monotonic time read)
        self._balance_lock = threading.Lock()
        self._http = DeapiHttp(self.api_base, timeout)

    @property
    def key_count(self) -> int:
        return len(self._keys)

    def close(self) -> None:
        self._http.close()

    def accepts_url(self, url: str) -> bool:
        return url_endpoint(url) is not None

    # -- jobs -------------------------------------------------------------------------------

    def transcribe_url(
        self, url: str, language: str | None = None, **options: Unpack[SendOptions]
    ) -> Transcript:
        """Have deAPI fetch ``url`` itself (``vid2txt`` or ``aud2txt``) and wait for its job."""
        endpoint = url_endpoint(url)
        if endpoint is None:
            raise ProviderError(f"deAPI cannot fetch {url} itself", hint="it is uploaded instead")
        body = {**self._url_body(url, endpoint), "return_result_in_response": True}

        def submit(key: str) -> str:
            return self._submit(endpoint, key, options.get("before_send"), json_body=body)

        return self._job(submit, None, options)

    def transcribe(
        self, chunk: Chunk, language: str | None = None, **options: Unpack[SendOptions]
    ) -> Transcript:
        """Upload one audio chunk to ``audiofile2txt`` and wait for its job."""
        data = {"include_ts": "true", "model": self.model, "return_result_in_response": "true"}

        def submit(key: str) -> str:
            with open(chunk.path, "rb") as handle:
                files = {"audio": (chunk.path.name, handle, "audio/flac")}
                before_send = options.get("before_send")
                return self._submit("audiofile2txt", key, before_send, data=data, files=files)

        return self._job(submit, chunk.duration, options)

    def _job(
        self, submit: Callable[[str], str], duration: float | None, options: SendOptions
    ) -> Transcript:
        """Poll the job saved in ``options`` (``resume_id``), or submit one, until it ends."""
        key = self._key(options.get("key_index", 0))
        on_progress = options.get("on_progress")
        on_submitted = options.get("on_submitted")
        sleep = options.get("sleep", time.sleep)
        request_id = options.get("resume_id")
        data = None
        if request_id:
            # A resumed job may have been submitted with another of the keys (another worker).
            for candidate in [key, *(k for k in self._keys if k != key)]:
                data = self._http.status(request_id, candidate)
                if data is not None:
                    key = candidate
                    break
        if data is None:
            # No job yet, or deAPI no longer knows the saved one (404): nothing was paid for it.
            self.ensure_funds(key)
            request_id = submit(key)
            if on_submitted is not None:
                on_submitted(request_id)
            data = self._http.status(request_id, key)
        assert request_id is not None
        delay = self.polling.first
        deadline = time.monotonic() + self.polling.deadline
        while True:
            if data is None:
                raise ProviderError(f"deAPI lost job {request_id} (404 while polling)")
            status = str(data.get("status", "")).lower()
            progress = data.get("progress")
            if on_progress is not None and isinstance(progress, int | float):
                on_progress(max(0.0, min(100.0, float(progress))))
            if status == "done":
                with self._balance_lock:
                    self._balance = None  # the job was charged: read the balance afresh
                return self._http.result(data, duration)
            if status == "error":
                if on_submitted is not None:
                    on_submitted(None)  # a retry must submit afresh, not poll a dead job again
                raise ProviderError(
                    f"deAPI job {request_id} failed: {job_error(data)}",
                    hint="the service could not transcribe this item",
                )
            if time.monotonic() > deadline:
                # The id stays saved: retrying the item later polls the same job again.
                raise ProviderError(
                    f"deAPI job {request_id} is still {status or 'unfinished'} after "
                    f"{self.polling.deadline / 3600:.1f} h",
                    hint="retry the item later to look at the job again",
                )
            sleep(delay)
            delay = self.polling.after(delay)
            data = self._http.status(request_id, key)

    def _submit(
        self, endpoint: str, key: str, before_send: Callable[[], object] | None, **kw: Any
    ) -> str:
        if before_send is not None:
            before_send()
        try:
            response = self._http.send("POST", f"{PREFIX}/{endpoint}", key, **kw)
        except RateLimited as exc:
            wait = exc.retry_after
            if self.day_quota is None or wait is None or wait < DAY_WINDOW_HINT:
                raise
            # A wait of hours is the day's window, spent by others on the same account: let the
            # day quota hold every worker until 00:00 UTC, with its message, instead of a 429 loop.
            self.day_quota.exhaust()
            raise RateLimited(
                f"{exc.message}; the day's quota is spent", status=429, retry_after=1.0
            ) from None
        data = data_of(response)
        request_id = data.get("request_id") if isinstance(data, dict) else None
        if request_id in (None, ""):
            raise ProviderError("deAPI accepted the job but sent no request_id", transient=True)
        return str(request_id)

    # -- account ----------------------------------------------------------------------------

    def balance(self, key_index: int = 0) -> float:
        """The account balance in USD (``GET /api/v1/client/balance``)."""
        value = self._http.balance(self._key(key_index))
        with self._balance_lock:
            self._balance = (value, time.monotonic())
        if self.on_balance is not None:
            self.on_balance(value)
        return value

    def ensure_funds(self, key: str | None = None) -> None:
        """Pause the batch (LowBalance blocks) before deAPI starts refusing jobs for lack of funds."""
        with self._balance_lock:
            cached = self._balance
        if cached is None or time.monotonic() - cached[1] > BALANCE_TTL:
            index = self._keys.index(key) if key in self._keys else 0
            value = self.balance(index)
        else:
            value = cached[0]
        if value < MIN_BALANCE:
            raise LowBalance(
                f"deAPI balance is ${value:.2f}, below the ${MIN_BALANCE:.2f} it needs to "
                "start a job",
                hint="top up the deAPI account, then resume",
            )

    def price_url(self, url: str) -> float:
        """The price of transcribing ``url`` (``vid2txt/price-calculation``)."""
        endpoint = url_endpoint(url) or "vid2txt"
        return self._http.price(endpoint, self._key(0), self._url_body(url, endpoint))

    def price_seconds(self, seconds: float) -> float:
        """The price of this many seconds of audio: ``aud2txt/price-calculation`` takes
        "duration_seconds: Duration in seconds (required if audio_url not provided)"
        (docs.deapi.ai/api/analysis/audio-to-text-spaces-price), with no file to upload."""
        body = {"include_ts": True, "model": self.model, "duration_seconds": round(seconds)}
        return self._http.price("aud2txt", self._key(0), body)

    def _url_body(self, url: str, endpoint: str) -> dict[str, Any]:
        field = "video_url" if endpoint == "vid2txt" else "audio_url"
        return {field: url, "include_ts": True, "model": self.model}

    def _key(self, index: int) -> str:
        return self._keys[index % len(self._keys)]
