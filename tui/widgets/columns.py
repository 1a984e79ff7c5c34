"""The status table's columns: what each shows, how it sorts, and which fit a given width."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from engine.items import Item
from tui.format import hms, percent, row_label, short_error, stage_text, state_text


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    width: int
    text: Callable[[Item], str]
    sort: Callable[[Item], object]
    priority: int  # 0 always shown; otherwise lower is added first when there is room
    flex: bool = False
    right: bool = False
    live: bool = False  # a started, unfinished item's sort value moves with the clock


def _none_last(value: object) -> tuple[bool, object]:
    return (value is None, value if value is not None else 0)


COLUMNS: tuple[Column, ...] = (
    Column("id", "#", 5, lambda i: str(i.id + 1), lambda i: i.id, 0, right=True),
    Column("state", "Status", 11, state_text, lambda i: i.state.value, 0),
    # Sorted by what the cell shows (a file's name, a link without https://), not the full source.
    Column("title", "Title", 16, row_label, lambda i: row_label(i).lower(), 0, flex=True),
    Column("kind", "Kind", 7, lambda i: i.kind, lambda i: i.kind, 8),
    Column(
        "duration",
        "Length",
        8,
        lambda i: hms(i.duration),
        lambda i: _none_last(i.duration),
        2,
        right=True,
    ),
    Column("stage", "Stage", 11, stage_text, lambda i: stage_text(i), 1),
    Column("progress", "%", 4, percent, lambda i: _none_last(i.progress), 5, right=True),
    Column(
        "attempts", "Try", 3, lambda i: str(i.attempts or ""), lambda i: i.attempts, 7, right=True
    ),
    Column(
        "elapsed",
        "Time",
        7,
        lambda i: hms(i.elapsed) if i.started_at else "",
        lambda i: _none_last(i.elapsed),
        3,
        right=True,
        live=True,
    ),
    Column("engine", "Engine", 10, lambda i: i.engine or "", lambda i: i.engine or "", 6),
    Column("error", "Error", 16, short_error, lambda i: i.error or "", 4, flex=True),
)


def column_named(key: str) -> Column:
    return next(c for c in COLUMNS if c.key == key)


# Stage, Length and Time may squeeze the title to its minimum width (a done row has an empty Stage
# and Error, so Length and Time come before Error); the other columns are only shown when the title
# and the error still get what they want. Without an Error column a failed row's Stage cell shows
# its error.
_ESSENTIAL = 3
TITLE_WANTS = 24
ERROR_WANTS = 24


def fit_columns(width: int) -> list[tuple[Column, int]]:
    """Fit the columns into ``width``: always #, Status and Title, then the rest by priority."""
    chosen = {c.key for c in COLUMNS if c.priority == 0}
    used = sum(c.width + 1 for c in COLUMNS if c.key in chosen) - 1
    title_min, error_min = column_named("title").width, column_named("error").width
    for column in sorted((c for c in COLUMNS if c.priority), key=lambda c: c.priority):
        reserve = 0
        if column.priority > _ESSENTIAL:
            reserve = TITLE_WANTS - title_min + ERROR_WANTS - error_min
        if used + column.width + 1 + reserve > width:
            break
        chosen.add(column.key)
        used += column.width + 1
    spare = max(0, width - used)
    extra = {"title": min(spare, TITLE_WANTS - title_min)}
    spare -= extra["title"]
    if "error" in chosen:
        extra["error"] = min(spare, ERROR_WANTS - error_min)
        spare -= extra["error"]
        extra["error"] += spare // 2
        spare -= spare // 2
    extra["title"] += spare
    return [(c, c.width + extra.get(c.key, 0)) for c in COLUMNS if c.key in chosen]
