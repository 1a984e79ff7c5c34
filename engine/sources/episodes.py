"""Choosing episodes of a feed or entries of a playlist: ``--since``, ``--latest``, ``--episodes``."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

from engine.errors import UsageError

T = TypeVar("T")
_RANGE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")
_MAX_NUMBER = 1_000_000


@dataclass(frozen=True, slots=True)
class EpisodeChoice:
    """Which entries to take. Filters apply in order: since, then numbers, then the newest N."""

    since: date | None = None
    latest: int | None = None
    numbers: tuple[tuple[int, int], ...] = ()  # inclusive ranges

    @classmethod
    def parse(
        cls, since: str | None = None, latest: str | int | None = None, episodes: str | None = None
    ) -> EpisodeChoice | None:
        """From the flags' text; None when nothing is chosen. UsageError names the bad flag."""
        choice = cls(_since(since), _latest(latest), _numbers(episodes))
        return None if choice.empty else choice

    @property
    def empty(self) -> bool:
        return self.since is None and self.latest is None and not self.numbers

    def describe(self) -> str:
        parts = []
        if self.since is not None:
            parts.append(f"since {self.since.isoformat()}")
        if self.numbers:
            parts.append("episodes " + ",".join(_span(a, b) for a, b in self.numbers))
        if self.latest is not None:
            parts.append(f"latest {self.latest}")
        return ", ".join(parts) or "all"

    def to_meta(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat() if self.since else None,
            "latest": self.latest,
            "episodes": ",".join(_span(a, b) for a, b in self.numbers) or None,
        }

    @classmethod
    def from_meta(cls, data: Mapping[str, Any] | None) -> EpisodeChoice | None:
        if not data:
            return None
        return cls.parse(data.get("since"), data.get("latest"), data.get("episodes"))

    def apply(
        self,
        entries: Sequence[T],
        *,
        when: Callable[[T], datetime | date | None],
        number: Callable[[T], int],
    ) -> tuple[list[T], int]:
        """(entries taken, in their original order; how many had no date for ``since``).

        Undated entries are kept by ``since`` (a playlist's flat listing often has no dates)
        and counted, so the caller can say so.
        """
        taken = list(entries)
        undated = 0
        if self.since is not None:
            kept = []
            for entry in taken:
                stamp = when(entry)
                if stamp is None:
                    undated += 1
                    kept.append(entry)
                elif _day(stamp) >= self.since:
                    kept.append(entry)
            taken = kept
        if self.numbers:
            taken = [e for e in taken if any(a <= number(e) <= b for a, b in self.numbers)]
        if self.latest is not None:
            # Newest by date; without dates, earlier in the listing counts as newer (feeds and
            # channel listings put the newest first).
            order = sorted(range(len(taken)), key=lambda i: (_stamp(when(taken[i])), -i))
            order.reverse()
            keep = set(order[: self.latest])
            taken = [e for i, e in enumerate(taken) if i in keep]
        return taken, undated


def _since(text: str | None) -> date | None:
    if text is None or not str(text).strip():
        return None
    try:
        return date.fromisoformat(str(text).strip()[:10])
    except ValueError:
        raise UsageError(
            f"--since: '{text}' is not a date", hint="use YYYY-MM-DD, e.g. --since 2024-01-31"
        ) from None


def _latest(value: str | int | None) -> int | None:
    if value is None or str(value).strip() == "":
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        number = 0
    if not 1 <= number <= _MAX_NUMBER:
        raise UsageError(f"--latest: '{value}' is not a positive whole number", hint="e.g. 5")
    return number


def _numbers(text: str | None) -> tuple[tuple[int, int], ...]:
    if text is None or not text.strip():
        return ()
    spans = []
    for part in text.split(","):
        match = _RANGE.match(part)
        first = int(match.group(1)) if match else 0
        last = int(match.group(2) or first) if match else 0
        if not match or first < 1 or last < first or last > _MAX_NUMBER:
            raise UsageError(
                f"--episodes: '{part.strip()}' is not a number or a range like 5-9",
                hint="e.g. --episodes 3,5-9",
            )
        spans.append((first, last))
    return tuple(spans)


def _span(first: int, last: int) -> str:
    return str(first) if first == last else f"{first}-{last}"


def _day(stamp: datetime | date) -> date:
    return stamp.date() if isinstance(stamp, datetime) else stamp


def _stamp(value: datetime | date | None) -> float:
    if value is None:
        return float("-inf")
    if isinstance(value, datetime):
        return value.timestamp()
    return datetime(value.year, value.month, value.day).timestamp()
