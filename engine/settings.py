"""Everything a run is configured with, validated once; secrets are kept apart from what is saved."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from engine.errors import UsageError
from engine.limits.pools import MODES
from engine.limits.ratespec import parse_rate
from engine.outputs.formats import FORMATS
from engine.providers.formats import FORMATS as RESPONSE_FORMATS
from engine.redact import redact_text, remember_secret
from engine.run.queue import ORDERS
from engine.run.workers import MAX_WORKERS, MIN_WORKERS
from engine.sources.download_guard import DEFAULT_MAX_MB
from engine.sources.episodes import EpisodeChoice

ASR_ENGINES = ("auto", "openai", "whisper", "sphinx", "deapi")
DEAPI_PLANS = ("basic", "premium")
DEFAULT_API_BASE = "https://api.openai.com/v1"
DEFAULT_RATE = "300/min"
# Caption preferences when --lang is not given; they say nothing about the language of the audio.
DEFAULT_LANGUAGES = ("en", "en-US", "en-GB")
# How the app tells someone in another window that a batch finished: a terminal bell, or a desktop
# notification through the terminal (OSC 9: iTerm2, WezTerm, kitty, foot; OSC 777: VTE, urxvt).
NOTIFY = ("off", "bell", "osc9", "osc777")


@dataclass(frozen=True)
class Settings:
    """A run's settings. ``api_keys`` is never saved; ``api_key_source`` says where they came from."""

    asr: str = "auto"
    api_base: str = DEFAULT_API_BASE
    model: str = "whisper-1"
    whisper_model: str = "small"
    output: str = ""
    formats: tuple[str, ...] = ("md",)
    workers: int = 2  # used when parallel is on; off always means one worker
    parallel: bool = False
    rate_limit: str = DEFAULT_RATE
    rate_mode: str = "shared"
    media_rate_limit: str = "60/min"
    order: str = "input"
    retries: int = 3
    chunk_seconds: float = 600.0
    overlap: float = 2.0
    languages: tuple[str, ...] = DEFAULT_LANGUAGES  # caption preference
    # Sent to the ASR service only when set (--lang or config); otherwise the service detects it.
    asr_language: str | None = None
    response_format: str = "auto"  # auto: by model; or verbose_json, json, text
    max_retry_after: float = 900.0  # longest Retry-After obeyed at once, in seconds
    captions: bool = True
    captions_only: bool = False  # no usable captions fails the item instead of running ASR
    since: str | None = None  # episodes of feeds and playlists to take (engine/sources/episodes.py)
    latest: int | None = None
    episodes: str | None = None
    timestamps: bool = False
    cookies: str | None = None
    max_download_mb: int = DEFAULT_MAX_MB  # a remote download stops with an error past this size
    # Shared quota: a Redis URL (empty: the quota lives in this process) and an optional quota name.
    redis: str = ""
    quota: str = ""
    # Spread the batch over `bulkscribe worker` processes through the same Redis (engine/distributed).
    distribute: bool = False
    deapi_plan: str = "premium"
    daily_limit: int = 0  # requests per UTC day for --asr deapi; 0: what the plan allows
    notify: str = "off"
    api_keys: tuple[str, ...] = field(default=(), repr=False)
    api_key_source: str | None = None

    def validate(self) -> Settings:
        if self.asr not in ASR_ENGINES:
            raise UsageError(
                f"unknown ASR engine {self.asr!r}", hint=f"choose one of {', '.join(ASR_ENGINES)}"
            )
        bad = [f for f in self.formats if f not in FORMATS]
        if bad or not self.formats:
            raise UsageError(
                f"unknown output format {', '.join(bad) or '(none)'}",
                hint=f"choose from {','.join(FORMATS)}",
            )
        if not MIN_WORKERS <= self.workers <= MAX_WORKERS:
            raise UsageError(
                f"workers must be between {MIN_WORKERS} and {MAX_WORKERS}, not {self.workers}"
            )
        if self.notify not in NOTIFY:
            raise UsageError(
                f"unknown notify choice {self.notify!r}", hint=f"choose one of {', '.join(NOTIFY)}"
            )
        if self.rate_mode not in MODES:
            raise UsageError(
                f"unknown rate mode {self.rate_mode!r}", hint="use shared or independent"
            )
        if self.order not in ORDERS:
            raise UsageError(f"unknown order {self.order!r}", hint=f"use {', '.join(ORDERS)}")
        if self.deapi_plan not in DEAPI_PLANS:
            raise UsageError(f"unknown deAPI plan {self.deapi_plan!r}", hint="use basic or premium")
        if self.daily_limit < 0:
            raise UsageError("--daily-limit must be 0 (the plan's) or more")
        if self.retries < 0 or self.retries > 20:
            raise UsageError("retries must be between 0 and 20")
        if not 10 <= self.chunk_seconds <= 3600:
            raise UsageError("--chunk-seconds must be between 10 and 3600")
        if not 0 <= self.overlap < self.chunk_seconds / 4:
            raise UsageError("overlap must be at least 0 and under a quarter of a chunk")
        parse_rate(self.rate_limit)
        parse_rate(self.media_rate_limit)
        for key in self.api_keys:
            remember_secret(key)  # so no error, event or report can quote it
        if any(not _printable_key(key) for key in self.api_keys):
            # Such a key fails every request the same way (or ends up quoted in an error):
            # refuse it once, and never echo it.
            raise UsageError(
                f"an API key{_from(self.api_key_source)} holds a character no API key has "
                "(a space, a control character or a non-ASCII letter)",
                hint="copy the key again from the provider's dashboard",
            )
        self.episode_choice()
        if self.response_format not in RESPONSE_FORMATS:
            raise UsageError(
                f"unknown response format {self.response_format!r}",
                hint=f"use {', '.join(RESPONSE_FORMATS)}",
            )
        if self.max_download_mb < 1:
            raise UsageError("max_download_mb must be at least 1 (megabytes)")
        if not 1 <= self.max_retry_after <= 86400:
            raise UsageError("--max-retry-after must be between 1 and 86400 seconds")
        return self

    def episode_choice(self) -> EpisodeChoice | None:
        """The ``--since``/``--latest``/``--episodes`` choice, or None to take every entry."""
        return EpisodeChoice.parse(self.since, self.latest, self.episodes)

    def saved(self) -> dict[str, Any]:
        """The settings as stored in a session: no secrets."""
        data = asdict(self)
        data.pop("api_keys", None)
        # The API root may carry a password or a key in its query: kept for requests, not saved.
        data["api_base"] = redact_text(self.api_base)
        if data["api_base"] != self.api_base:
            data["api_base_withheld"] = True
        data["redis"] = _without_password(self.redis)
        data["formats"] = list(self.formats)
        data["languages"] = list(self.languages)
        return data

    @classmethod
    def from_saved(cls, data: dict[str, Any], **overrides: Any) -> Settings:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__ and k != "api_keys"}
        for key in ("formats", "languages"):
            if key in known:
                known[key] = tuple(known[key])
        return replace(cls(**known), **overrides)

    def evolve(self, **changes: Any) -> Settings:
        return replace(self, **changes)


def _printable_key(key: str) -> bool:
    return bool(key) and all("!" <= ch <= "~" for ch in key)


def _from(source: str | None) -> str:
    if not source:
        return ""
    kind, _, name = source.partition(":")
    return f" from {name}" if name else f" from the {kind}"


def _without_password(url: str) -> str:
    """A Redis URL as it may be stored: its password (a secret) left out."""
    from urllib.parse import urlsplit, urlunsplit

    if not url:
        return url
    parts = urlsplit(url)
    if parts.password is None and "@" not in parts.netloc:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=host))
