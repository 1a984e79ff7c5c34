"""deAPI's limits by account type, and the transcriber built from a run's settings.

From docs.deapi.ai/limits-and-quotas: "Whisper Shared Limit: All four Whisper transcription
endpoints share a single combined limit of 1 RPM and 10 RPD" on Basic accounts, and "Premium (300
RPM, unlimited daily requests)". One limiter (service ``asr``) therefore covers vid2txt, aud2txt,
videofile2txt and audiofile2txt together. The status endpoint (request-status) is not in those
tables, so polls are not counted against the Whisper pool; they are paced by backoff instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.limits.dayquota import DayQuota, WallClock
from engine.settings import DEFAULT_API_BASE, DEFAULT_RATE, Settings

if TYPE_CHECKING:
    from engine.providers.deapi import DeapiTranscriber

# plan -> (per-minute rule over the shared Whisper pool, requests per UTC day; 0: no daily cap)
PLANS = {"basic": ("1/min", 10), "premium": ("300/min", 0)}
DEFAULT_MODEL = "WhisperLargeV3"


def plan_rate(settings: Settings) -> str:
    """The per-minute rule: the plan's, unless --rate-limit set another."""
    if settings.rate_limit != DEFAULT_RATE:
        return settings.rate_limit
    return PLANS[settings.deapi_plan][0]


def plan_daily(settings: Settings) -> int:
    """Requests per UTC day (0: no daily cap): --daily-limit, else the plan's."""
    return settings.daily_limit or PLANS[settings.deapi_plan][1]


def deapi_transcriber(
    settings: Settings, *, day_clock: WallClock | None = None
) -> DeapiTranscriber:
    from engine.providers.deapi import DEAPI_BASE, DeapiTranscriber

    base = settings.api_base if settings.api_base != DEFAULT_API_BASE else DEAPI_BASE
    model = settings.model if settings.model != "whisper-1" else DEFAULT_MODEL
    daily = plan_daily(settings)
    quota = DayQuota(daily, clock=day_clock) if daily else None
    return DeapiTranscriber(base, settings.api_keys, model=model, day_quota=quota)
