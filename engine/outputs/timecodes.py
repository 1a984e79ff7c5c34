"""Seconds shown as clock times, the way each output format wants them."""

from __future__ import annotations

import math


def millis(seconds: float) -> int:
    """Whole milliseconds, never negative; NaN and infinities count as zero."""
    if not math.isfinite(seconds) or seconds <= 0:
        return 0
    return round(seconds * 1000)


def cue_time(ms: int, separator: str) -> str:
    """HH:MM:SS,mmm (SubRip, separator ",") or HH:MM:SS.mmm (WebVTT, separator ".")."""
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, msec = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{msec:03d}"


def hms(seconds: float) -> str:
    """H:MM:SS rounded to the nearest second, the duration people read (1:02:03)."""
    total = (millis(seconds) + 500) // 1000
    return f"{total // 3600}:{total % 3600 // 60:02d}:{total % 60:02d}"


def stamp(seconds: float, *, long_form: bool) -> str:
    """[hh:mm:ss] for media an hour or longer, else [mm:ss], for paragraph starts."""
    total = millis(seconds) // 1000
    if long_form:
        return f"[{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}]"
    return f"[{total // 60:02d}:{total % 60:02d}]"
