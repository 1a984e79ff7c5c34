"""How cells read before and after an item is known: labels, durations, progress, errors."""

from __future__ import annotations

import pytest

from engine.items import Item, State
from tui.format import hms, percent, row_label, short_error, stage_text, state_text


@pytest.mark.parametrize(
    ("item", "label"),
    [
        (Item(0, "/home/ana/talks/2024/keynote.mp4", kind="file"), "keynote.mp4"),
        (Item(0, "talks/intro.mp3", kind="file", title="Intro: why"), "Intro: why"),
        (Item(0, "https://www.youtube.com/watch?v=abc", kind="youtube"), "youtube.com/watch?v=abc"),
        (Item(0, "http://feeds.example.org/ep1.mp3", kind="url"), "feeds.example.org/ep1.mp3"),
        (Item(0, "ftp://odd", kind="invalid"), "ftp://odd"),
    ],
)
def test_row_label_shows_what_tells_rows_apart(item: Item, label: str) -> None:
    assert row_label(item) == label


def test_durations_progress_and_states_read_without_colour() -> None:
    assert (hms(None), hms(59.6), hms(3723)) == ("--", "1:00", "1:02:03")
    long = Item(0, "a", state=State.RUNNING, stage="transcribe", chunks_total=4, chunks_done=1)
    assert (percent(long), stage_text(long), state_text(long)) == ("25%", "transcribe", "▶ running")
    waiting = long.evolve(state=State.WAITING)
    assert stage_text(waiting) == "rate limit" and state_text(waiting) == "⏳ waiting"
    failed = Item(0, "a", state=State.FAILED, error="HTTP 500 from the API\ntrace line")
    assert short_error(failed) == "HTTP 500 from the API" and percent(failed) == ""


def test_the_shared_quota_reads_with_whom_and_in_all() -> None:
    from engine.limits.stats import LimiterStats
    from tui.format import shared_quota_text

    base = dict(
        service="asr", spec="300/min", mode="shared", effective="300/min", factor=1.0,
        limit_per_min=300, effective_per_min=300, last_minute=20, paused_for=0, waiting=0,
        granted=20, throttled=0,
    )  # fmt: skip
    assert shared_quota_text(LimiterStats(**base, shared_with=3, quota_last_minute=212)) == (
        "quota shared with 3 other processes, 212/min in all"
    )
    assert (
        shared_quota_text(LimiterStats(**base, shared_with=1))
        == "quota shared with 1 other process"
    )
    assert shared_quota_text(LimiterStats(**base, shared_with=0, quota_last_minute=5)) == (
        "quota shared (alone), 5/min in all"
    )
