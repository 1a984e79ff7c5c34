"""How numbers and states read on screen: durations, rates, glyph plus word."""

from __future__ import annotations

from pathlib import PurePath

from engine.items import GLYPH, Item, State
from engine.limits.stats import LimiterStats


def hms(seconds: float | None) -> str:
    """``1:02:03`` for an hour or more, ``2:03`` under an hour, ``--`` when unknown."""
    if seconds is None:
        return "--"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def state_text(item: Item) -> str:
    if item.state is State.DONE and item.meta.get("outcome"):
        return f"{GLYPH[item.state]} {item.meta['outcome'].removesuffix(' found')}"
    return f"{GLYPH[item.state]} {item.state.value}"


def percent(item: Item) -> str:
    progress = item.progress
    if progress is None:
        return ""
    return f"{int(progress * 100)}%"


def stage_text(item: Item) -> str:
    if item.state is State.WAITING:
        return "rate limit"
    return item.stage or ""


def short_error(item: Item) -> str:
    if not item.error:
        return ""
    return item.error.splitlines()[0]


def row_label(item: Item) -> str:
    """The title; before it is known, a file's name or a link without ``https://www.``.

    Folders of files share a long prefix that would fill the cell, so a file shows its name alone.
    """
    if item.title:
        return item.title
    source = item.source
    if item.kind == "file":
        return PurePath(source).name or source
    for prefix in ("https://", "http://"):
        if source.startswith(prefix):
            source = source[len(prefix) :]
            return source[4:] if source.startswith("www.") else source
    return source


def shared_quota_text(service: LimiterStats) -> str:
    """'quota shared with 3 other processes, 212/min in all' for a Redis-held quota."""
    others = service.shared_with or 0
    who = f"with {others} other process{'es' if others != 1 else ''}" if others else "(alone)"
    total = "" if service.quota_last_minute is None else f", {service.quota_last_minute}/min in all"
    return f"quota shared {who}{total}"
