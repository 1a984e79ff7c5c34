"""Event kinds: what is kept, shown and coloured stays as it was, and a misspelt kind fails loudly."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.board import Board
from engine.events import Event, EventKind
from sessions.store import Store
from sessions.transfer import export_session, import_session
from tui.messages import ALERTS, BatchFinished, Blocked, alert_for

# The string sets the recorder, the headless run and the event log filtered by before EventKind.
USED_TO_BE_KEPT = {
    "blocked", "failed", "429", "retry", "rechunk", "playlist", "workers", "rate", "pause",
    "finished", "no-speech", "store", "daily-limit", "balance",
}  # fmt: skip
USED_TO_BE_SHOWN = {
    "failed", "429", "retry", "rechunk", "playlist", "no-speech", "captions", "daily-limit",
    "balance", "host",
}  # fmt: skip
USED_TO_BE_STYLED = {
    "failed": "red", "429": "yellow", "retry": "yellow", "finished": "green", "workers": "cyan",
    "rate": "cyan",
}  # fmt: skip


def test_kinds_kept_shown_and_coloured_as_before() -> None:
    assert {kind.value for kind in EventKind if kind.persist} == USED_TO_BE_KEPT
    assert {kind.value for kind in EventKind if kind.notify} == USED_TO_BE_SHOWN
    assert {kind.value: kind.style for kind in EventKind if kind.style} == USED_TO_BE_STYLED


def test_a_misspelt_kind_is_an_error_not_a_silent_drop() -> None:
    with pytest.raises(AttributeError):
        _ = EventKind.FIALED  # type: ignore[attr-defined]  # the typo this test is about
    board = Board()
    with pytest.raises(ValueError):
        board.post("fialed", "nobody would have seen this")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Event(0.0, "fialed", "")  # type: ignore[arg-type]


def test_a_kind_given_by_its_value_is_that_kind() -> None:
    board = Board()
    cursor = board.cursor()
    board.post("429", "from a caller not yet using EventKind")  # type: ignore[arg-type]
    (event,) = cursor.pull().events
    assert event.kind is EventKind.RATE_LIMITED and event.kind == "429"


def test_sessions_keep_the_string_value_and_read_back(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "sessions.db")
    sid = store.create_session(name="s", inputs=[], settings={}, output_dir=str(tmp_path))
    store.add_event(sid, EventKind.RETRY, "attempt 1 failed", 1.0)
    store.add_event(sid, "a kind of an older version", "kept as it was", 2.0)
    events = store.load_events(sid)
    assert [type(e.kind) for e in events] == [str, str]
    assert [EventKind.read(e.kind) for e in events] == [EventKind.RETRY, None]
    data = export_session(store, sid)
    assert [e["kind"] for e in data["events"]] == ["retry", "a kind of an older version"]
    again = import_session(Store.open(tmp_path / "other.db"), data)
    assert again


def test_every_alert_kind_becomes_a_message() -> None:
    assert set(ALERTS) == {kind for kind in EventKind if kind.alert}
    blocked = alert_for(Event(0.0, EventKind.BLOCKED, "paused: full disk"), 3.0)
    assert isinstance(blocked, Blocked) and blocked.text == "paused: full disk"
    finished = alert_for(Event(0.0, EventKind.FINISHED, "all items finished"), 7.5)
    assert isinstance(finished, BatchFinished) and finished.elapsed == 7.5
    assert alert_for(Event(0.0, EventKind.RETRY, "attempt 1 failed"), 0.0) is None
