"""Everything a run is configured with, validated once; secrets are kept apart from what is saved."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from engine.errors import UsageError
from engine.limiter import MODES
from engine.pool import MAX_WORKERS, MIN_WORKERS, ORDERS
from engine.ratespec import parse_rate

ASR_ENGINES = ("auto", "openai", "whisper", "sphinx")
FORMATS = ("md", "txt", "srt", "vtt", "json")
DEFAULT_API_BASE = "https://api.openai.com/v1"
DEFAULT_RATE = "300/min"
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
    languages: tuple[str, ...] = ("en", "en-US", "en-GB")
    captions: bool = True
    timestamps: bool = False
    cookies: str | None = None
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
        if self.retries < 0 or self.retries > 20:
            raise UsageError("retries must be between 0 and 20")
        if not 10 <= self.chunk_seconds <= 3600:
            raise UsageError("--chunk-seconds must be between 10 and 3600")
        if not 0 <= self.overlap < self.chunk_seconds / 4:
            raise UsageError("overlap must be at least 0 and under a quarter of a chunk")
        parse_rate(self.rate_limit)
        parse_rate(self.media_rate_limit)
        return self

    def saved(self) -> dict[str, Any]:
        """The settings as stored in a session: no secrets."""
        data = asdict(self)
        data.pop("api_keys", None)
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
