"""Feed field values as people read them: durations in any itunes form, dates, HTML as plain text."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

_CLOCK = re.compile(r"^(?:(\d+):)?(\d{1,3}):(\d{1,2}(?:[.,]\d+)?)$")
_ISO_DURATION = re.compile(
    r"^P(?:(\d+)D)?T?(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?$",
    re.IGNORECASE,
)
_WORDS = re.compile(
    r"^(?:(\d+(?:\.\d+)?)\s*h(?:ours?|rs?)?)?\s*(?:(\d+(?:\.\d+)?)\s*m(?:in(?:utes?|s)?)?)?"
    r"\s*(?:(\d+(?:\.\d+)?)\s*s(?:ec(?:onds?|s)?)?)?$",
    re.IGNORECASE,
)
_HIDDEN = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_BLOCK_TAG = re.compile(r"</?(?:p|div|br|li|ul|ol|h[1-6]|tr|blockquote)\b[^>]*>", re.IGNORECASE)
_ANY_TAG = re.compile(r"<[^>]*>")
_ENTITY = re.compile(r"&(?:#\d+|#x[0-9a-f]+|[a-z][a-z0-9]+);", re.IGNORECASE)
_MAX_SECONDS = 7 * 24 * 3600.0  # a week: anything longer is a typo in the feed, not an episode


def parse_duration(text: str | None) -> float | None:
    """Seconds from ``itunes:duration`` in any form seen in feeds; None when unreadable.

    Apple's podcast spec asks for seconds, but HH:MM:SS, H:MM:SS, MM:SS and M:SS are common,
    as are minutes past 59 ("75:10"), fractions ("3723.5"), ISO 8601 ("PT1H2M3S") and words.
    """
    value = (text or "").strip()
    if not value:
        return None
    seconds: float | None = None
    if re.fullmatch(r"\d+(?:[.,]\d+)?", value):
        seconds = float(value.replace(",", "."))
    elif match := _CLOCK.match(value):
        hours, minutes, secs = match.groups()
        seconds = int(hours or 0) * 3600 + int(minutes) * 60 + float(secs.replace(",", "."))
    elif (match := _ISO_DURATION.match(value)) and any(match.groups()):
        days, hours, minutes, secs = (float(g) if g else 0.0 for g in match.groups())
        seconds = days * 86400 + hours * 3600 + minutes * 60 + secs
    elif (match := _WORDS.match(value)) and any(match.groups()):
        hours, minutes, secs = (float(g) if g else 0.0 for g in match.groups())
        seconds = hours * 3600 + minutes * 60 + secs
    if seconds is None or not 0 < seconds <= _MAX_SECONDS:
        return None
    return seconds


def parse_date(text: str | None) -> datetime | None:
    """An aware datetime from RFC 822 (RSS ``pubDate``) or ISO 8601 (Atom); feedparser for the rest."""
    value = (text or "").strip()
    if not value:
        return None
    found: datetime | None = None
    try:
        found = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        try:
            found = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            found = _feedparser_date(value)
    if found is None:
        return None
    return found if found.tzinfo is not None else found.replace(tzinfo=UTC)


def _feedparser_date(value: str) -> datetime | None:
    # feedparser knows a dozen date dialects real feeds use (W3C-DTF, Korean, Greek, Hungarian...).
    from feedparser.datetimes import _parse_date

    parsed = _parse_date(value)
    if not parsed:
        return None
    year, month, day, hour, minute, second = parsed[:6]
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def plain_text(value: str | None) -> str | None:
    """HTML (show notes, summaries) as plain text: tags dropped, entities decoded, blocks kept apart.

    Regular expressions rather than an HTML parser: notes are small, and a 1,000-episode feed
    spent most of its expansion time in html.parser.
    """
    if not value:
        return None
    text = value
    if "<" in text:
        text = _HIDDEN.sub(" ", text)
        text = _BLOCK_TAG.sub("\n", text)
        text = _ANY_TAG.sub("", text)
    if _ENTITY.search(text):
        text = html.unescape(text)
    lines = [" ".join(line.split()) for line in text.splitlines()]
    joined = "\n".join(line for line in lines if line)
    return joined or None


def plain_title(value: str | None) -> str:
    """A title with entities decoded once more: many feeds escape ``&#039;`` twice."""
    text = " ".join((value or "").split())
    return html.unescape(text) if _ENTITY.search(text) else text
